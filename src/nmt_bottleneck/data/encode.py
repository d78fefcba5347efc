"""Length filtering and subword encoding of a corpus, with the statistics the stage reports.

Columns added: `src_words`, `tgt_words` (whitespace words, `length.word_count`), and `src_ids`,
`tgt_ids` (int32 subword ids, no BOS/EOS). Raw text and the original line number stay next to
the ids, so every encoded pair can be traced to its input line.

All maps run `keep_in_memory`: nothing is written into the input dataset's folder (a DVC
output of the previous stage) and the only files written are the stage's declared outputs.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from typing import Any

import datasets
import numpy as np
import pyarrow.compute as pc

from nmt_bottleneck.data.corpus import column
from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.data.tokenizer import UNK_ID, Tokenizers
from nmt_bottleneck.errors import ConfigError, DataError

BATCH = 10_000


def add_word_counts(corpus: datasets.DatasetDict) -> datasets.DatasetDict:
    """Add `src_words` and `tgt_words` to every split."""

    def count(batch: dict[str, list]) -> dict[str, list[int]]:
        return {
            "src_words": [word_count(s) for s in batch["src"]],
            "tgt_words": [word_count(t) for t in batch["tgt"]],
        }

    return corpus.map(
        count, batched=True, batch_size=BATCH, keep_in_memory=True, desc="count words"
    )


def filter_by_length(
    split: datasets.Dataset, min_len: int, max_len: int
) -> tuple[datasets.Dataset, dict[str, int]]:
    """Keep pairs with min_len <= words <= max_len on both sides (the paper's RNNsearch-50 keeps
    pairs of at most 50 words). Returns the kept pairs and drop counts per reason; a pair can
    have two reasons, so `dropped_pairs` is the number of pairs removed."""
    if not 1 <= min_len <= max_len:
        raise ConfigError(
            f"data.min_len = {min_len}, data.max_len = {max_len}: need 1 <= min_len <= max_len."
        )
    src_words, tgt_words = column(split, "src_words"), column(split, "tgt_words")
    reasons = Counter()
    keep: list[int] = []
    for i, (s, t) in enumerate(zip(src_words, tgt_words, strict=True)):
        bad = [
            name
            for name, hit in (
                ("source_too_long", s > max_len),
                ("target_too_long", t > max_len),
                ("source_too_short", s < min_len),
                ("target_too_short", t < min_len),
            )
            if hit
        ]
        reasons.update(bad)
        if not bad:
            keep.append(i)
    if not keep:
        raise DataError(
            f"no training pair has {min_len}-{max_len} words on both sides. "
            "Fix: raise data.max_len or check the corpus."
        )
    dropped = {
        r: reasons.get(r, 0)
        for r in ("source_too_long", "target_too_long", "source_too_short", "target_too_short")
    }
    dropped["dropped_pairs"] = len(src_words) - len(keep)
    return split.select(keep, keep_in_memory=True), dropped


def encode(
    corpus: datasets.DatasetDict, tokenizers: Tokenizers, threads: int | None = None
) -> datasets.DatasetDict:
    """Add `src_ids` and `tgt_ids` (int32, no BOS/EOS) to every split, in batches; SentencePiece
    encodes each batch on `threads` threads (default: all cores; the ids do not depend on it)."""
    threads = threads or os.cpu_count() or 1

    def encode_batch(batch: dict[str, list]) -> dict[str, list[list[int]]]:
        return {
            "src_ids": tokenizers.src.encode(batch["src"], out_type=int, num_threads=threads),
            "tgt_ids": tokenizers.tgt.encode(batch["tgt"], out_type=int, num_threads=threads),
        }

    out = {}
    for name, split in corpus.items():
        features = split.features.copy()
        features["src_ids"] = datasets.List(datasets.Value("int32"))
        features["tgt_ids"] = datasets.List(datasets.Value("int32"))
        out[name] = split.map(
            encode_batch,
            new_fingerprint=encoded_fingerprint(split, tokenizers),
            batched=True,
            batch_size=BATCH,
            features=features,
            keep_in_memory=True,
            desc=f"encode {name}",
        )
    return datasets.DatasetDict(out)


def encoded_fingerprint(split: datasets.Dataset, tokenizers: Tokenizers) -> str:
    """The encoded split's fingerprint, from its input and the tokenizer models only. `datasets`
    would otherwise hash the map function's closure, thread count included, and the saved
    dataset (and so DVC's hash of it) would differ between machines with different core counts.
    """
    digest = hashlib.sha256(f"encode/v1/{split._fingerprint}".encode())
    digest.update(tokenizers.src.serialized_model_proto())
    digest.update(tokenizers.tgt.serialized_model_proto())
    return digest.hexdigest()[:16]


def token_counts(split: datasets.Dataset, column: str) -> np.ndarray:
    """Tokens per row of an id column, computed in Arrow: a Python pass over 900k id lists takes
    about 11 s here, this a few milliseconds. Respects a split's row selection."""
    return pc.list_value_length(split.with_format("arrow")[column]).to_numpy()


def split_stats(split: datasets.Dataset) -> dict[str, Any]:
    """Sizes of one encoded split: pairs, words and subword tokens per side, unknown tokens."""
    n = max(split.num_rows, 1)
    src_words = split.with_format("arrow")["src_words"].to_numpy()
    src_tokens, tgt_tokens = token_counts(split, "src_ids"), token_counts(split, "tgt_ids")
    tgt_ids = pc.list_flatten(split.with_format("arrow")["tgt_ids"])
    return {
        "pairs": split.num_rows,
        "src_words_mean": round(int(src_words.sum()) / n, 3),
        "src_words_max": int(src_words.max(initial=0)),
        "src_tokens_mean": round(int(src_tokens.sum()) / n, 3),
        "src_tokens_max": int(src_tokens.max(initial=0)),
        "tgt_tokens_mean": round(int(tgt_tokens.sum()) / n, 3),
        "tgt_tokens_max": int(tgt_tokens.max(initial=0)),
        "tgt_unk_tokens": int(pc.sum(pc.equal(tgt_ids, UNK_ID)).as_py() or 0),
    }


def length_histogram(corpus: datasets.DatasetDict) -> list[dict[str, Any]]:
    """One row per source length in words: the percentage of each split's pairs of that length
    (percentages, so a 5k-pair test set and a 900k-pair training set share one plot)."""
    counts = {name: Counter(column(split, "src_words")) for name, split in corpus.items()}
    lengths = sorted(set().union(*counts.values()))
    return [
        {"src_words": k}
        | {name: round(100 * c[k] / corpus[name].num_rows, 4) for name, c in counts.items()}
        for k in lengths
    ]
