"""`translate`, the evaluate stage's decoding loop: it sorts sentences into length batches and
back, so each sentence's output and its kept attention weights must be the ones it gets when
translated alone, whatever batch it lands in; a model whose context module accepts at most L
source tokens (`max_src_len`) gets longer sources cut to L and counted."""

from __future__ import annotations

import pytest
import torch

from nmt_bottleneck.data.tokenizer import EOS_ID
from nmt_bottleneck.eval.translate import DecodeSettings, search, translate
from tests.models.variants import ALIGNING, BOUNDED, VARIANTS, make_model, model_for


@pytest.mark.parametrize("search", ["greedy", "beam"])
@pytest.mark.parametrize("variant", ALIGNING)
def test_each_sentence_gets_its_own_output_and_attention(tokenizers, sentences, variant, search):
    model = model_for(variant, vocab=tokenizers.src.get_piece_size())
    settings = DecodeSettings(search, 3, 1.0, 1.2, 120)  # small batches: several, reordered
    keep = {2, 7, 11}
    together = translate(model, tokenizers, sentences, settings, keep, progress=None)
    assert set(together.attention) == keep
    assert len({len(t) for t in together.tokens}) > 1  # the outputs differ from each other
    for i, sentence in enumerate(sentences):
        alone = translate(model, tokenizers, [sentence], settings, {0}, progress=None)
        assert together.tokens[i] == alone.tokens[0]
        assert together.hyps[i] == alone.hyps[0]
        if i in keep:
            torch.testing.assert_close(together.attention[i], alone.attention[0])


@pytest.mark.parametrize("variant", VARIANTS)
def test_sources_longer_than_the_context_accepts_are_cut_and_counted(
    tokenizers, sentences, variant
):
    """L = 12 tokens for a bounded context module (concat_states): every longer source is cut
    to its first 11 pieces and EOS, and its output is that of the cut source searched alone;
    an unbounded one reads every source whole."""
    vocab = tokenizers.src.get_piece_size()
    torch.manual_seed(0)
    model = make_model(variant, vocab=vocab, max_src_len=12).eval()
    limit = model.context.max_src_len
    settings = DecodeSettings("greedy", 1, 1.0, 1.2, 120)
    out = translate(model, tokenizers, sentences, settings, progress=None)
    pieces = tokenizers.src.encode(sentences)
    longer = [i for i, p in enumerate(pieces) if len(p) + 1 > 12]  # + EOS
    assert (limit is None) == (variant not in BOUNDED) and len(longer) > 1
    assert out.truncated == (0 if limit is None else len(longer))
    if limit is not None:
        for i in longer:
            cut = torch.tensor([[*pieces[i][:11], EOS_ID]])  # [1, 12]
            alone = search(model, cut, torch.tensor([12]), settings, [])
            assert alone.tokens[0] == out.tokens[i]
    assert EOS_ID not in {t for tokens in out.tokens for t in tokens}
