"""`translate`, the evaluate stage's decoding loop: it sorts sentences into length batches and
back, so each sentence's output and its kept attention weights must be the ones it gets when
translated alone, whatever batch it lands in."""

from __future__ import annotations

import gzip
import itertools

import pytest
import torch

from nmt_bottleneck.data.tokenizer import SubwordTrainer
from nmt_bottleneck.eval.translate import DecodeSettings, translate
from tests.models.test_search import model_for


@pytest.fixture(scope="module")
def tokenizers(corpora, tmp_path_factory):
    """A small joint vocabulary trained on the first 3,000 Hansard training pairs."""
    lines = {}
    for lang in ("en", "fr"):
        with gzip.open(corpora / "hansard_enfr" / f"train.{lang}.gz", "rt", encoding="utf-8") as f:
            lines[lang] = [s.rstrip("\n") for s in itertools.islice(f, 3000)]
    trainer = SubwordTrainer("unigram", 400, True, 1.0, 100_000, 1, 1)
    return trainer.train(lines["en"], lines["fr"], tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="module")
def sentences(corpora) -> list[str]:
    with gzip.open(corpora / "hansard_enfr" / "test_unseen.en.gz", "rt", encoding="utf-8") as f:
        return [s.rstrip("\n") for s in itertools.islice(f, 12)]


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_each_sentence_gets_its_own_output_and_attention(tokenizers, sentences, search):
    model = model_for("attention", vocab=tokenizers.src.get_piece_size())
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
