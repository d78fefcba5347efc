"""A variant's curve over its training seeds: per source-length bucket (and over the whole test
set), the mean over seeds of each seed's corpus BLEU, the seed spread (min..max over seeds) and
the 95% percentile bootstrap interval of the seed mean.

The interval resamples sentences only: each resample draws the bucket's sentences with
replacement (the same draw for every seed of the variant), scores each seed's hypotheses on it
and takes the mean over seeds; the interval is the 2.5 and 97.5 percentiles of those means. It
covers the test-set sample; training noise is what the seed spread shows. The draws are the
evaluate stage's (`bleu.resample_counts` seeded with `eval.bootstrap_seed`, per bucket as
`bleu.bucket_scores`, over the whole set as `bleu.bootstrap_ci` and `bleu.last_over_best`), so
with one seed every number here equals evaluate's for that seed.

`seed_curve` computes a curve from per-sentence statistics (the compare stage, which reads the
hypotheses); `eval.seed_scores` gathers one from the evaluate stage's per-seed results where no
hypotheses are read (the `<set>_novel` views, or a report before compare has run).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from nmt_bottleneck.eval.bleu import (
    _percentile_ci,
    bleu_from_stats,
    resample_counts,
    resampled_bleu,
)
from nmt_bottleneck.eval.buckets import Bucket

LEVEL = 0.95


def rounded(x: float) -> float | None:
    """x to 4 places; None for NaN (as `results.rounded`, which this module does not import:
    the compare stage needs no model code)."""
    return None if math.isnan(x) else round(x, 4)


class SeedBucket(NamedTuple):
    """One bucket (or, labelled "all", the whole set) of a variant over its seeds. The fields
    of `results.BucketResult` first, so whatever reads a bucket reads this one."""

    lo: int  # words, inclusive (0 for "all")
    hi: int | None  # None: the open last bucket (and "all")
    label: str
    n: int  # sentences
    bleu: float  # mean over seeds of the per-seed corpus BLEU; NaN for an empty bucket
    ci_lo: float | None  # 95% bootstrap interval of the seed mean; None where not computed
    ci_hi: float | None
    length_ratio: float  # mean over seeds of output / reference length (sacrebleu's ratio)
    seed_min: float  # the seed spread: min..max over seeds of the per-seed BLEU
    seed_max: float
    per_seed: list[float]  # per-seed BLEU, in the order of the curve's seeds

    def to_json(self) -> dict[str, Any]:
        return self._asdict()

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SeedBucket:
        return cls(**d)


class SeedQuotient(NamedTuple):
    """How much of its best bucket's BLEU the seed-mean curve keeps in its last."""

    last: str  # bucket labels
    best: str  # the best bucket of the seed-mean curve
    value: float | None  # last / best of the seed means; None where the best scores 0
    ci_lo: float | None  # bootstrap interval (whole-set resamples, as bleu.last_over_best)
    ci_hi: float | None
    seed_min: float | None  # min..max over seeds of each seed's last / best; None: one seed
    seed_max: float | None

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> SeedQuotient | None:
        return None if d is None else cls(**d)


