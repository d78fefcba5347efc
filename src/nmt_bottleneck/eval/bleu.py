"""Corpus BLEU and chrF with sacrebleu, bootstrap confidence intervals, BLEU by source length,
and sacrebleu's paired bootstrap test.

BLEU is sacrebleu corpus BLEU with its defaults (13a tokenizer, mixed case, exp smoothing) on
detokenized hypotheses against raw references, one reference per sentence; chrF is sacrebleu's
chrF2. Both are stored with their signatures. An empty hypothesis is scored as empty (it adds
reference length and no matches), never dropped.

Bootstrap (Koehn 2004, "Statistical Significance Tests for Machine Translation Evaluation"):
corpus BLEU is a function of summed per-sentence sufficient statistics (hypothesis length,
closest reference length, matched and total n-grams for n = 1..4), so the statistics are
extracted once with sacrebleu (`BLEU._extract_corpus_statistics`, the same call sacrebleu's own
bootstrap in `sacrebleu.significance` makes) and each resample only sums rows with numpy and
scores the sum with `BLEU._compute_score_from_stats`. Summing all rows reproduces
`BLEU.corpus_score` exactly.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest

from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.errors import ConfigError, DataError
from nmt_bottleneck.eval.buckets import Bucket, assign

log = logging.getLogger(__name__)

_SCORER = BLEU()  # scores summed statistics; holds only settings (sacrebleu defaults)


class Scores(NamedTuple):
    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str
    n: int  # sentences scored
    empty_hyps: int  # hypotheses that are empty (or only whitespace), scored as empty


class BucketScore(NamedTuple):
    bucket: Bucket
    n: int  # sentences in the bucket
    bleu: float  # corpus BLEU over the bucket's sentences; NaN if the bucket is empty
    ci_lo: float
    ci_hi: float
    length_ratio: float  # hypothesis / reference length (sacrebleu's `ratio`); see bucket_scores


class PairedResult(NamedTuple):
    baseline_bleu: float
    system_bleu: float
    p_value: float  # sacrebleu --paired-bs p-value; see paired_bootstrap


def check_aligned(hyps: Sequence[str], refs: Sequence[str], hyp_name: str, ref_name: str) -> None:
    """Raise DataError unless the two line lists have the same length (line i of one belongs to
    line i of the other)."""
    if len(hyps) != len(refs):
        raise DataError(
            f"{hyp_name} has {len(hyps)} lines but {ref_name} has {len(refs)}: they must be "
            f"line-aligned, one line per sentence; regenerate {hyp_name} from the same source "
            f"file as {ref_name} (a missing or extra newline is a common cause)"
        )


def _check_inputs(hyps: Sequence[str], refs: Sequence[str]) -> None:
    check_aligned(hyps, refs, "hypotheses", "references")
    if len(hyps) == 0:
        raise DataError("no sentences to score (0 hypotheses, 0 references): pass a non-empty set")


def corpus_scores(hyps: Sequence[str], refs: Sequence[str]) -> Scores:
    """Corpus BLEU and chrF (sacrebleu defaults) with their signatures."""
    return scores_and_stats(hyps, refs)[0]


def scores_and_stats(hyps: Sequence[str], refs: Sequence[str]) -> tuple[Scores, np.ndarray]:
    """`corpus_scores` and `sentence_stats` from one pass of sacrebleu's n-gram counting (the
    slow part of scoring): corpus BLEU is scored from the summed statistics, which gives
    `BLEU.corpus_score`'s number exactly."""
    bleu, chrf = BLEU(), CHRF()
    stats = _counted(bleu, hyps, refs)  # before the signature: nrefs is known once refs are read
    chrf_score = chrf.corpus_score(list(hyps), [list(refs)])
    empty = sum(1 for h in hyps if not h.strip())
    if empty:
        log.warning("%d of %d hypotheses are empty; they are scored as empty", empty, len(hyps))
    scores = Scores(
        bleu=bleu_from_stats(stats.sum(0)),
        chrf=chrf_score.score,
        bleu_signature=str(bleu.get_signature()),
        chrf_signature=str(chrf.get_signature()),
        n=len(hyps),
        empty_hyps=empty,
    )
    return scores, stats


