"""The tokenize stage's work: filter the training pairs by length in words, train the subword
model(s) on the kept training pairs only, encode every split, and measure the result (the
statistics and the source-length histogram). `save_tokenized` writes what it made."""

from __future__ import annotations

import csv
import io
import logging
import time
from pathlib import Path
from typing import Any, NamedTuple

import datasets

from nmt_bottleneck.atomic import atomic_dir, write_json_atomic, write_text_atomic
from nmt_bottleneck.data.corpus import column
from nmt_bottleneck.data.encode import (
    add_word_counts,
    encode,
    filter_by_length,
    length_histogram,
    split_stats,
)
from nmt_bottleneck.data.tokenizer import SubwordTrainer, Tokenizers

log = logging.getLogger(__name__)


class TokenizedCorpus(NamedTuple):
    """What `tokenize_corpus` made: the tokenizers (already saved in the folder it was given),
    the encoded splits, the statistics (a DVC metric) and the length histogram rows."""

    tokenizers: Tokenizers
    encoded: datasets.DatasetDict
    stats: dict[str, Any]
    histogram: list[dict[str, Any]]


def tokenize_corpus(
    corpus: datasets.DatasetDict,
    min_len: int,
    max_len: int,
    trainer: SubwordTrainer,
    tokenizer_dir: Path,
) -> TokenizedCorpus:
    """Filter `corpus["train"]` to `min_len`..`max_len` words on both sides, train `trainer` on
    it, saving the model(s) in `tokenizer_dir`, and encode every split (evaluation splits are
    never filtered). Raises ConfigError/DataError for a filter no pair passes."""
    corpus = add_word_counts(corpus)
    pairs_in = {name: split.num_rows for name, split in corpus.items()}
    corpus["train"], dropped = filter_by_length(corpus["train"], min_len, max_len)
    log.info(
        "train: kept %d of %d pairs (%s)", corpus["train"].num_rows, pairs_in["train"], dropped
    )
    log.info(
        "training the %s tokenizer (%s, vocab <= %d) on %d pairs; this takes a few minutes "
        "on a large corpus",
        "joint" if trainer.joint else "separate",
        trainer.model_type,
        trainer.vocab_size,
        corpus["train"].num_rows,
    )
    started = time.perf_counter()
    train = corpus["train"]
    tokenizers = trainer.train(column(train, "src"), column(train, "tgt"), tokenizer_dir)
    log.info("tokenizer trained in %.0f s", time.perf_counter() - started)
    encoded = encode(corpus, tokenizers)
    stats = {
        "filter": {
            "min_len": min_len,
            "max_len": max_len,
            "unit": "whitespace words",
            "applies_to": ["train"],
        },
        "vocab": {
            "src": tokenizers.src.get_piece_size(),
            "tgt": tokenizers.tgt.get_piece_size(),
            "joint": tokenizers.joint,
        },
        "splits": {
            name: {
                "pairs_in": pairs_in[name],
                **split_stats(split),
                "dropped": dropped if name == "train" else {},
            }
            for name, split in encoded.items()
        },
    }
    return TokenizedCorpus(tokenizers, encoded, stats, length_histogram(encoded))


def save_tokenized(tokenized: TokenizedCorpus, out: Path, stats: Path, histogram: Path) -> None:
    """Write the encoded DatasetDict (`out`), the statistics JSON and the histogram CSV, each
    atomically (`nmt_bottleneck.atomic`)."""
    with atomic_dir(out) as tmp:
        tokenized.encoded.save_to_disk(str(tmp))
    write_json_atomic(tokenized.stats, stats)
    write_text_atomic(histogram_csv(tokenized.histogram), histogram)


def histogram_csv(rows: list[dict[str, Any]]) -> str:
    """The histogram rows as CSV text, the first row's keys as the header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
