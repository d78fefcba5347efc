"""The encoder-decoder: encoder -> context module -> decoder. Only the context module differs
between the variants; the pieces are checked to fit at construction, through the context
module's contract (models/context.py), so a size mismatch in the config fails before any
training."""

from __future__ import annotations

from torch import Tensor, nn

from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.models.context import ContextModule, Memory
from nmt_bottleneck.models.decoder import Decoder, DecoderOutput
from nmt_bottleneck.models.encoder import Encoder


class Seq2Seq(nn.Module):
    def __init__(self, encoder: Encoder, context: ContextModule, decoder: Decoder) -> None:
        super().__init__()
        fits = [
            (
                "model.context.encoder_size",
                context.encoder_size,
                encoder.out_size,
                "the encoder's state size (hidden_size x directions)",
            ),
            (
                "model.decoder.context_size",
                decoder.context_size,
                context.size,
                "the context module's output size",
            ),
            (
                "model.decoder.summary_size",
                decoder.summary_size,
                context.summary_size,
                "the context module's summary size",
            ),
        ]
        if context.query_size is not None:  # the context reads the decoder state as query
            fits.append(
                (
                    "model.context.query_size",
                    context.query_size,
                    decoder.hidden_size,
                    "the decoder's hidden size",
                )
            )
        for key, got, want, what in fits:
            if got != want:
                raise ConfigError(f"{key} = {got} but it must equal {what}, {want}.")
        self.encoder, self.context, self.decoder = encoder, context, decoder

    def encode(self, src: Tensor, src_lens: Tensor) -> Memory:
        """src [B, S], src_lens [B] -> the context module's Memory (once per batch)."""
        return self.context.prepare(self.encoder(src, src_lens))

    def forward(self, src: Tensor, src_lens: Tensor, tgt_in: Tensor) -> DecoderOutput:
        """Teacher forcing: logits [B, T, V] for tgt_in [B, T] (and attention weights)."""
        return self.decoder(tgt_in, self.encode(src, src_lens), self.context)
