"""Is a variant's BLEU gain real or noise, over the sentences and over its training seeds? The
compare stage reads every (variant, seed)'s hypotheses, `evaluations/<variant>/<seed>/<set>.hyp`,
and on each test set, over the whole set and within each source-length bucket (the buckets of
the evaluate stage: the same edges and merging, which depend on the sources only):

- each variant's curve over its seeds (`eval.seeds.seed_curve`: seed-mean BLEU, seed spread,
  bootstrap interval of the seed mean, last over best);
- the two-level paired bootstrap over sentences and seeds (`eval.paired.paired_seeds`) of every
  other variant against the baseline (`judge.baseline`), and of every (better, worse) pair a
  paired claim of `judge.claims` names.

With one seed per variant, the tests are sacrebleu's paired bootstrap (`sacrebleu --paired-bs`)
and the curves evaluate's numbers. `compare_variants` is the compare stage's work; its result,
`significance.Significance`, is `reports/significance.json`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from nmt_bottleneck.data.corpus import column, load_corpus
from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.errors import DataError
from nmt_bottleneck.eval.bleu import check_aligned, sentence_stats
from nmt_bottleneck.eval.buckets import Bucket, assign, length_buckets
from nmt_bottleneck.eval.claims import JudgeSettings
from nmt_bottleneck.eval.paired import paired_seeds
from nmt_bottleneck.eval.seeds import SeedCurve, seed_curve
from nmt_bottleneck.eval.significance import PairedRow, PairTests, Significance

log = logging.getLogger(__name__)


def compare_variants(
    variants: Sequence[str],
    seeds: Sequence[int],
    judge_cfg: DictConfig | Mapping,
    test_sets: Sequence[str],
    eval_cfg: DictConfig,
    *,
    corpus: Path,
    evaluations: Path,
) -> Significance:
    """Curves and paired tests (module docstring) of `variants` trained with `seeds`, from the
    evaluate stage's hypotheses under `evaluations` and the references of the download stage's
    `corpus`; `judge_cfg`: the `judge` section (baseline, claims); `eval.bootstrap_samples`
    resamples seeded with `eval.bootstrap_seed`."""
    settings = JudgeSettings.from_config(judge_cfg, list(variants))
    baseline = settings.baseline
    extra = [p for p in settings.pairs() if p[1] != baseline]
    splits = load_corpus(corpus)
    tests: dict[str, dict[str, list[PairedRow]]] = {}
    pairs: dict[str, list[PairTests]] = {}
    curves: dict[str, dict[str, SeedCurve]] = {}
    for name in test_sets:
        srcs, refs = column(splits[name], "src"), column(splits[name], "tgt")
        stats = {v: seed_stats(evaluations / v, seeds, name, refs) for v in variants}
        lengths = [word_count(s) for s in srcs]
        buckets = length_buckets(lengths, eval_cfg.bucket_edges, eval_cfg.min_bucket)
        where = np.array(assign(lengths, buckets))
        n, seed = eval_cfg.bootstrap_samples, eval_cfg.bootstrap_seed
        curves[name] = {
            v: seed_curve(v, seeds, stats[v], buckets, where, n, seed) for v in variants
        }
        tests[name] = {
            v: paired(stats[v], stats[baseline], buckets, where, eval_cfg)
            for v in variants
            if v != baseline
        }
        pairs[name] = [
            PairTests(s, b, paired(stats[s], stats[b], buckets, where, eval_cfg)) for s, b in extra
        ]
        for v, rows in tests[name].items():
            log.info("%s %s vs %s: p = %.4f overall", name, v, baseline, rows[0].p_value)
    return Significance(baseline, tests, pairs, curves, list(seeds))


def paired(
    system: np.ndarray,
    baseline: np.ndarray,
    buckets: Sequence[Bucket],
    where: np.ndarray,
    eval_cfg: DictConfig,
) -> list[PairedRow]:
    """The tests of `system` against `baseline` (each [S, N, 10]) over the whole set, then
    within each bucket (`where`: each sentence's bucket index)."""
    rows = [paired_test(system, baseline, None, eval_cfg)]
    for k, bucket in enumerate(buckets):
        rows.append(paired_test(system, baseline, where == k, eval_cfg, bucket.label))
    return rows


def paired_test(
    system: np.ndarray,
    baseline: np.ndarray,
    chosen: np.ndarray | None,
    eval_cfg: DictConfig,
    label: str = "all",
) -> PairedRow:
    """One two-level paired bootstrap over the sentences `chosen` (None: all)."""
    if chosen is not None:
        system, baseline = system[:, chosen], baseline[:, chosen]
    n, seed = eval_cfg.bootstrap_samples, eval_cfg.bootstrap_seed
    if system.shape[1] == 0:
        nan = float("nan")
        return PairedRow(label, 0, nan, nan, nan, None, None)
    r = paired_seeds(baseline, system, n, seed)
    numbers = (round(r.baseline_bleu, 4), round(r.system_bleu, 4), round(r.p_value, 5))
    return PairedRow(label, system.shape[1], *numbers, round(r.diff_lo, 4), round(r.diff_hi, 4))


def seed_stats(folder: Path, seeds: Sequence[int], name: str, refs: list[str]) -> np.ndarray:
    """Per-sentence BLEU statistics [S, N, 10] of each seed's hypotheses of test set `name`
    (`<folder>/<seed>/<name>.hyp`)."""
    return np.stack(
        [sentence_stats(read_hyps(folder / str(s) / f"{name}.hyp", refs), refs) for s in seeds]
    )


def read_hyps(path: Path, refs: list[str]) -> list[str]:
    """A hypotheses file, checked to hold one line per reference."""
    if not path.is_file():
        stage = f"evaluate@{path.parent.parent.name}-{path.parent.name}"
        raise DataError(f"{path}: no hypotheses. Fix: run `dvc repro {stage}`.")
    hyps = path.read_text(encoding="utf-8").split("\n")[:-1]
    check_aligned(hyps, refs, str(path), f"the references of {path.stem}")
    return hyps