class SeedCurve(NamedTuple):
    """A variant's curve on one test set or view, over its seeds."""

    variant: str
    seeds: list[int]
    overall: SeedBucket  # the whole set: label "all"
    buckets: list[SeedBucket]
    last_over_best: SeedQuotient | None  # None with fewer than two non-empty buckets

    def curve(self) -> list[SeedBucket]:
        """The non-empty buckets (an empty one has NaN BLEU and is not drawn or judged)."""
        return [b for b in self.buckets if b.n != 0]

    def to_json(self) -> dict[str, Any]:
        fall = self.last_over_best and self.last_over_best._asdict()
        return {
            "variant": self.variant,
            "seeds": self.seeds,
            "overall": self.overall.to_json(),
            "buckets": [b.to_json() for b in self.buckets],
            "last_over_best": fall,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SeedCurve:
        return cls(
            d["variant"],
            list(d["seeds"]),
            SeedBucket.from_json(d["overall"]),
            [SeedBucket.from_json(b) for b in d["buckets"]],
            SeedQuotient.from_json(d["last_over_best"]),
        )


def spread(per_seed: Sequence[float]) -> tuple[float, float, float]:
    """(mean, min, max) over seeds; NaN for an empty bucket."""
    if not per_seed or any(math.isnan(x) for x in per_seed):
        return math.nan, math.nan, math.nan
    return sum(per_seed) / len(per_seed), min(per_seed), max(per_seed)


def seed_bucket(bucket: Bucket | None, stats: np.ndarray, n_samples: int, seed: int) -> SeedBucket:
    """`stats` [S, n, 10]: each seed's per-sentence statistics over the bucket's n sentences
    (`bucket` None: the whole set, labelled "all")."""
    lo, hi, label = (0, None, "all") if bucket is None else (bucket.lo, bucket.hi, bucket.label)
    n = stats.shape[1]
    if n == 0:
        nan = math.nan
        return SeedBucket(lo, hi, label, 0, nan, nan, nan, nan, nan, nan, [nan] * len(stats))
    sums = stats.sum(1)  # [S, 10]
    per_seed = [bleu_from_stats(s) for s in sums]
    ratios = [s[0] / s[1] if s[1] else math.nan for s in sums]
    counts = resample_counts(n, n_samples, seed)
    means = np.mean([resampled_bleu(s, counts) for s in stats], axis=0)  # [K]
    ci_lo, ci_hi = _percentile_ci(means, LEVEL)
    mean, least, most = spread(per_seed)
    ratio = sum(ratios) / len(ratios)
    numbers = [round(x, 4) for x in (mean, ci_lo, ci_hi, ratio, least, most)]
    return SeedBucket(lo, hi, label, n, *numbers, [round(x, 4) for x in per_seed])


def seed_quotient(
    stats: np.ndarray, rows: list[np.ndarray], labels: list[str], n_samples: int, seed: int
) -> SeedQuotient | None:
    """The seed-mean curve's last non-empty bucket over its best, with the interval of
    `bleu.last_over_best` taken over seed means; `rows`: each bucket's sentences (boolean
    masks over the N sentences of `stats` [S, N, 10])."""
    filled = [(lab, r) for lab, r in zip(labels, rows, strict=True) if r.any()]
    if len(filled) < 2:
        return None
    per_seed = np.array([[bleu_from_stats(s[r].sum(0)) for _, r in filled] for s in stats])
    point = per_seed.mean(0)  # [B]
    last, best = filled[-1][0], filled[int(np.argmax(point))][0]
    quotients = [p[-1] / p.max() for p in per_seed if p.max() > 0]
    several = len(stats) > 1 and len(quotients) == len(stats)  # a spread needs seeds
    least = rounded(min(quotients)) if several else None
    most = rounded(max(quotients)) if several else None
    if point.max() == 0:
        return SeedQuotient(last, best, None, None, None, least, most)
    counts = resample_counts(stats.shape[1], n_samples, seed)
    scores = np.mean(
        [np.stack([resampled_bleu(s[r], counts[:, r]) for _, r in filled], 1) for s in stats], 0
    )  # [K, B]: the seed mean of each bucket in each resample
    top = scores.max(1)
    ok = top > 0
    value = rounded(point[-1] / point.max())
    if not ok.any():
        return SeedQuotient(last, best, value, None, None, least, most)
    lo, hi = _percentile_ci(scores[ok, -1] / top[ok], LEVEL)
    return SeedQuotient(last, best, value, rounded(lo), rounded(hi), least, most)


def seed_curve(
    variant: str,
    seeds: Sequence[int],
    stats: np.ndarray,
    buckets: Sequence[Bucket],
    where: np.ndarray,
    n_samples: int,
    seed: int,
) -> SeedCurve:
    """`stats` [S, N, 10]: the per-sentence BLEU statistics of each seed's hypotheses (seeds in
    the order of `seeds`); `where` [N]: each sentence's bucket index; `n_samples` resamples
    seeded with `seed` (`eval.bootstrap_samples`, `eval.bootstrap_seed`)."""
    rows = [where == k for k in range(len(buckets))]
    per_bucket = [
        seed_bucket(b, stats[:, r], n_samples, seed) for b, r in zip(buckets, rows, strict=True)
    ]
    overall = seed_bucket(None, stats, n_samples, seed)
    fall = seed_quotient(stats, rows, [b.label for b in buckets], n_samples, seed)
    return SeedCurve(variant, list(seeds), overall, per_bucket, fall)
