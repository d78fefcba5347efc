"""Scoring with real sacrebleu: corpus BLEU/chrF equal the sacrebleu command line (overall and for
one length bucket), bootstrap statistics reproduce corpus BLEU exactly, CIs contain the point
estimate and are seeded, input errors, and the paired bootstrap test equals `--paired-bs`."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sacrebleu.metrics import BLEU, CHRF

from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.errors import DataError
from nmt_bottleneck.eval.bleu import (
    bleu_from_stats,
    bootstrap_ci,
    bucket_scores,
    check_aligned,
    corpus_scores,
    last_over_best,
    paired_bootstrap,
    resampled_bleu,
    scores_and_stats,
    sentence_stats,
)
from nmt_bottleneck.eval.buckets import make_buckets

SACREBLEU = Path(sys.executable).parent / "sacrebleu"
WORDS = (
    "the house of commons member minister government question motion bill committee report "
    "budget tax Canada province people Mr. Speaker today yesterday agree oppose vote debate "
    "farmers fishermen workers pension health care program money million dollars, year time"
).split()


class Corpus:
    """~200 line-aligned sources, references and hypotheses made by perturbing the references
    (dropped, swapped and replaced words), with a seeded RNG."""

    def __init__(self, n: int = 200, seed: int = 0, noise: float = 0.15) -> None:
        rng = random.Random(seed)
        lengths = [min(75, max(1, int(rng.lognormvariate(2.8, 0.6)))) for _ in range(n)]
        self.srcs = [" ".join(rng.choices(WORDS, k=k)).upper() for k in lengths]
        self.refs = [" ".join(rng.choices(WORDS, k=max(1, k + rng.randint(-3, 3)))) + "."
                     for k in lengths]  # fmt: skip
        self.hyps = [perturb(r, rng, noise) for r in self.refs]


def perturb(ref: str, rng: random.Random, noise: float) -> str:
    words = [w for w in ref.split() if rng.random() > noise]  # drop
    for i in range(len(words) - 1):
        if rng.random() < noise:
            words[i], words[i + 1] = words[i + 1], words[i]  # swap
    return " ".join(rng.choice(WORDS) if rng.random() < noise else w for w in words)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus()


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def cli(*args: str | Path, seed: int | None = None) -> str:
    env = {**os.environ, "SACREBLEU_SEED": str(seed)} if seed else None
    done = subprocess.run(
        [str(SACREBLEU), *map(str, args)], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout


def test_corpus_scores_equal_the_sacrebleu_command_line(corpus, tmp_path):
    ref = write(tmp_path / "ref.txt", corpus.refs)
    hyp = write(tmp_path / "hyp.txt", corpus.hyps)
    out = json.loads(cli(ref, "-i", hyp, "-m", "bleu", "chrf", "-w", "6"))
    scores = corpus_scores(corpus.hyps, corpus.refs)
    assert out[0]["score"] == round(scores.bleu, 6)
    assert out[1]["score"] == round(scores.chrf, 6)
    assert out[0]["signature"] == scores.bleu_signature
    assert out[1]["signature"] == scores.chrf_signature
    assert "tok:13a" in scores.bleu_signature and "smooth:exp" in scores.bleu_signature
    assert scores.n == len(corpus.refs) and scores.empty_hyps == 0


def test_bucket_bleu_equals_the_command_line_on_that_buckets_lines(corpus, tmp_path):
    buckets = make_buckets([10, 20, 30, 40, 50, 60])
    results = bucket_scores(corpus.hyps, corpus.refs, corpus.srcs, buckets, n_samples=200, seed=1)
    assert [r.bucket for r in results] == buckets
    assert sum(r.n for r in results) == len(corpus.srcs)
    target = results[1]  # 11-20 words: the most populated bucket here
    rows = [i for i, s in enumerate(corpus.srcs) if 11 <= word_count(s) <= 20]
    assert target.n == len(rows) > 20
    ref = write(tmp_path / "ref.txt", [corpus.refs[i] for i in rows])
    hyp = write(tmp_path / "hyp.txt", [corpus.hyps[i] for i in rows])
    assert float(cli(ref, "-i", hyp, "-m", "bleu", "-b", "-w", "6")) == round(target.bleu, 6)
    subset = BLEU().corpus_score([corpus.hyps[i] for i in rows], [[corpus.refs[i] for i in rows]])
    assert target.bleu == subset.score
    assert target.ci_lo <= target.bleu <= target.ci_hi
    assert target.length_ratio == subset.sys_len / subset.ref_len == subset.ratio


def test_statistics_counted_once_give_the_same_scores_as_counting_each_time(corpus):
    # evaluate's `score` counts n-grams once (scores_and_stats) and hands the statistics to
    # bucket_scores and last_over_best; every number must equal the separate calls'
    whole, stats = scores_and_stats(corpus.hyps, corpus.refs)
    assert whole == corpus_scores(corpus.hyps, corpus.refs)
    assert whole.bleu == BLEU().corpus_score(corpus.hyps, [corpus.refs]).score
    assert np.array_equal(stats, sentence_stats(corpus.hyps, corpus.refs))
    buckets = make_buckets([10, 20, 30, 40, 50, 60])
    args = (corpus.hyps, corpus.refs, corpus.srcs, buckets, 100, 7)
    for fn in (bucket_scores, last_over_best):
        separate, shared = fn(*args), fn(*args, stats=stats)
        assert repr(shared) == repr(separate)  # repr: NaN of an empty bucket equals itself
    with pytest.raises(ValueError, match="rows of statistics"):
        bucket_scores(*args, stats=stats[1:])


def test_an_empty_bucket_is_nan_and_its_neighbours_are_scored():
    srcs = ["one two", "one two three four five six seven eight nine ten eleven twelve"]
    hyps = ["le chat noir", "le chien est dans la maison bleue"]
    refs = ["le chat noir dort", "le chien est dans la maison"]
    first, empty, last = bucket_scores(hyps, refs, srcs, make_buckets([5, 10]), 20, 1)
    assert (first.n, empty.n, last.n) == (1, 0, 1)
    assert all(math.isnan(x) for x in (empty.bleu, empty.ci_lo, empty.ci_hi, empty.length_ratio))
    assert first.length_ratio == 3 / 4 and last.length_ratio == 7 / 6
    assert last.bleu == BLEU().corpus_score(hyps[1:], [refs[1:]]).score


def test_summed_sentence_stats_give_exactly_corpus_bleu(corpus):
    stats = sentence_stats(corpus.hyps, corpus.refs)
    expected = BLEU().corpus_score(corpus.hyps, [corpus.refs]).score
    assert stats.shape == (len(corpus.hyps), 10)
    assert bleu_from_stats(stats.sum(0)) == expected
    everyone_once = np.ones((1, len(stats)), dtype=np.int64)
    assert resampled_bleu(stats, everyone_once)[0] == expected
    doubled = resampled_bleu(stats, 2 * everyone_once)[0]
    assert doubled == BLEU().corpus_score(corpus.hyps * 2, [corpus.refs * 2]).score


def test_ci_contains_the_point_estimate_and_is_seeded(corpus):
    bleu = corpus_scores(corpus.hyps, corpus.refs).bleu
    lo, hi = bootstrap_ci(corpus.hyps, corpus.refs, 1000, seed=1)
    assert lo < bleu < hi
    assert hi - lo < 0.5 * bleu  # a real interval for 200 sentences, not a degenerate one
    assert bootstrap_ci(corpus.hyps, corpus.refs, 1000, seed=1) == (lo, hi)
    assert bootstrap_ci(corpus.hyps, corpus.refs, 1000, seed=7) != (lo, hi)
    narrow = bootstrap_ci(corpus.hyps, corpus.refs, 1000, seed=1, level=0.5)
    assert lo <= narrow[0] <= narrow[1] <= hi


def noisier_with_length(corpus: Corpus, base: float, per_word: float) -> list[str]:
    """Hypotheses perturbed with noise base + per_word * source words (seeded)."""
    rng = random.Random(3)
    pairs = zip(corpus.srcs, corpus.refs, strict=True)
    return [perturb(r, rng, max(0.0, base + per_word * word_count(s))) for s, r in pairs]


def resampled_last_over_best(corpus: Corpus, hyps: list[str], edges: list[int], k: int, seed: int):
    """The statistic recomputed with sacrebleu on each of k whole-set resamples drawn as the
    docstring says (numpy's generator seeded with `seed`): last bucket's BLEU over the max."""
    lengths = [word_count(s) for s in corpus.srcs]
    which = [sum(n > e for e in edges) for n in lengths]  # bucket index of each sentence

    def bleus(rows) -> list[float]:
        out = []
        for b in range(len(edges) + 1):
            picked = [i for i in rows if which[i] == b]
            refs = [[corpus.refs[i] for i in picked]]
            out.append(BLEU().corpus_score([hyps[i] for i in picked], refs).score)
        return out

    point = bleus(range(len(hyps)))
    draws = np.random.default_rng(seed).integers(0, len(hyps), size=(k, len(hyps)))
    resampled = [bleus(list(d)) for d in draws]
    return point, [b[-1] / max(b) for b in resampled]


def test_last_over_best_and_its_interval_equal_a_plain_resampling_loop(corpus):
    # Longer sentences get noisier hypotheses, so the long bucket scores below the short ones.
    hyps = noisier_with_length(corpus, 0.05, 0.01)
    edges = [10, 20, 30]
    q = last_over_best(hyps, corpus.refs, corpus.srcs, make_buckets(edges), n_samples=60, seed=5)
    point, quotients = resampled_last_over_best(corpus, hyps, edges, 60, seed=5)
    labels = ["1-10", "11-20", "21-30", "31+"]
    assert (q.last, q.best) == ("31+", labels[int(np.argmax(point))])
    assert q.value == point[-1] / max(point)
    lo, hi = np.percentile(quotients, [2.5, 97.5])
    assert (q.ci_lo, q.ci_hi) == pytest.approx((lo, hi), abs=1e-9)
    assert q.ci_lo < q.value < q.ci_hi < 1  # the long bucket is worse beyond the noise


def test_when_the_last_bucket_is_the_best_its_interval_still_has_width(corpus):
    # Longer sentences get cleaner hypotheses: the last bucket is the best. Holding the best
    # bucket fixed would give every resample exactly 1; resampling the pick does not.
    hyps = noisier_with_length(corpus, 0.35, -0.004)
    q = last_over_best(hyps, corpus.refs, corpus.srcs, make_buckets([10, 20]), 60, 1)
    assert (q.last, q.best, q.value) == ("21+", "21+", 1.0)
    assert q.ci_lo < q.ci_hi <= 1.0


def test_last_over_best_is_nan_when_the_best_scores_0_and_none_with_one_bucket():
    srcs = ["one two", "one two three four five six seven", "one two three four five six seven"]
    refs = ["le chat noir dort", "le chien est dans la maison", "il pleut sur la ville ce soir"]
    zero = last_over_best(["x", "y", "z"], refs, srcs, make_buckets([5, 10, 20]), 20, 1)
    assert (zero.last, zero.best) == ("6-10", "1-5")  # 11-20 is empty: not the last
    assert all(math.isnan(x) for x in (zero.value, zero.ci_lo, zero.ci_hi))
    assert last_over_best(refs, refs, srcs, make_buckets([20]), 20, 1) is None


def test_line_count_mismatch_names_both_files_and_counts():
    with pytest.raises(DataError) as err:
        check_aligned(["a"] * 3, ["a"] * 5, "hyp.fr", "ref.fr")
    message = str(err.value)
    assert "hyp.fr has 3 lines" in message and "ref.fr has 5" in message
    with pytest.raises(DataError, match="has 2 lines but references has 1"):
        corpus_scores(["a b", "c d"], ["a b"])
    with pytest.raises(DataError, match="sources has 1 lines but references has 2"):
        bucket_scores(["a", "b"], ["a", "b"], ["x"], make_buckets([10]), 10, 1)


def test_empty_hypotheses_are_counted_and_scored_as_empty(corpus):
    hyps = list(corpus.hyps)
    for i in (3, 50, 120):
        hyps[i] = ""
    scores = corpus_scores(hyps, corpus.refs)
    assert scores.empty_hyps == 3 and scores.n == len(hyps)
    assert scores.bleu == BLEU().corpus_score(hyps, [corpus.refs]).score
    assert scores.chrf == CHRF().corpus_score(hyps, [corpus.refs]).score
    kept = [i for i, h in enumerate(hyps) if h]
    dropped = BLEU().corpus_score([hyps[i] for i in kept], [[corpus.refs[i] for i in kept]])
    assert scores.bleu < dropped.score  # empties cost reference length, they are not skipped


def test_paired_bootstrap_finds_a_clearly_better_system(corpus, tmp_path):
    poor = Corpus(noise=0.4).hyps
    rng = random.Random(1)
    good = [r if rng.random() < 0.9 else p for r, p in zip(corpus.refs, poor, strict=True)]
    result = paired_bootstrap(poor, good, corpus.refs, 1000, seed=1)
    assert result.system_bleu > result.baseline_bleu
    assert result.p_value < 0.05


def test_paired_bootstrap_equals_sacrebleu_paired_bs(corpus, tmp_path):
    other = list(corpus.hyps)
    other[0] = corpus.refs[0]  # a near-tie: p well above its floor, so the seed matters
    ref = write(tmp_path / "ref.txt", corpus.refs)
    base = write(tmp_path / "base.txt", corpus.hyps)
    system = write(tmp_path / "system.txt", other)
    out = cli(ref, "-i", base, system, "-m", "bleu", "--paired-bs", "-f", "json", seed=7)
    base_cli, system_cli = (row["BLEU"] for row in json.loads(out))
    result = paired_bootstrap(corpus.hyps, other, corpus.refs, 1000, seed=7)
    assert result.baseline_bleu == base_cli["score"]
    assert result.system_bleu == system_cli["score"]
    assert result.p_value == system_cli["p_value"]
    assert 0.05 < result.p_value < 1
    assert paired_bootstrap(corpus.hyps, other, corpus.refs, 1000, seed=8).p_value != result.p_value


def test_identical_systems_get_a_high_p_value(corpus):
    result = paired_bootstrap(corpus.hyps, list(corpus.hyps), corpus.refs, 1000, seed=1)
    assert result.baseline_bleu == result.system_bleu
    assert result.p_value == 1.0
