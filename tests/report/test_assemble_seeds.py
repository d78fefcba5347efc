"""The report stage on the <variant>/<seed> layout: it reads every (variant, seed)'s evaluate
details and the compare stage's curves over seeds, and writes the CSV with the seed columns, the
figure with a labelled line per variant and the Table 1 comparison."""

from __future__ import annotations

import csv
import io
import json

from omegaconf import OmegaConf

from nmt_bottleneck.eval.buckets import source_buckets
from nmt_bottleneck.eval.claims import JudgeSettings
from nmt_bottleneck.eval.compare import compare_variants
from nmt_bottleneck.eval.evaluate import score
from nmt_bottleneck.eval.results import Details
from nmt_bottleneck.report.assemble import build_report
from tests.eval.test_paired_seeds import write_corpus, write_hyps
from tests.eval.test_seed_claims import CURVES, JUDGE
from tests.judged import GREEDY
from tests.seeded import EDGES, make_test_set, system

SEEDS = [1, 2]


def test_the_report_aggregates_seeds_from_the_layout(tmp_path):
    srcs, refs = make_test_set(80)
    write_corpus(tmp_path / "corpus", srcs, refs)
    eval_cfg = OmegaConf.create(
        {"bucket_edges": EDGES, "min_bucket": 10, "bootstrap_samples": 10, "bootstrap_seed": 7}
    )
    buckets = source_buckets(srcs, EDGES, 10)
    for k, (v, (_, quality, fall)) in enumerate(CURVES.items()):
        for s in SEEDS:
            hyps = system(refs, srcs, quality, fall, 10 * k + s)
            write_hyps(tmp_path / "evaluations", v, s, hyps)
            d = Details(v, GREEDY, {}, {"test": score(hyps, srcs, refs, eval_cfg, buckets)}, {})
            (tmp_path / "eval" / v).mkdir(parents=True, exist_ok=True)
            (tmp_path / "eval" / v / f"{s}.details.json").write_text(json.dumps(d.to_json()))
    judge = OmegaConf.create(JUDGE)
    sig = compare_variants(
        list(CURVES),
        SEEDS,
        judge,
        ["test"],
        eval_cfg,
        corpus=tmp_path / "corpus",
        evaluations=tmp_path / "evaluations",
    )
    (tmp_path / "significance.json").write_text(json.dumps(sig.to_json()))
    limits = {"final_state_30": 30, "attention_30": 30}
    variants = {
        v: {
            "arch": {},
            "label": label,
            "max_len": limits.get(v, 50),
            "paper": {"all": 17.82, "no_unk": 26.71} if v == "final_state" else None,
        }
        for v, (label, _, _) in CURVES.items()
    }
    params = OmegaConf.create(
        {
            "variants": variants,
            "seeds": SEEDS,
            "judge": judge,
            "profile": "smoke",
            "data": {"name": "made", "test_sets": ["test"]},
        }
    )
    report = build_report(
        params,
        train=tmp_path / "train",
        eval_dir=tmp_path / "eval",
        evaluations=tmp_path / "evaluations",
        significance=tmp_path / "significance.json",
        data_stats=tmp_path / "stats.json",
        figures_dir=tmp_path / "figures",
        report=tmp_path / "report.md",
    )
    rows = list(csv.DictReader(io.StringIO(report.csv)))
    assert len(rows) == len(CURVES) * len(buckets)
    first = rows[0]
    curve = sig.curves["test"][first["variant"]].buckets[0]
    assert float(first["bleu"]) == curve.bleu and int(first["seeds"]) == 2
    assert (float(first["seed_min"]), float(first["seed_max"])) == (curve.seed_min, curve.seed_max)
    assert (float(first["ci_lo"]), float(first["ci_hi"])) == (curve.ci_lo, curve.ci_hi)
    assert first["label"] == CURVES[first["variant"]][0]
    svg = (tmp_path / "figures" / "bleu_vs_length.svg").read_text()
    assert all(f"<!-- {label} -->" in svg for label, _, _ in CURVES.values())
    md = report.markdown
    assert "different corpus, sizes and training budget" in md
    assert "| RNNencdec-50 | `final_state` | 50 |" in md and "| 17.82 | 26.71 |" in md
    assert "| concat_states-50 | `concat_states` | 50 |" in md and "| - | - |" in md
    assert "## The claims, on `test`" in md and "| (e) | RNNsearch-50 beats RNNencdec-50" in md
    settings = JudgeSettings.from_config(judge, list(CURVES))
    assert report.verdicts.settings == settings
    assert "`final_state` seed 1: not trained. Run `dvc repro train@final_state-1`." in md
