"""DVC stage `tokenize`: filter training pairs by length in words, train the subword model(s) on
the kept training pairs only, encode every split, and write the tokenizer, the encoded
DatasetDict, the statistics (a DVC metric) and the source-length histogram (a DVC plot)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.atomic import atomic_dir
from nmt_bottleneck.config import build
from nmt_bottleneck.data.corpus import load_corpus
from nmt_bottleneck.data.tokenize import save_tokenized, tokenize_corpus
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
    corpus = load_corpus(args.corpus)
    with atomic_dir(args.tokenizer) as tmp:
        tokenized = tokenize_corpus(corpus, params.data.min_len, params.data.max_len, trainer, tmp)
    save_tokenized(tokenized, args.out, args.stats, args.histogram)
    log.info("wrote %s, %s, %s and %s", args.tokenizer, args.out, args.stats, args.histogram)


if __name__ == "__main__":
    run(main)
