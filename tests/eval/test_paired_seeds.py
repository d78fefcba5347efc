"""The paired comparison over seeds (eval.paired, eval.compare): with one seed per variant it
is sacrebleu's paired bootstrap, number for number (the compare stage's old test, run on the
same inputs); with several, the two-level bootstrap as the contract states it, computed the
plain way with sacrebleu's corpus BLEU on strings (tests/seeded.py). The compare stage reads
the evaluate stage's per-seed hypotheses from evaluations/<variant>/<seed>/<set>.hyp."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
from omegaconf import OmegaConf

from nmt_bottleneck.errors import DataError
from nmt_bottleneck.eval.bleu import paired_bootstrap, sentence_stats
from nmt_bottleneck.eval.compare import compare_variants
from nmt_bottleneck.eval.paired import paired_seeds
from nmt_bottleneck.eval.significance import Significance
from tests.seeded import EDGES, make_test_set, system, two_level

SAMPLES, BOOT = 60, 12345


def test_one_seed_gives_sacrebleus_paired_bootstrap_exactly():
    srcs, refs = make_test_set()
    base = system(refs, srcs, 0.7, 0.05, 1)
    for quality, fall in ((0.7, 0.05), (0.75, 0.02), (0.5, 0.0)):
        other = system(refs, srcs, quality, fall, 2)
        old = paired_bootstrap(base, other, refs, SAMPLES, BOOT)
        new = paired_seeds(
            sentence_stats(base, refs)[None], sentence_stats(other, refs)[None], SAMPLES, BOOT
        )
        assert (new.baseline_bleu, new.system_bleu, new.p_value) == tuple(old)
    same = paired_seeds(sentence_stats(base, refs)[None], sentence_stats(base, refs)[None], 9, 1)
    assert same.p_value == paired_bootstrap(base, base, refs, 9, 1).p_value == 1.0


def test_several_seeds_are_resampled_with_the_sentences():
    srcs, refs = make_test_set()
    rows = list(range(len(refs)))
    attention = [system(refs, srcs, 0.75, 0.01, s) for s in (1, 2, 3)]
    final_state = [system(refs, srcs, 0.75, 0.06, s) for s in (4, 5)]
    got = paired_seeds(
        np.stack([sentence_stats(h, refs) for h in final_state]),
        np.stack([sentence_stats(h, refs) for h in attention]),
        SAMPLES,
        BOOT,
    )
    base, sys, p, lo, hi = two_level(attention, final_state, refs, rows, SAMPLES, BOOT)
    assert (got.baseline_bleu, got.system_bleu) == (pytest.approx(base), pytest.approx(sys))
    assert got.p_value == pytest.approx(p, abs=1.5 / (SAMPLES + 1))  # float32 sums: one resample
    assert (got.diff_lo, got.diff_hi) == (pytest.approx(lo, abs=1e-4), pytest.approx(hi, abs=1e-4))


def write_corpus(path, srcs, refs) -> None:
    split = datasets.Dataset.from_dict({"src": srcs, "tgt": refs, "line": list(range(len(srcs)))})
    datasets.DatasetDict({"train": split, "test": split}).save_to_disk(str(path))


def write_hyps(evaluations, variant, seed, hyps) -> None:
    folder = evaluations / variant / str(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.hyp").write_text("".join(f"{h}\n" for h in hyps), encoding="utf-8")


EVAL = {"bucket_edges": EDGES, "min_bucket": 10, "bootstrap_samples": 30, "bootstrap_seed": BOOT}
JUDGE = {
    "baseline": "a",
    "long_from": 30,
    "holds_at": 0.8,
    "falls_below": 0.7,
    "min_best_bleu": 0.0,
    "claims": [{"kind": "ahead", "better": "c", "worse": "b", "beyond": 30}],
}


def test_compare_with_one_seed_reports_the_old_paired_tests(tmp_path):
    """compare_variants on the new layout, one seed: every row is what the old compare stage
    computed (sacrebleu's paired test over the whole set and each bucket's sentences)."""
    srcs, refs = make_test_set()
    write_corpus(tmp_path / "corpus", srcs, refs)
    hyps = {
        v: system(refs, srcs, 0.75, f, k)
        for k, (v, f) in enumerate(zip("abc", (0.08, 0.03, 0.0), strict=True))
    }
    for v, h in hyps.items():
        write_hyps(tmp_path / "evaluations", v, 1234, h)
    eval_cfg = OmegaConf.create(EVAL)
    sig = compare_variants(
        list("abc"),
        [1234],
        JUDGE,
        ["test"],
        eval_cfg,
        corpus=tmp_path / "corpus",
        evaluations=tmp_path / "evaluations",
    )
    assert Significance.from_json(sig.to_json()) == sig
    assert list(sig.rows("test")) == ["b", "c"]
    buckets = [b.label for b in sig.curves["test"]["a"].buckets]
    lengths = [len(s.split()) for s in srcs]
    for v in ("b", "c"):
        rows = sig.rows("test")[v]
        assert [r.bucket for r in rows] == ["all", *buckets]
        for row in rows:
            chosen = [
                i
                for i in range(len(refs))
                if row.bucket in ("all", bucket_of(lengths[i], sig, "a"))
            ]
            old = paired_bootstrap(
                [hyps["a"][i] for i in chosen],
                [hyps[v][i] for i in chosen],
                [refs[i] for i in chosen],
                30,
                BOOT,
            )
            assert (row.n, row.baseline_bleu, row.system_bleu, row.p_value) == (
                len(chosen),
                round(old.baseline_bleu, 4),
                round(old.system_bleu, 4),
                round(old.p_value, 5),
            )
    # the claim's pair, c against b, is tested too
    (pair,) = sig.pairs["test"]
    assert (pair.system, pair.baseline) == ("c", "b")
    assert (
        sig.tests("test", "c", "b") == pair.rows
        and sig.tests("test", "b", "a") == sig.rows("test")["b"]
    )


def bucket_of(length: int, sig: Significance, variant: str) -> str:
    for b in sig.curves["test"][variant].buckets:
        if b.lo <= length and (b.hi is None or length <= b.hi):
            return b.label
    return sig.curves["test"][variant].buckets[0].label  # length 0: the first bucket


def test_a_missing_seed_names_its_evaluate_stage(tmp_path):
    srcs, refs = make_test_set(20)
    write_corpus(tmp_path / "corpus", srcs, refs)
    for v in "abc":
        write_hyps(tmp_path / "evaluations", v, 1, refs)
    with pytest.raises(
        DataError,
        match=r"evaluations/a/2/test.hyp: no hypotheses. Fix: run `dvc repro evaluate@a-2`",
    ):
        compare_variants(
            list("abc"),
            [1, 2],
            JUDGE,
            ["test"],
            OmegaConf.create(EVAL),
            corpus=tmp_path / "corpus",
            evaluations=tmp_path / "evaluations",
        )
