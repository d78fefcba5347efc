"""Fixtures for model and training tests: a small tokenized corpus made by the pipeline's own
code (synthetic source -> word counts -> SentencePiece -> encode)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import lightning as L
import numpy as np
import pytest
import torch

from nmt_bottleneck.data.encode import add_word_counts, encode
from nmt_bottleneck.data.sources.synthetic import SyntheticSource
from nmt_bottleneck.data.tokenizer import SubwordTrainer


@pytest.fixture(scope="session")
def tokenized(tmp_path_factory) -> tuple[str, int]:
    """(the encoded DatasetDict folder, the vocabulary size); the tokenizer is its parent."""
    out = tmp_path_factory.mktemp("data")
    corpus = SyntheticSource(60, 1, 12, 3, 1.0, {"train": 600, "valid": 60}, 3).load().splits
    corpus = add_word_counts(corpus)
    tokenizers = SubwordTrainer("unigram", 400, True, 1.0, 10_000, 1, 2).train(
        corpus["train"]["src"], corpus["train"]["tgt"], out
    )
    encode(corpus, tokenizers).save_to_disk(str(out / "tokenized"))
    return str(out / "tokenized"), tokenizers.src.get_piece_size()


@pytest.fixture
def seeded() -> Iterator[int]:
    """L.seed_everything(0) for one test, and the global random state (Python's, NumPy's,
    torch's, the PL_* variables) put back afterwards: later tests must not depend on it."""
    state = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    env = {k: os.environ.get(k) for k in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")}
    L.seed_everything(0, verbose=False)
    yield 0
    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
