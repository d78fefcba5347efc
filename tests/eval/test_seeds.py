"""A curve over seeds (eval.seeds): per bucket the mean over seeds of each seed's corpus BLEU,
the seed spread and the bootstrap interval of the seed mean, checked against sacrebleu's corpus
BLEU on the hand-made hypotheses' strings (tests/seeded.py); with one seed, the evaluate stage's
numbers for that seed."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.eval.bleu import sentence_stats
from nmt_bottleneck.eval.buckets import assign, length_buckets
from nmt_bottleneck.eval.evaluate import score
from nmt_bottleneck.eval.seed_scores import curve_from_scores
from nmt_bottleneck.eval.seeds import seed_curve
from tests.seeded import EDGES, bleu, make_test_set, seed_mean_interval, system

SAMPLES, BOOT = 40, 12345


def setup(n_seeds: int):
    srcs, refs = make_test_set()
    hyps = [system(refs, srcs, 0.8, 0.08, seed) for seed in range(n_seeds)]
    lengths = [word_count(s) for s in srcs]
    buckets = length_buckets(lengths, EDGES, 10)
    where = np.array(assign(lengths, buckets))
    stats = np.stack([sentence_stats(h, refs) for h in hyps])
    return srcs, refs, hyps, buckets, where, stats


def test_the_curve_is_the_seed_mean_with_its_spread_and_the_interval_of_the_mean():
    srcs, refs, hyps, buckets, where, stats = setup(3)
    curve = seed_curve("v", [1, 2, 3], stats, buckets, where, SAMPLES, BOOT)
    assert [b.label for b in curve.buckets] == [b.label for b in buckets]
    for k, got in enumerate(curve.buckets):
        rows = [i for i in range(len(srcs)) if where[i] == k]
        per_seed = [bleu(h, refs, rows) for h in hyps]
        assert got.n == len(rows)
        assert got.per_seed == [round(x, 4) for x in per_seed]
        assert got.bleu == round(sum(per_seed) / 3, 4)
        assert (got.seed_min, got.seed_max) == (round(min(per_seed), 4), round(max(per_seed), 4))
        lo, hi = seed_mean_interval(hyps, refs, rows, SAMPLES, BOOT)
        assert (got.ci_lo, got.ci_hi) == (round(lo, 4), round(hi, 4))
        assert got.ci_lo <= got.bleu <= got.ci_hi or got.seed_min < got.ci_lo  # sanity
    everything = list(range(len(srcs)))
    per_seed = [bleu(h, refs, everything) for h in hyps]
    assert curve.overall.bleu == round(np.mean(per_seed), 4)
    lo, hi = seed_mean_interval(hyps, refs, everything, SAMPLES, BOOT)
    assert (curve.overall.ci_lo, curve.overall.ci_hi) == (round(lo, 4), round(hi, 4))


def test_the_quotient_is_the_seed_mean_curves_last_over_its_best():
    srcs, refs, hyps, buckets, where, stats = setup(2)
    fall = seed_curve("v", [1, 2], stats, buckets, where, SAMPLES, BOOT).last_over_best
    rows = [[i for i in range(len(srcs)) if where[i] == k] for k in range(len(buckets))]
    means = [np.mean([bleu(h, refs, r) for h in hyps]) for r in rows]
    best = int(np.argmax(means))
    assert (fall.last, fall.best) == (buckets[-1].label, buckets[best].label)
    assert fall.value == round(means[-1] / means[best], 4)
    quotients = [bleu(h, refs, rows[-1]) / max(bleu(h, refs, r) for r in rows) for h in hyps]
    assert (fall.seed_min, fall.seed_max) == (round(min(quotients), 4), round(max(quotients), 4))
    # the interval: whole-set resamples, every bucket's seed mean scored from the same draw
    draws = np.random.default_rng(BOOT).integers(0, len(srcs), size=(SAMPLES, len(srcs)))
    values = []
    for d in draws:
        by_bucket = [d[where[d] == k] for k in range(len(buckets))]
        seed_means = [np.mean([bleu(h, refs, r) for h in hyps]) for r in by_bucket]
        values.append(seed_means[-1] / max(seed_means))
    lo, hi = np.percentile(values, [2.5, 97.5])
    assert (fall.ci_lo, fall.ci_hi) == (round(lo, 4), round(hi, 4))


def test_with_one_seed_every_number_is_the_evaluate_stages():
    srcs, refs, hyps, buckets, where, stats = setup(1)
    eval_cfg = OmegaConf.create({"bootstrap_samples": SAMPLES, "bootstrap_seed": BOOT})
    evaluated = score(hyps[0], srcs, refs, eval_cfg, buckets)
    curve = seed_curve("v", [7], stats, buckets, where, SAMPLES, BOOT)
    for got, want in zip(curve.buckets, evaluated.buckets, strict=True):
        assert (got.bleu, got.ci_lo, got.ci_hi, got.n) == (
            want.bleu,
            want.ci_lo,
            want.ci_hi,
            want.n,
        )
        assert got.seed_min == got.seed_max == want.bleu
    fall, want = curve.last_over_best, evaluated.last_over_best
    assert (fall.last, fall.best, fall.value, fall.ci_lo, fall.ci_hi) == tuple(want)
    assert fall.seed_min is None  # no spread over one seed
    gathered = curve_from_scores("v", [7], [evaluated])  # the report's fallback, one seed
    assert [b.bleu for b in gathered.buckets] == [b.bleu for b in curve.buckets]
    assert [(b.ci_lo, b.ci_hi) for b in gathered.buckets] == [
        (b.ci_lo, b.ci_hi) for b in curve.buckets
    ]


def test_gathered_from_evaluate_several_seeds_have_a_spread_and_no_interval():
    srcs, refs, hyps, buckets, _, _ = setup(2)
    eval_cfg = OmegaConf.create({"bootstrap_samples": 10, "bootstrap_seed": BOOT})
    evaluated = [score(h, srcs, refs, eval_cfg, buckets) for h in hyps]
    curve = curve_from_scores("v", [1, 2], evaluated)
    for k, b in enumerate(curve.buckets):
        per_seed = [e.buckets[k].bleu for e in evaluated]
        assert b.bleu == pytest.approx(np.mean(per_seed), abs=1e-4)
        assert (b.seed_min, b.seed_max) == (min(per_seed), max(per_seed))
        assert (b.ci_lo, b.ci_hi) == (None, None)
