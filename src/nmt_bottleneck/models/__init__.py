"""The three encoder-decoders: one encoder, one decoder, and the context module that differs.

Shapes use fixed letters: B batch, S source length, T target length, E embedding size,
H hidden size, V vocabulary, C context size, A attention size, L maximum source length.
"""
