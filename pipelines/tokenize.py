"""DVC stage `tokenize`: filter training pairs by length in words, train the subword model(s) on
the kept training pairs only, encode every split, and write the tokenizer, the encoded
DatasetDict, the statistics (a DVC metric) and the source-length histogram (a DVC plot)."""

from __future__ import annotations

import argparse
import csv
import io
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.atomic import atomic_dir, write_json_atomic, write_text_atomic
from nmt_bottleneck.config import build
from nmt_bottleneck.data.corpus import load_corpus
from nmt_bottleneck.data.encode import (
    add_word_counts,
    encode,
    filter_by_length,
    length_histogram,
    split_stats,
)
from pipelines.stage import load_params, run

log = logging.getLogger("nmt_bottleneck.tokenize")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--corpus", type=Path, required=True, help="download stage output")
    parser.add_argument("--tokenizer", type=Path, required=True, help="folder for the models")
    parser.add_argument("--out", type=Path, required=True, help="encoded DatasetDict folder")
    parser.add_argument("--stats", type=Path, required=True, help="statistics JSON")
    parser.add_argument("--histogram", type=Path, required=True, help="length histogram CSV")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    trainer = build(params.tokenizer, "tokenizer")
    corpus = add_word_counts(load_corpus(args.corpus))
    pairs_in = {name: split.num_rows for name, split in corpus.items()}
    corpus["train"], dropped = filter_by_length(
        corpus["train"], params.data.min_len, params.data.max_len
    )
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
    with atomic_dir(args.tokenizer) as tmp:
        tokenizers = trainer.train(corpus["train"]["src"], corpus["train"]["tgt"], tmp)
    log.info("tokenizer trained in %.0f s", time.perf_counter() - started)
    encoded = encode(corpus, tokenizers)
    with atomic_dir(args.out) as tmp:
        encoded.save_to_disk(str(tmp))

    stats = {
        "filter": {
            "min_len": params.data.min_len,
            "max_len": params.data.max_len,
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
    write_json_atomic(stats, args.stats)
    write_text_atomic(to_csv(length_histogram(encoded)), args.histogram)
    log.info("wrote %s, %s, %s and %s", args.tokenizer, args.out, args.stats, args.histogram)


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


if __name__ == "__main__":
    run(main)
