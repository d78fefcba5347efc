"""A variant's curve over its seeds gathered from the evaluate stage's per-seed results
(`reports/eval/<variant>/<seed>.details.json`), where no hypotheses are read: the `<set>_novel`
views (the compare stage scores whole test sets only), or a report drawn before compare has run.
Its line and seed spread are the per-seed BLEU's mean and min..max; its intervals are evaluate's
where there is one seed (the same numbers as the compare stage's), none with several (the
interval of a seed mean needs the hypotheses: `eval.seeds.seed_curve`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from nmt_bottleneck.eval.results import Details, SetScores, rounded
from nmt_bottleneck.eval.seeds import SeedBucket, SeedCurve, SeedQuotient, spread


def curve_from_scores(variant: str, seeds: Sequence[int], scores: Sequence[SetScores]) -> SeedCurve:
    """A curve from the evaluate stage's per-seed scores of one test set or view (`scores[i]`
    is seed `seeds[i]`'s; the buckets depend on the sources only, so they are the same for
    every seed). Intervals: evaluate's with one seed; none with several (their seed-mean
    interval needs the hypotheses: the compare stage's `seed_curve`)."""
    one = len(scores) == 1
    buckets = []
    for k, b in enumerate(scores[0].buckets):
        per_seed = [s.buckets[k].bleu for s in scores]
        mean, least, most = spread(per_seed)
        ratios = [s.buckets[k].length_ratio for s in scores]
        ci = (b.ci_lo, b.ci_hi) if one else (None, None)
        ratio = sum(ratios) / len(ratios)
        buckets.append(
            SeedBucket(b.lo, b.hi, b.label, b.n, *rnd(mean, *ci, ratio, least, most), per_seed)
        )
    per_seed = [s.bleu for s in scores]
    mean, least, most = spread(per_seed)
    overall = SeedBucket(
        0,
        None,
        "all",
        scores[0].sentences,
        *rnd(mean),
        None,
        None,
        math.nan,
        *rnd(least, most),
        per_seed,
    )
    return SeedCurve(variant, list(seeds), overall, buckets, quotient_from_scores(buckets, scores))


def rnd(*xs: float | None) -> list[float | None]:
    return [None if x is None else round(x, 4) for x in xs]


def quotient_from_scores(
    buckets: list[SeedBucket], scores: Sequence[SetScores]
) -> SeedQuotient | None:
    """The seed-mean curve's last over best; with one seed evaluate's `last_over_best` (its
    interval where it is between the same buckets), with several the point and seed spread."""
    filled = [b for b in buckets if b.n != 0]
    if len(filled) < 2:
        return None
    best = max(filled, key=lambda b: b.bleu)  # the first of equals, as bleu.last_over_best
    last = filled[-1]
    value = rounded(last.bleu / best.bleu) if best.bleu else None
    per = [s.last_over_best for s in scores]
    values = [q.value for q in per if q is not None and q.value is not None]
    several = len(per) > 1 and len(values) == len(per)  # a spread needs seeds
    least, most = (min(values), max(values)) if several else (None, None)
    fall = per[0] if len(per) == 1 else None
    if fall is not None and (fall.last, fall.best) == (last.label, best.label):
        return SeedQuotient(last.label, best.label, fall.value, fall.ci_lo, fall.ci_hi, None, None)
    return SeedQuotient(last.label, best.label, value, None, None, least, most)


def curves_on(
    name: str,
    details: Mapping[str, Mapping[int, Details | None]],
    computed: Mapping[str, SeedCurve],
) -> dict[str, SeedCurve]:
    """Each variant's curve on test set or view `name`: the compare stage's (`computed`, from
    the hypotheses) where it is over the seeds the variant was evaluated with, else gathered from
    the evaluate stage's per-seed scores (`curve_from_scores`) of the seeds evaluated on it. A
    variant with no seed evaluated there has none."""
    out = {}
    for v, per_seed in details.items():
        scored = {s: d.test_sets[name] for s, d in per_seed.items() if d and name in d.test_sets}
        if not scored:
            continue
        if v in computed and computed[v].seeds == list(scored):
            out[v] = computed[v]
        else:
            out[v] = curve_from_scores(v, list(scored), list(scored.values()))
    return out
