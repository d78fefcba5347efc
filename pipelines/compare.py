"""compare: over every (variant, seed)'s hypotheses, each variant's curve over its seeds and the
two-level paired bootstrap (sentences and seeds) of every variant against the baseline
(`judge.baseline`) and of the pairs the claims compare, over each test set and within each
source-length bucket (`nmt_bottleneck.eval.compare.compare_variants`); writes the significance
JSON.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.atomic import write_json_atomic
from nmt_bottleneck.eval.compare import compare_variants
from pipelines.stage import load_params, run

logging.getLogger("sacrebleu").setLevel(logging.WARNING)  # one line per test is enough


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    params = load_params(args.params)
    significance = compare_variants(
        list(params.variants),
        list(params.seeds),
        params.judge,
        list(params.data.test_sets),
        params.eval,
        corpus=args.corpus,
        evaluations=args.evaluations,
    )
    write_json_atomic(significance.to_json(), args.out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument(
        "--evaluations", type=Path, required=True, help="evaluations/ (<variant>/<seed>/)"
    )
    parser.add_argument("--out", type=Path, required=True, help="significance JSON")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(main)