def sentence_stats(hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
    """BLEU sufficient statistics per sentence, int64 [N, 2 + 2 * 4]: hypothesis length,
    reference length, matched n-grams (n = 1..4), total hypothesis n-grams (n = 1..4)."""
    return _counted(BLEU(), hyps, refs)


def _counted(bleu: BLEU, hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
    """`sentence_stats`, counted by `bleu` (which then knows the number of references)."""
    _check_inputs(hyps, refs)
    stats = bleu._extract_corpus_statistics(list(hyps), [list(refs)])
    return np.asarray(stats, dtype=np.int64)


def bleu_from_stats(summed: np.ndarray) -> float:
    """Corpus BLEU (sacrebleu defaults) from statistics summed over sentences, shape [10]."""
    return _SCORER._compute_score_from_stats(summed.tolist()).score


def resampled_bleu(stats: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Corpus BLEU of weighted copies of the corpus: `counts` [K, N] says how often each of the N
    sentences (rows of `stats` [N, 10]) is taken in each of K resamples; returns BLEU [K]. A row
    of ones is the corpus itself and gives exactly its corpus BLEU."""
    sums = counts.astype(np.int64) @ stats  # [K, 10] summed statistics
    return np.array([bleu_from_stats(row) for row in sums])


def resample_counts(n: int, n_samples: int, seed: int) -> np.ndarray:
    """Bootstrap draws of n sentences with replacement, as counts [n_samples, n]: how often each
    sentence is drawn in each resample (numpy generator seeded with `seed`)."""
    draws = np.random.default_rng(seed).integers(0, n, size=(n_samples, n))
    offsets = np.arange(n_samples)[:, None] * n  # one bincount range per resample
    flat = np.bincount((draws + offsets).ravel(), minlength=n_samples * n)
    return flat.reshape(n_samples, n)


def _check_bootstrap_args(n_samples: int, level: float) -> None:
    if n_samples < 1:
        raise ConfigError(f"n_samples = {n_samples}: the bootstrap needs >= 1 resample, e.g. 1000")
    if not 0 < level < 1:
        raise ConfigError(f"level = {level}: the confidence level must be in (0, 1), e.g. 0.95")


def _ci_from_stats(
    stats: np.ndarray, n_samples: int, seed: int, level: float
) -> tuple[float, float]:
    return _percentile_ci(
        resampled_bleu(stats, resample_counts(len(stats), n_samples, seed)), level
    )


def _percentile_ci(values: np.ndarray, level: float) -> tuple[float, float]:
    """The (1 - level) / 2 and (1 + level) / 2 percentiles of resampled values."""
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def _bucketed_stats(
    hyps: Sequence[str],
    refs: Sequence[str],
    srcs: Sequence[str],
    buckets: Sequence[Bucket],
    n_samples: int,
    level: float,
    stats: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Checked inputs' per-sentence BLEU statistics [N, 10] (`stats` when given, from
    `sentence_stats(hyps, refs)`) and bucket index [N] (by the raw source's `word_count`)."""
    check_aligned(srcs, refs, "sources", "references")
    _check_bootstrap_args(n_samples, level)
    if stats is None:
        stats = sentence_stats(hyps, refs)
    elif len(stats) != len(hyps):
        raise ValueError(f"{len(stats)} rows of statistics for {len(hyps)} hypotheses")
    return stats, np.array(assign([word_count(s) for s in srcs], buckets))


def bootstrap_ci(
    hyps: Sequence[str],
    refs: Sequence[str],
    n_samples: int,
    seed: int,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval (lo, hi) of corpus BLEU: resample sentences with
    replacement `n_samples` times (numpy generator seeded with `seed`, `eval.bootstrap_seed`),
    take the (1 - level) / 2 and (1 + level) / 2 percentiles of the resampled BLEU."""
    _check_bootstrap_args(n_samples, level)
    return _ci_from_stats(sentence_stats(hyps, refs), n_samples, seed, level)


def bucket_scores(
    hyps: Sequence[str],
    refs: Sequence[str],
    srcs: Sequence[str],
    buckets: Sequence[Bucket],
    n_samples: int,
    seed: int,
    level: float = 0.95,
    stats: np.ndarray | None = None,
) -> list[BucketScore]:
    """Corpus BLEU and its bootstrap CI over each bucket's sentences, the bucket chosen by the
    raw source's `word_count`. An empty bucket gets n = 0 and NaN scores.

    `length_ratio` is sacrebleu's `ratio` over the bucket: summed hypothesis length over summed
    reference length, in 13a tokens. Below 1, BLEU's brevity penalty applies, so it tells a
    bucket whose outputs stop early from one whose words are wrong. NaN where the references
    have no tokens (sacrebleu prints 0 there, which would read as empty outputs). `stats`:
    `sentence_stats(hyps, refs)` when the caller has them (evaluate's `score` extracts them
    once for the corpus score, the buckets and `last_over_best`)."""
    stats, index = _bucketed_stats(hyps, refs, srcs, buckets, n_samples, level, stats)
    out = []
    for i, bucket in enumerate(buckets):
        rows = stats[index == i]
        if len(rows) == 0:
            log.warning("length bucket %s has no sentences: BLEU is NaN", bucket.label)
            out.append(BucketScore(bucket, 0, math.nan, math.nan, math.nan, math.nan))
            continue
        lo, hi = _ci_from_stats(rows, n_samples, seed, level)
        summed = rows.sum(0)
        ratio = summed[0] / summed[1] if summed[1] else math.nan
        out.append(BucketScore(bucket, len(rows), bleu_from_stats(summed), lo, hi, float(ratio)))
    return out


class Quotient(NamedTuple):
    last: str  # bucket labels
    best: str  # the best bucket of the test set itself
    value: float  # BLEU of the last bucket over the best bucket's
    ci_lo: float
    ci_hi: float


def last_over_best(
    hyps: Sequence[str],
    refs: Sequence[str],
    srcs: Sequence[str],
    buckets: Sequence[Bucket],
    n_samples: int,
    seed: int,
    level: float = 0.95,
    stats: np.ndarray | None = None,
) -> Quotient | None:
    """How much of its best bucket's BLEU a system keeps in its last (longest) non-empty bucket:
    BLEU(last) / max over buckets of BLEU, with a percentile bootstrap interval. None with
    fewer than two non-empty buckets; NaN numbers where the best bucket scores 0.

    Each resample draws the whole test set's sentences with replacement (numpy's generator
    seeded with `seed`), scores every bucket from that draw and takes its last over its max, so
    the pick of the best bucket is resampled too, and a bucket's size varies as it would between
    test sets of this size. Resamples whose best scores 0 are left out. A maximum over noisy
    buckets runs high in small samples, so the quotient and its interval lean low: read it to
    about the interval's width. `stats`: as in `bucket_scores`."""
    stats, index = _bucketed_stats(hyps, refs, srcs, buckets, n_samples, level, stats)
    filled = [(b, index == i) for i, b in enumerate(buckets) if (index == i).any()]
    if len(filled) < 2:
        return None
    rows = [r for _, r in filled]
    point = [bleu_from_stats(stats[r].sum(0)) for r in rows]
    labels = filled[-1][0].label, filled[int(np.argmax(point))][0].label
    if max(point) == 0:
        return Quotient(*labels, math.nan, math.nan, math.nan)
    counts = resample_counts(len(stats), n_samples, seed)
    scores = np.stack([resampled_bleu(stats[r], counts[:, r]) for r in rows], axis=1)  # [K, B]
    top = scores.max(1)
    ok = top > 0
    if not ok.any():
        return Quotient(*labels, point[-1] / max(point), math.nan, math.nan)
    return Quotient(
        *labels, point[-1] / max(point), *_percentile_ci(scores[ok, -1] / top[ok], level)
    )


@contextmanager
def _sacrebleu_seed(seed: int) -> Iterator[None]:
    """sacrebleu reads its resampling seed from SACREBLEU_SEED (its documented interface)."""
    old = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        yield
    finally:
        if old is None:
            del os.environ["SACREBLEU_SEED"]
        else:
            os.environ["SACREBLEU_SEED"] = old


def paired_bootstrap(
    baseline_hyps: Sequence[str],
    system_hyps: Sequence[str],
    refs: Sequence[str],
    n_samples: int,
    seed: int,
) -> PairedResult:
    """sacrebleu's paired bootstrap test (`sacrebleu --paired-bs`, Koehn 2004 as in Moses'
    bootstrap-hypothesis-difference-significance.pl) of system against baseline BLEU.

    The p-value is two-sided: the statistic is |BLEU(system) - BLEU(baseline)|; the same
    `n_samples` sentence resamples are scored for both systems, and the resampled absolute
    differences, shifted to mean zero, stand in for its distribution under the null hypothesis
    "the systems are equally good". p = (1 + #{shifted resampled difference > observed}) /
    (1 + n_samples), so its floor is 1 / (n_samples + 1); p < 0.05 says a difference this large
    is unlikely by chance. It does not say which system is better: compare the two BLEUs.

    When both systems have identical per-sentence statistics, sacrebleu's statistic is
    degenerate (every resampled difference is 0 and it reports the floor, 1 / (n_samples + 1));
    here no resample can tell the systems apart, so p = 1.0 is returned instead.
    """
    check_aligned(baseline_hyps, system_hyps, "baseline hypotheses", "system hypotheses")
    _check_inputs(system_hyps, refs)
    if n_samples < 1 or seed < 1:
        raise ConfigError(
            f"n_samples = {n_samples}, seed = {seed}: both must be >= 1 (sacrebleu treats seed 0 "
            "as 'unseeded'), e.g. eval.bootstrap_samples=1000, eval.bootstrap_seed=12345"
        )
    if np.array_equal(sentence_stats(baseline_hyps, refs), sentence_stats(system_hyps, refs)):
        bleu = BLEU().corpus_score(list(system_hyps), [list(refs)]).score
        return PairedResult(bleu, bleu, 1.0)
    named = [("baseline", list(baseline_hyps)), ("system", list(system_hyps))]
    with _sacrebleu_seed(seed):
        test = PairedTest(named, {"BLEU": BLEU()}, [list(refs)], "bs", n_samples=n_samples)
    _, results = test()
    baseline, system = results["BLEU"]
    return PairedResult(baseline.score, system.score, system.p_value)
