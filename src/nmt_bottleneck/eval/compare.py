"""Is a variant's BLEU gain over the baseline real or noise? sacrebleu's paired bootstrap test
(the one `sacrebleu --paired-bs` runs) of every other variant against the baseline
(`judge.baseline`), over each whole test set and within each source-length bucket (the buckets
of the evaluate stage: the same edges and merging, which depend on the sources only).

`compare_variants` is the compare stage's work; its result, `significance.Significance`, is
`reports/significance.json`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from nmt_bottleneck.data.corpus import load_corpus
from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.errors import ConfigError, DataError
from nmt_bottleneck.eval.bleu import check_aligned, paired_bootstrap
from nmt_bottleneck.eval.buckets import assign, length_buckets
from nmt_bottleneck.eval.significance import PairedRow, Significance

log = logging.getLogger(__name__)


def compare_variants(
    variants: Sequence[str],
    baseline: str,
    test_sets: Sequence[str],
    eval_cfg: DictConfig,
    *,
    corpus: Path,
    evaluations: Path,
) -> Significance:
    """Paired tests of each of `variants` but `baseline` against it, on the hypotheses the
    evaluate stage wrote to `evaluations/<variant>/<test_set>.hyp`, with the references of the
    download stage's `corpus`; `eval.bootstrap_samples` resamples seeded with
    `eval.bootstrap_seed`."""
    if baseline not in variants:
        raise ConfigError(
            f"judge.baseline = {baseline!r} is not a variant (variants: {', '.join(variants)}). "
            "Fix: set judge.baseline in conf/config.yaml to one of them."
        )
    splits = load_corpus(corpus)
    result: dict[str, dict[str, list[PairedRow]]] = {}
    for name in test_sets:
        srcs, refs = list(splits[name]["src"]), list(splits[name]["tgt"])
        hyps = {v: read_hyps(evaluations / v / f"{name}.hyp", refs) for v in variants}
        lengths = [word_count(s) for s in srcs]
        buckets = length_buckets(lengths, eval_cfg.bucket_edges, eval_cfg.min_bucket)
        where = assign(lengths, buckets)
        tests = {}
        for v in variants:
            if v == baseline:
                continue
            rows = [paired(hyps[baseline], hyps[v], refs, None, eval_cfg)]
            for k, bucket in enumerate(buckets):
                chosen = [i for i, b in enumerate(where) if b == k]
                rows.append(paired(hyps[baseline], hyps[v], refs, chosen, eval_cfg, bucket.label))
            tests[v] = rows
            log.info("%s %s vs %s: p = %.4f overall", name, v, baseline, rows[0].p_value)
        result[name] = tests
    return Significance(baseline, result)


def paired(
    base: list[str],
    system: list[str],
    refs: list[str],
    rows: list[int] | None,
    eval_cfg: DictConfig,
    label: str = "all",
) -> PairedRow:
    """One paired bootstrap test over the sentences `rows` (None: all)."""
    if rows is not None:
        base, system, refs = ([x[i] for i in rows] for x in (base, system, refs))
    n, seed = eval_cfg.bootstrap_samples, eval_cfg.bootstrap_seed
    result = paired_bootstrap(base, system, refs, n, seed)
    return PairedRow(
        label,
        len(refs),
        round(result.baseline_bleu, 4),
        round(result.system_bleu, 4),
        round(result.p_value, 5),
    )


def read_hyps(path: Path, refs: list[str]) -> list[str]:
    """A hypotheses file, checked to hold one line per reference."""
    if not path.is_file():
        raise DataError(f"{path}: no hypotheses. Fix: run `dvc repro evaluate@{path.parent.name}`.")
    hyps = path.read_text(encoding="utf-8").split("\n")[:-1]
    check_aligned(hyps, refs, str(path), f"the references of {path.stem}")
    return hyps
