"""compare: is a variant's BLEU gain over final_state real or noise? sacrebleu's paired bootstrap
test (the one `sacrebleu --paired-bs` runs) of every other variant against the baseline, over
each whole test set and within each source-length bucket (the buckets of the evaluate stage:
the same edges and merging, which depend on the sources only).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.atomic import write_json_atomic
from nmt_bottleneck.data.corpus import load_corpus
from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.errors import DataError
from nmt_bottleneck.eval.bleu import check_aligned, paired_bootstrap
from nmt_bottleneck.eval.buckets import assign, make_buckets, merge_small
from pipelines.stage import load_params, run

log = logging.getLogger("nmt_bottleneck")
logging.getLogger("sacrebleu").setLevel(logging.WARNING)  # one line per test is enough

BASELINE = "final_state"


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    params = load_params(args.params)
    corpus = load_corpus(args.corpus)
    variants = list(params.variants)
    if BASELINE not in variants:
        raise DataError(f"no `{BASELINE}` variant in params.yaml (variants: {variants}).")
    result: dict[str, dict] = {"baseline": BASELINE, "test_sets": {}}
    for name in params.data.test_sets:
        srcs, refs = list(corpus[name]["src"]), list(corpus[name]["tgt"])
        hyps = {v: read_hyps(args.evaluations / v / f"{name}.hyp", refs) for v in variants}
        lengths = [word_count(s) for s in srcs]
        buckets = merge_small(
            make_buckets(list(params.eval.bucket_edges)), lengths, params.eval.min_bucket
        )
        where = assign(lengths, buckets)
        tests = {}
        for v in variants:
            if v == BASELINE:
                continue
            rows = [test(hyps[BASELINE], hyps[v], refs, None, params)]
            for k, bucket in enumerate(buckets):
                chosen = [i for i, b in enumerate(where) if b == k]
                rows.append(test(hyps[BASELINE], hyps[v], refs, chosen, params, bucket.label))
            tests[v] = rows
            log.info("%s %s vs %s: p = %.4f overall", name, v, BASELINE, rows[0]["p_value"])
        result["test_sets"][name] = tests
    write_json_atomic(result, args.out)


def test(base, system, refs, rows, params, label: str = "all") -> dict:
    """One paired bootstrap test over the sentences `rows` (None: all)."""
    if rows is not None:
        base, system, refs = ([x[i] for i in rows] for x in (base, system, refs))
    paired = paired_bootstrap(base, system, refs, params.eval.bootstrap_samples, seed=12345)
    return {
        "bucket": label,
        "n": len(refs),
        "baseline_bleu": round(paired.baseline_bleu, 4),
        "system_bleu": round(paired.system_bleu, 4),
        "p_value": round(paired.p_value, 5),
    }


def read_hyps(path: Path, refs: list[str]) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: no hypotheses. Fix: run `dvc repro evaluate@{path.parent.name}`.")
    hyps = path.read_text(encoding="utf-8").split("\n")[:-1]
    check_aligned(hyps, refs, str(path), f"the references of {path.stem}")
    return hyps


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--evaluations", type=Path, required=True, help="evaluations/")
    parser.add_argument("--out", type=Path, required=True, help="significance JSON")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(main)
