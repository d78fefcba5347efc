"""A generated translation task whose difficulty grows with sentence length, for tests and demos.

Source sentences are pseudo-words drawn from a Zipfian vocabulary, with uniformly distributed
lengths. The "translation" maps each source word to its own target word (a fixed random
bijection) and reverses every window of `reorder_window` words (local reordering, as between
English and French adjective-noun order). Word order and identity must both survive the
encoder, so a model that keeps one fixed-size vector per sentence (final_state) degrades as the
sentence grows, while attention can look each word up. Everything is a pure function of `seed`.
"""

from __future__ import annotations

import random
from itertools import accumulate

import datasets

from nmt_bottleneck.data.corpus import Corpus, pairs_to_split
from nmt_bottleneck.errors import DataError

SRC_ONSETS = "b d f g k l m n p r s t v z".split()
TGT_ONSETS = "ch gr j pl qu tr br fl cl pr vr sl".split()
VOWELS = "a e i o u ou ai eu".split()
MAX_VOCAB = 50_000  # far below the ~885k distinct 1-3 syllable target words


class SyntheticSource:
    """Deterministic synthetic parallel corpus.

    Args:
        vocab_size: distinct words per language.
        min_len, max_len: source sentence length range in words (inclusive).
        reorder_window: the target reverses each window of this many words (1 = monotone).
        zipf_s: exponent of the Zipfian word distribution (0 = uniform).
        sizes: output split name -> number of pairs, e.g. {"train": 20000, "test": 2000}.
        seed: the only source of randomness.
    """

    def __init__(
        self,
        vocab_size: int,
        min_len: int,
        max_len: int,
        reorder_window: int,
        zipf_s: float,
        sizes: dict[str, int],
        seed: int,
    ) -> None:
        if not 1 <= min_len <= max_len:
            raise DataError(
                f"synthetic lengths need 1 <= min_len <= max_len, got {min_len}, "
                f"{max_len}. Fix: data.source.min_len / data.source.max_len."
            )
        if not 2 <= vocab_size <= MAX_VOCAB or reorder_window < 1 or zipf_s < 0:
            raise DataError(
                f"synthetic data needs 2 <= vocab_size <= {MAX_VOCAB}, reorder_window >= 1 and "
                f"zipf_s >= 0; got {vocab_size}, {reorder_window}, {zipf_s}."
            )
        if "train" not in sizes or any(n <= 0 for n in sizes.values()):
            raise DataError(f"data.source.sizes needs a `train` split and sizes > 0: {sizes}.")
        self.vocab_size, self.min_len, self.max_len = vocab_size, min_len, max_len
        self.reorder_window, self.zipf_s = reorder_window, zipf_s
        self.sizes, self.seed = dict(sizes), seed

    def load(self) -> Corpus:
        rng = random.Random(f"{self.seed}/vocabulary")
        src_vocab = make_vocab(rng, SRC_ONSETS, self.vocab_size)
        tgt_vocab = make_vocab(rng, TGT_ONSETS, self.vocab_size)
        rng.shuffle(tgt_vocab)  # the bijection: src_vocab[i] -> tgt_vocab[i]
        weights = list(
            accumulate(1.0 / (rank + 1) ** self.zipf_s for rank in range(self.vocab_size))
        )
        splits, dropped = {}, {}
        for split, n in self.sizes.items():
            rng = random.Random(f"{self.seed}/{split}")  # a split does not depend on the others
            src, tgt = [], []
            for _ in range(n):
                length = rng.randint(self.min_len, self.max_len)
                ids = rng.choices(range(self.vocab_size), cum_weights=weights, k=length)
                src.append(" ".join(src_vocab[i] for i in ids))
                tgt.append(" ".join(tgt_vocab[i] for i in reorder(ids, self.reorder_window)))
            splits[split], dropped[split] = pairs_to_split(src, tgt, range(1, n + 1), split)
        provenance = {
            "type": "synthetic",
            "seed": self.seed,
            "vocab_size": self.vocab_size,
            "min_len": self.min_len,
            "max_len": self.max_len,
            "reorder_window": self.reorder_window,
            "zipf_s": self.zipf_s,
        }
        return Corpus(datasets.DatasetDict(splits), dropped, provenance)


def make_vocab(rng: random.Random, onsets: list[str], size: int) -> list[str]:
    """`size` distinct pseudo-words (onset + vowel syllables): the first 50, the most frequent
    under the Zipfian draw, have 1-2 syllables, the rest 1-3."""
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        syllables = rng.choice((1, 2, 2, 3, 3)) if len(words) > 50 else rng.choice((1, 2))
        word = "".join(rng.choice(onsets) + rng.choice(VOWELS) for _ in range(syllables))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def reorder(ids: list[int], window: int) -> list[int]:
    """Reverse each consecutive window of `window` items (the last window may be shorter)."""
    return [
        i for start in range(0, len(ids), window) for i in reversed(ids[start : start + window])
    ]
