"""Hand-made test sets and hypotheses of several systems and seeds, and the seed statistics
computed the plain way, with sacrebleu's corpus BLEU on lists of strings (no sufficient
statistics, no library code): the independent side of tests/eval/test_seeds.py,
test_paired_seeds.py and test_seed_claims.py."""

from __future__ import annotations

import random

import numpy as np
from sacrebleu import corpus_bleu

WORDS = "the a cat dog house red blue ran sat on under over quickly slowly big small green".split()
EDGES = [10, 20, 30, 40, 50, 60]


def make_test_set(n: int = 90, seed: int = 0) -> tuple[list[str], list[str]]:
    """n (source, reference) pairs whose sources are 1..70 words long."""
    rng = random.Random(seed)
    srcs, refs = [], []
    for i in range(n):
        length = 1 + (i * 7) % 70
        srcs.append(" ".join(rng.choices(WORDS, k=length)))
        refs.append(" ".join(rng.choices(WORDS, k=max(1, length + rng.randint(-2, 2)))))
    return srcs, refs


def system(refs: list[str], srcs: list[str], quality: float, fall: float, seed: int) -> list[str]:
    """Hypotheses: each reference word kept with probability `quality`, less `fall` per 10
    source words (a curve that falls with length when fall > 0), else replaced."""
    rng = random.Random(seed)
    out = []
    for ref, src in zip(refs, srcs, strict=True):
        keep = max(0.05, quality - fall * len(src.split()) / 10)
        words = [w if rng.random() < keep else rng.choice(WORDS) for w in ref.split()]
        out.append(" ".join(words))
    return out


def bleu(hyps: list[str], refs: list[str], rows: list[int] | np.ndarray) -> float:
    """sacrebleu corpus BLEU over the sentences `rows` (repeats count as often as drawn)."""
    return corpus_bleu([hyps[i] for i in rows], [[refs[i] for i in rows]]).score


def seed_mean_interval(
    seeds: list[list[str]], refs: list[str], rows: list[int], n_samples: int, boot_seed: int
) -> tuple[float, float]:
    """95% percentile interval of the mean over seeds of BLEU, the sentences `rows` resampled
    with replacement (numpy's generator seeded with `boot_seed`, as the evaluate stage draws)."""
    draws = np.random.default_rng(boot_seed).integers(0, len(rows), size=(n_samples, len(rows)))
    rows = np.asarray(rows)
    means = [np.mean([bleu(h, refs, rows[d]) for h in seeds]) for d in draws]
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def two_level(
    system_seeds: list[list[str]],
    baseline_seeds: list[list[str]],
    refs: list[str],
    rows: list[int],
    n_samples: int,
    boot_seed: int,
) -> tuple[float, float, float, float, float]:
    """The two-level paired bootstrap as the contract states it, the plain way: (baseline mean,
    system mean, p, diff lo, diff hi). Sentences drawn as sacrebleu draws them, seeds from a
    generator seeded with [boot_seed, 1], the baseline's drawn first, then the system's."""
    rows = np.asarray(rows)
    draws = np.random.default_rng(boot_seed).choice(len(rows), size=(n_samples, len(rows)))
    seed_rng = np.random.default_rng([boot_seed, 1])
    base_seeds = seed_rng.integers(0, len(baseline_seeds), size=(n_samples, len(baseline_seeds)))
    sys_seeds = seed_rng.integers(0, len(system_seeds), size=(n_samples, len(system_seeds)))
    base = np.mean([bleu(h, refs, rows) for h in baseline_seeds])
    sys = np.mean([bleu(h, refs, rows) for h in system_seeds])
    diffs = []
    for d, bs, ss in zip(draws, base_seeds, sys_seeds, strict=True):
        b = np.mean([bleu(baseline_seeds[s], refs, rows[d]) for s in bs])
        a = np.mean([bleu(system_seeds[s], refs, rows[d]) for s in ss])
        diffs.append(a - b)
    diffs = np.array(diffs)
    shifted = np.abs(diffs) - np.abs(diffs).mean()
    p = (np.sum(shifted > abs(sys - base)) + 1) / (n_samples + 1)
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(base), float(sys), float(p), float(lo), float(hi)
