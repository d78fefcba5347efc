"""Hand-made evaluate results for the judge and report tests: curves of given per-bucket BLEU
with intervals of a given half width, as the evaluate stage's typed details."""

from __future__ import annotations

from omegaconf import OmegaConf

from nmt_bottleneck.eval.claims import JudgeSettings
from nmt_bottleneck.eval.results import BucketResult, Details, LastOverBest, SetScores
from nmt_bottleneck.eval.seed_scores import curves_on
from nmt_bottleneck.eval.seeds import SeedCurve
from nmt_bottleneck.eval.translate import DecodeSettings

GREEDY = DecodeSettings("greedy", 5, 1.0, 1.5, 6000)
JUDGE = {  # the committed claims, written out (tests/test_config.py checks conf/ parses)
    "baseline": "final_state",
    "long_from": 30,
    "holds_at": 0.8,
    "falls_below": 0.7,
    "min_best_bleu": 10.0,
    "claims": [
        {"kind": "falls", "variant": "final_state"},
        {"kind": "holds", "variant": "attention"},
        {"kind": "separated", "better": "attention", "worse": "final_state"},
    ],
}
VARIANTS = ["final_state", "concat_states", "attention"]


def settings(variants: list[str] = VARIANTS, **changes) -> JudgeSettings:
    """The committed `judge` section with `changes`, checked against `variants`."""
    return JudgeSettings.from_config(OmegaConf.create({**JUDGE, **changes}), variants)


def buckets(bleus: list[float], half_width: float, n: int = 100) -> list[BucketResult]:
    """Buckets 1-10, 11-20, ... (the last open) with the given BLEU and an interval of
    +-half_width."""
    out = []
    for k, b in enumerate(bleus):
        lo, hi = 10 * k + 1, None if k == len(bleus) - 1 else 10 * k + 10
        label = f"{lo}+" if hi is None else f"{lo}-{hi}"
        out.append(BucketResult(lo, hi, label, n, b, b - half_width, b + half_width, 1.0))
    return out


def fall(lo: float, hi: float, last: str, best: str = "1-10") -> LastOverBest:
    """evaluate's `last_over_best` interval (its value is not read by the judge)."""
    return LastOverBest(last, best, 0.0, lo, hi)


def scores(
    bleus: list[float], half_width: float = 1.0, last_over_best: LastOverBest | None = None
) -> SetScores:
    return SetScores(
        bleu=max(bleus),
        chrf=0.0,
        sentences=100 * len(bleus),
        empty_hyps=0,
        bleu_signature="sig",
        chrf_signature="sig",
        last_over_best=last_over_best,
        buckets=buckets(bleus, half_width),
        truncated_sources=0,
    )


def details(test_set: str = "test", **curves: SetScores) -> dict[str, Details]:
    """variant -> its details with the one test set `test_set`."""
    return {v: Details(v, GREEDY, {}, {test_set: s}, {}) for v, s in curves.items()}


def on(per_variant: dict[str, Details | None], test_set: str = "test") -> dict[str, SeedCurve]:
    """variant -> its curve on `test_set` over one seed (seed 1), gathered from `per_variant`
    as the report stage gathers a curve without the compare stage's."""
    return curves_on(test_set, {v: {1: d} for v, d in per_variant.items()}, {})


def judged_sets(per_variant: dict[str, Details | None]) -> dict[str, dict[str, SeedCurve]]:
    """Every test set or view of `per_variant` -> its curves, as the report stage judges them."""
    names = list(dict.fromkeys(n for d in per_variant.values() if d for n in d.test_sets))
    return {n: on(per_variant, n) for n in names}
