"""Fixtures of the decoding tests (test_translate.py, test_device.py): a small tokenizer and a
few real test sentences from the Hansard corpus."""

from __future__ import annotations

import gzip
import itertools

import pytest

from nmt_bottleneck.data.tokenizer import SubwordTrainer


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
