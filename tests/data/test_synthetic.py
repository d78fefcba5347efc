"""The synthetic task: deterministic from its seed, lengths in range, and the target is exactly
a word bijection of the source with every window of `reorder_window` words reversed."""

from __future__ import annotations

import pytest

from nmt_bottleneck.data.sources.synthetic import SyntheticSource
from nmt_bottleneck.errors import DataError

ARGS = dict(
    vocab_size=300,
    min_len=1,
    max_len=60,
    reorder_window=3,
    zipf_s=1.0,
    sizes={"train": 400, "test": 100},
    seed=5,
)


def load(**changes):
    return SyntheticSource(**{**ARGS, **changes}).load().splits


def test_same_seed_same_corpus_other_seed_other_corpus():
    a, b, c = load(), load(), load(seed=6)
    assert a["train"]["src"] == b["train"]["src"] and a["test"]["tgt"] == b["test"]["tgt"]
    assert a["train"]["src"] != c["train"]["src"]


def test_lengths_span_the_configured_range():
    train = load(sizes={"train": 3000})["train"]
    lengths = [len(s.split()) for s in train["src"]]
    assert min(lengths) == ARGS["min_len"] and max(lengths) == ARGS["max_len"]
    assert [len(t.split()) for t in train["tgt"]] == lengths


@pytest.mark.parametrize("window", [1, 3, 4])
def test_target_is_a_bijection_with_local_reordering(window):
    train = load(reorder_window=window)["train"]
    mapping: dict[str, str] = {}
    for src, tgt in zip(train["src"], train["tgt"], strict=True):
        s, t = src.split(), tgt.split()
        # undo the reordering independently: reverse each window of the target back
        undone = [w for i in range(0, len(t), window) for w in t[i : i + window][::-1]]
        for sw, tw in zip(s, undone, strict=True):
            assert mapping.setdefault(sw, tw) == tw, f"{sw} maps to two target words"
    assert len(set(mapping.values())) == len(mapping)  # injective
    assert len(mapping) > 100  # many words actually occur


def test_bad_settings_are_refused():
    with pytest.raises(DataError, match="min_len <= max_len"):
        load(min_len=10, max_len=5)
    with pytest.raises(DataError, match="train"):
        load(sizes={"test": 10})


def test_a_split_does_not_depend_on_the_other_splits_sizes():
    """Run profiles change the training size; the test set must stay the same."""
    small, large = load(sizes={"train": 50, "test": 100}), load(sizes={"train": 900, "test": 100})
    assert small["test"]["src"] == large["test"]["src"]
    assert small["train"]["src"] == large["train"]["src"][:50]
