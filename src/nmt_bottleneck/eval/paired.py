"""The paired comparison of two variants over their seeds: a two-level paired bootstrap.

Each resample draws the test sentences with replacement (the same draw for both variants) and,
per variant, its seeds with replacement; the statistic is the mean over the drawn seeds of the
system's BLEU on the drawn sentences minus the same for the baseline, each seed's BLEU computed
from its per-sentence sufficient statistics. The seed variance is thus part of what the test
asks about: a gap that one lucky seed makes is not significant. (A p-value per seed pair would
instead multiply the tests and leave the reader to combine them.)

The p-value keeps the meaning of sacrebleu's paired bootstrap (`sacrebleu --paired-bs`, the one
the compare stage reported with one seed per variant): two-sided; the observed statistic is
|mean-over-seeds BLEU(system) - mean-over-seeds BLEU(baseline)| on the whole sentence set, the
resampled absolute differences shifted to mean zero stand in for its null distribution, and
p = (1 + #{shifted > observed}) / (1 + n_samples). The sentences are drawn exactly as sacrebleu
draws them (numpy's generator seeded with `eval.bootstrap_seed`, `choice(N, (K, N))`), and each
resample is scored as sacrebleu scores it (statistics summed in float32), so with one seed per
variant every number equals sacrebleu's test (`bleu.paired_bootstrap`); the seeds are drawn from
a second generator (seeded with [seed, 1]), so the sentence draws do not depend on the number of
seeds. Identical statistics for every seed of both give p = 1.0, as `bleu.paired_bootstrap`.

Beside p, the 95% percentile interval of the resampled difference (system - baseline, not
shifted) says how large the gain is and in which direction.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sacrebleu.metrics import BLEU

from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.eval.bleu import (  # bleu.py is an evaluate dependency: left unchanged
    _percentile_ci,
    bleu_from_stats,
    resample_counts,
)

_SCORER = BLEU()  # scores summed statistics; holds only settings (sacrebleu defaults)
LEVEL = 0.95


class SeedPaired(NamedTuple):
    baseline_bleu: float  # mean over the baseline's seeds of its corpus BLEU
    system_bleu: float
    p_value: float  # two-sided, sacrebleu's meaning (module docstring)
    diff_lo: float  # 95% interval of the resampled system - baseline difference
    diff_hi: float


def resampled_seed_bleu(stats: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """BLEU [K, S] of each of S seeds (`stats` [S, N, 10]) on K weighted copies of the sentences
    (`counts` [K, N]), each summed in float32 and scored as sacrebleu's paired test scores it."""
    out = np.empty((counts.shape[0], stats.shape[0]))
    for s, rows in enumerate(stats):
        sums = (counts.astype(np.int64) @ rows).astype(np.float32)  # exact below 2 ** 24
        out[:, s] = [_SCORER._compute_score_from_stats(row).score for row in sums]
    return out


def drawn_seed_mean(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mean over seeds drawn with replacement, per resample: `scores` [K, S] -> [K]."""
    k, s = scores.shape
    draws = rng.integers(0, s, size=(k, s))
    weights = np.stack([np.bincount(row, minlength=s) for row in draws]) / s  # [K, S]
    return (weights * scores).sum(1)


def paired_seeds(baseline: np.ndarray, system: np.ndarray, n_samples: int, seed: int) -> SeedPaired:
    """The two-level paired bootstrap (module docstring) of `system` against `baseline`, each the
    per-sentence BLEU statistics of its seeds, [S, N, 10] (S may differ, N may not)."""
    if n_samples < 1 or seed < 1:
        raise ConfigError(
            f"n_samples = {n_samples}, seed = {seed}: both must be >= 1 (sacrebleu treats seed 0 "
            "as 'unseeded'), e.g. eval.bootstrap_samples=1000, eval.bootstrap_seed=12345"
        )
    if baseline.shape[1] != system.shape[1]:
        raise ValueError(f"{baseline.shape[1]} baseline and {system.shape[1]} system sentences")
    base_bleu = float(np.mean([bleu_from_stats(s.sum(0)) for s in baseline]))
    sys_bleu = float(np.mean([bleu_from_stats(s.sum(0)) for s in system]))
    if baseline.shape == system.shape and np.array_equal(baseline, system):
        return SeedPaired(base_bleu, sys_bleu, 1.0, 0.0, 0.0)
    counts = resample_counts(baseline.shape[1], n_samples, seed)  # sacrebleu's draws
    seeds = np.random.default_rng([seed, 1])
    base = drawn_seed_mean(resampled_seed_bleu(baseline, counts), seeds)
    sys = drawn_seed_mean(resampled_seed_bleu(system, counts), seeds)
    diffs = np.abs(sys - base)
    shifted = diffs - diffs.mean()
    p = (np.sum(shifted > abs(base_bleu - sys_bleu)).item() + 1) / (n_samples + 1)
    lo, hi = _percentile_ci(sys - base, LEVEL)
    return SeedPaired(base_bleu, sys_bleu, p, lo, hi)
