"""Decoding throughput of trained variants: sentences per second, greedy and beam, on a test
split, side by side in one process (the same `translate` the evaluate stage uses). Prints a
table; `--json FILE` also writes it.

    python benchmarks/decode_throughput.py --models models --seed 1234 --corpus data/corpus \\
        --split test --tokenizer data/tokenizer --sentences 1000
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import datasets
import torch

from nmt_bottleneck.allocator import keep_freed_memory
from nmt_bottleneck.data.tokenizer import load_tokenizers
from nmt_bottleneck.eval.bleu import corpus_scores
from nmt_bottleneck.eval.translate import DecodeSettings, load_model, translate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument(
        "--variants", nargs="+", default=["final_state", "concat_states", "attention"]
    )
    parser.add_argument("--seed", default="1234", help="the models are <models>/<variant>/<seed>")
    parser.add_argument("--searches", nargs="+", default=["greedy", "beam"])
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--tokenizer", type=Path, default=Path("data/tokenizer"))
    parser.add_argument("--sentences", type=int, default=0, help="0: the whole split")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=6000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    keep_freed_memory()  # as the evaluate stage does ($NMT_KEEP_FREED=0: not)
    split = datasets.load_from_disk(str(args.corpus))[args.split]
    n = args.sentences or split.num_rows
    srcs, refs = list(split["src"][:n]), list(split["tgt"][:n])
    tokenizers = load_tokenizers(args.tokenizer)
    rows = []
    for variant in args.variants:
        model, _ = load_model(args.models / variant / args.seed)
        for search in args.searches:
            settings = DecodeSettings(search, args.beam, 1.0, 1.5, args.max_tokens)
            started = time.perf_counter()
            out = translate(model, tokenizers, srcs, settings, progress=None)
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "variant": variant,
                    "search": search if search == "greedy" else f"beam {args.beam}",
                    "sentences": n,
                    "sentences_per_s": n / seconds,
                    "bleu": corpus_scores(out.hyps, refs).bleu,
                    "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                }
            )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, split {args.split}\n")
    print("| variant | search | sentences | sentences/s | BLEU | peak RSS so far |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['search']} | {r['sentences']:,} | {r['sentences_per_s']:.1f} "
            f"| {r['bleu']:.2f} | {r['peak_rss_gb']:.1f} GB |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
