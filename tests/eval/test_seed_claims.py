"""Claims (a)-(e) of Bahdanau et al. 2015 as the config states them, judged on five variants
trained with two seeds each: every claim's number (quotient, BLEU difference, p) checked against
the plain computation with sacrebleu's corpus BLEU on strings (tests/seeded.py), and each
verdict against those numbers. The variant ids and labels are the config's; the code knows none
of them."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from nmt_bottleneck.eval.claims import JudgeSettings
from nmt_bottleneck.eval.compare import compare_variants
from nmt_bottleneck.eval.judge import judge
from nmt_bottleneck.report.claims_table import claims_table
from tests.eval.test_paired_seeds import write_corpus, write_hyps
from tests.seeded import EDGES, bleu, make_test_set, system, two_level

SAMPLES, BOOT, SEEDS = 30, 12345, [11, 12]
JUDGE = """
baseline: final_state
long_from: 30
holds_at: 0.8
falls_below: 0.7
min_best_bleu: 10.0
alpha: 0.05
claims:
  - {kind: falls, variant: final_state}                                 # (a)
  - {kind: holds, variant: attention}                                   # (b)
  - {kind: ahead, better: attention, worse: attention_30, beyond: 30}   # (c)
  - {kind: ordering, better: attention_30, worse: final_state}          # (d)
  - {kind: ahead, better: attention, worse: final_state, beyond: 20}    # (e)
"""
CURVES = {  # id -> (label, quality, fall per 10 words): made to show the paper's shape
    "final_state": ("RNNencdec-50", 0.85, 0.12),
    "final_state_30": ("RNNencdec-30", 0.8, 0.13),
    "concat_states": ("concat_states-50", 0.85, 0.08),
    "attention": ("RNNsearch-50", 0.9, 0.01),
    "attention_30": ("RNNsearch-30", 0.9, 0.06),
}


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    root = tmp_path_factory.mktemp("claims")
    srcs, refs = make_test_set(120)
    write_corpus(root / "corpus", srcs, refs)
    hyps = {}
    for k, (v, (_, quality, fall)) in enumerate(CURVES.items()):
        hyps[v] = [system(refs, srcs, quality, fall, 10 * k + s) for s in SEEDS]
        for s, h in zip(SEEDS, hyps[v], strict=True):
            write_hyps(root / "evaluations", v, s, h)
    cfg = OmegaConf.create(JUDGE)
    eval_cfg = OmegaConf.create(
        {
            "bucket_edges": EDGES,
            "min_bucket": 10,
            "bootstrap_samples": SAMPLES,
            "bootstrap_seed": BOOT,
        }
    )
    sig = compare_variants(
        list(CURVES),
        SEEDS,
        cfg,
        ["test"],
        eval_cfg,
        corpus=root / "corpus",
        evaluations=root / "evaluations",
    )
    settings = JudgeSettings.from_config(cfg, list(CURVES))
    verdicts = judge(sig.curves, settings, ["test"], sig)
    return srcs, refs, hyps, sig, verdicts


def rows_by_bucket(srcs, sig):
    out = {}
    for b in sig.curves["test"]["final_state"].buckets:
        out[b.label] = [
            i
            for i, s in enumerate(srcs)
            if b.lo <= len(s.split()) and (b.hi is None or len(s.split()) <= b.hi)
        ]
    return out


def test_the_shape_claims_read_the_seed_mean_curve(judged):
    srcs, refs, hyps, sig, verdicts = judged
    rows = rows_by_bucket(srcs, sig)
    a, b = verdicts.test_sets["test"].results[:2]
    for result, variant, line in ((a, "final_state", 0.7), (b, "attention", 0.8)):
        means = {k: np.mean([bleu(h, refs, r) for h in hyps[variant]]) for k, r in rows.items()}
        best = max(means, key=means.get)
        last = list(means)[-1]
        assert (result.shape.best, result.shape.last) == (best, last)
        assert result.shape.value == pytest.approx(means[last] / means[best], abs=1e-3)
        assert result.line == line
        side = (
            "below" if result.shape.ci_hi < line else "above" if result.shape.ci_lo >= line else "?"
        )
        wanted = "below" if result.claim.kind == "falls" else "above"
        expected = "met" if side == wanted else "cannot tell" if side == "?" else "not met"
        assert result.status == expected
    assert a.status == "met"  # the made-up final_state falls: the test says something


def status(tests) -> str:
    """The claim's status from its tests, as the judge's docstring states it."""
    ahead = [t for t in tests if t.diff > 0 and t.p_value < 0.05]
    behind = [t for t in tests if t.diff < 0 and t.p_value < 0.05]
    if tests and len(ahead) == len(tests):
        return "met"
    return "partly" if ahead else "not met" if behind else "cannot tell"


def test_the_paired_claims_read_the_two_level_test(judged):
    srcs, refs, hyps, sig, verdicts = judged
    rows = rows_by_bucket(srcs, sig)
    c, d, e = verdicts.test_sets["test"].results[2:]
    # (d): the whole set
    base, sys, p, lo, hi = two_level(
        hyps["attention_30"], hyps["final_state"], refs, list(range(len(refs))), SAMPLES, BOOT
    )
    (row,) = d.tests
    assert row.diff == pytest.approx(sys - base, abs=2e-4)
    assert row.p_value == pytest.approx(p, abs=1.5 / (SAMPLES + 1))
    assert (row.diff_lo, row.diff_hi) == (pytest.approx(lo, abs=2e-4), pytest.approx(hi, abs=2e-4))
    assert d.status == status([row])
    assert d.status == "met"  # made-up RNNsearch-30 is ahead: the test says something
    # (c) and (e): each bucket beyond 30 / 20 words
    for result, worse, beyond in ((c, "attention_30", 30), (e, "final_state", 20)):
        long = [k for k in rows if int(k.split("-")[0].rstrip("+")) > beyond]
        assert [t.bucket for t in result.tests] == long
        ahead = []
        for t in result.tests:
            base, sys, p, _, _ = two_level(
                hyps["attention"], hyps[worse], refs, rows[t.bucket], SAMPLES, BOOT
            )
            assert t.diff == pytest.approx(sys - base, abs=2e-4)
            assert t.p_value == pytest.approx(p, abs=1.5 / (SAMPLES + 1))
            if sys > base and t.p_value < 0.05:
                ahead.append(t.bucket)
        assert list(result.separated) == ahead
        assert result.status == status(result.tests)
    assert e.status in ("met", "partly")  # made-up attention is far ahead on long sentences


def test_the_claims_table_names_the_models_and_their_numbers(judged):
    *_, verdicts = judged
    settings = verdicts.settings
    labels = {v: label for v, (label, _, _) in CURVES.items()}
    text = claims_table(verdicts.test_sets["test"], settings, labels)
    lines = text.splitlines()
    assert len(lines) == 2 + 5
    assert lines[2].startswith("| (a) | RNNencdec-50 falls: its last bucket keeps under 0.7")
    assert "| (d) | RNNsearch-30 beats RNNencdec-50 over the whole test set" in lines[5]
    row = verdicts.test_sets["test"].results[3].tests[0]
    assert f"{row.diff:+.2f} BLEU ({row.system_bleu:.2f} vs {row.baseline_bleu:.2f})" in lines[5]
    assert f"p = {row.p_value:.4f}" in lines[5]
    assert "| (e) | RNNsearch-50 beats RNNencdec-50 in every bucket beyond 20 words" in lines[6]
    assert "final_state" not in text  # labels, not ids
