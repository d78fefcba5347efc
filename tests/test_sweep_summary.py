"""The sweep's summary on sweep folders made by hand (tests/sweep_folders.py: scored by the
evaluate stage's own code over a saved corpus): groups and their labels; one CSV row per job
and bucket, equal to the jobs' eval.details.json, and a failed job's row; each group's curve
and its paired tests against the baseline group, checked against sacrebleu on the hypotheses
(tests/seeded.py); groups scored in other buckets left out and named; the W&B run
`sweep-summary` (real W&B, offline, in a child process), and a failure to log that keeps the
files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from nmt_bottleneck.sweep.comparison import compare_groups
from nmt_bottleneck.sweep.figure import figure_curves
from nmt_bottleneck.sweep.groups import group_jobs
from nmt_bottleneck.sweep.jobs import read_jobs
from nmt_bottleneck.sweep.summary import COLUMNS, SweepSummary
from tests.helpers import run_module
from tests.seeded import bleu, system, two_level
from tests.sweeps import (
    EVAL,
    WANDB_LOGGER,
    check_summary_run,
    failed_job,
    finished_job,
    same,
    saved_corpus,
)


def end_multirun(sweep: Path) -> None:
    """What Hydra calls when the multirun ends."""
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}})
    SweepSummary().on_multirun_end(config=config)


def labels_and_seeds(sweep: Path) -> list[tuple[str, list]]:
    return [(g.label, [j.seed for j in g.jobs]) for g in group_jobs(read_jobs(sweep))]


def test_groups_are_the_jobs_that_differ_only_in_their_seed_named_by_the_sweeps_axes(tmp_path):
    axes = tmp_path / "axes"  # model and data.max_len vary; train.max_steps does not
    jobs = [
        ("final_state", ["model=final_state", "data.max_len=30", "seed=1", "train.max_steps=9"]),
        ("final_state", ["model=final_state", "data.max_len=30", "seed=2", "train.max_steps=9"]),
        ("attention", ["model=attention", "data.max_len=30", "seed=1", "train.max_steps=9"]),
        ("attention", ["model=attention", "data.max_len=50", "seed=1", "train.max_steps=9"]),
        ("attention", ["model=attention", "data.max_len=50", "seed=2", "train.max_steps=9"]),
    ]
    for k, (variant, overrides) in enumerate(jobs):
        failed_job(axes, str(k), overrides, None, variant)
    assert labels_and_seeds(axes) == [
        ("model=final_state data.max_len=30", [1, 2]),
        ("model=attention data.max_len=30", [1]),
        ("model=attention data.max_len=50", [1, 2]),
    ]
    assert [g.variant for g in group_jobs(read_jobs(axes))] == [
        "final_state",
        "attention",
        "attention",
    ]
    seeds_only = tmp_path / "seeds_only"  # one group: named by its other overrides
    for k in (1, 2):
        failed_job(seeds_only, str(k), ["data.max_len=30", f"seed={k}"], None)
    assert labels_and_seeds(seeds_only) == [("data.max_len=30", [1, 2])]
    bare = tmp_path / "bare"  # nothing but the seed: named by the variant
    for k in (1, 2):
        failed_job(bare, str(k), [f"+seed={k}"], None, "final_state")
    assert labels_and_seeds(bare) == [("final_state", [1, 2])]


def test_the_summary_callback_tabulates_every_job_and_bucket_once_and_exits_1_if_one_failed(
    tmp_path,
):
    srcs, refs = saved_corpus(tmp_path)
    sweep = tmp_path / "multirun"
    jobs = {"0": 0.9, "1": 0.8, "10": 0.7, "2": 0.6}  # job 10 sorts after 2, as Hydra numbers them
    details = {}
    for name, quality in jobs.items():
        hyps = system(refs, srcs, quality, 0.05, int(name))
        overrides = [f"train.max_steps={5 + int(name)}"]
        details[name] = finished_job(sweep, name, overrides, hyps, seed=1)
    failed_job(sweep, "11", ["seed=11"], "train.warmup_steps = 9: first line\nsecond line")
    failed_job(sweep, "12", ["seed=12"], None)  # killed: left nothing
    with pytest.raises(SystemExit) as exit_:
        end_multirun(sweep)
    assert exit_.value.code == 1
    order = sorted(jobs, key=int)
    with (sweep / "summary.csv").open() as f:
        assert next(csv.reader(f)) == COLUMNS
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    expected = [
        (j, b) for j in order for b in details[j]["test_sets"]["test"]["buckets"]
    ]  # the whole test set's buckets: the `test_novel` view has no rows
    assert len(rows) == len(expected) + 2
    for row, (job, bucket) in zip(rows, expected, strict=False):
        scored = details[job]["test_sets"]["test"]
        assert (row["job"], row["status"], row["test_set"], row["error"]) == (job, "ok", "test", "")
        assert row["overrides"] == row["group"] == f"train.max_steps={5 + int(job)}"
        assert (row["seed"], int(row["steps"])) == ("1", 5 + int(job))
        assert float(row["best_val_loss"]) == 1 / (5 + int(job))
        assert (float(row["set_bleu"]), float(row["set_chrf"])) == (scored["bleu"], scored["chrf"])
        assert row["bucket"] == bucket["label"]
        for key in ("lo", "hi", "n", "bleu", "ci_lo", "ci_hi", "length_ratio"):
            column = {"lo": "bucket_lo", "hi": "bucket_hi"}.get(key, key)
            assert same(row[column], bucket[key]), (job, key)
    assert [(r["job"], r["status"], r["seed"]) for r in rows[-2:]] == [
        ("11", "failed", "11"),
        ("12", "failed", "12"),
    ]
    assert [r["error"] for r in rows[-2:]] == [
        "train.warmup_steps = 9: first line",
        "no eval.json and no error.txt",
    ]
    assert all(r["test_set"] == r["bleu"] == "" for r in rows[-2:])
    text = (sweep / "summary.md").read_text()
    lines = text.split("## Jobs\n\n")[1].splitlines()
    assert lines[0] == (
        "| job | overrides | group | seed | status | steps | best val loss | BLEU `test` | error |"
    )
    assert len(lines) == 2 + len(jobs) + 2
    bleu_0 = details["0"]["test_sets"]["test"]["bleu"]
    assert lines[2] == (
        f"| 0 | train.max_steps=5 | `train.max_steps=5` | 1 | ok | 5 | 0.200 | {bleu_0:.2f} |  |"
    )
    assert lines[-1] == (
        "| 12 | seed=12 | `attention` | 12 | failed | - | - | - | no eval.json and no error.txt |"
    )
    assert "**2 of 6 jobs failed**" in text
    assert "- Left out: `attention`, no job of it finished." in text  # the failed ones' group
    assert sorted(p.name for p in sweep.iterdir() if not p.is_dir()) == [
        "bleu_vs_length_test.png",
        "bleu_vs_length_test.svg",
        "summary.csv",
        "summary.md",
    ]


def test_a_sweep_whose_jobs_all_failed_gets_its_tables_and_exits_1(tmp_path):
    sweep = tmp_path / "multirun"
    for k in (1, 2):
        failed_job(sweep, str(k), [f"seed={k}"], f"error {k}")
    with pytest.raises(SystemExit) as exit_:
        end_multirun(sweep)
    assert exit_.value.code == 1
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [(r["group"], r["status"], r["error"]) for r in rows] == [
        ("attention", "failed", "error 1"),
        ("attention", "failed", "error 2"),
    ]
    assert "**2 of 2 jobs failed**" in (sweep / "summary.md").read_text()
    assert not list(sweep.glob("*.png"))


def test_a_group_is_a_curve_over_its_seeds_paired_tested_against_the_baseline_group(tmp_path):
    """Two groups of two seeds; the baseline is judge.baseline's group (final_state), though
    attention's comes first. Each curve's bucket is the mean over seeds of sacrebleu's corpus
    BLEU on the bucket's sentences; the test over the whole set is the two-level paired
    bootstrap as tests/seeded.py computes it, the plain way."""
    srcs, refs = saved_corpus(tmp_path)
    sweep = tmp_path / "multirun"
    hyps = {
        ("attention", 1): system(refs, srcs, 0.8, 0.0, 1),
        ("attention", 2): system(refs, srcs, 0.75, 0.0, 2),
        ("final_state", 1): system(refs, srcs, 0.8, 0.08, 3),
        ("final_state", 2): system(refs, srcs, 0.7, 0.08, 4),
    }
    for k, ((variant, seed), h) in enumerate(hyps.items()):
        overrides = [f"model={variant}", f"seed={seed}"]
        finished_job(sweep, str(k), overrides, h, seed, variant)
    end_multirun(sweep)  # no job failed: no exit
    (c,) = compare_groups(group_jobs(read_jobs(sweep))).values()
    curves = figure_curves(c)
    assert [(d.variant, d.label, d.seeds) for d in curves] == [
        ("model=attention", "model=attention (2 seeds)", 2),
        ("model=final_state", "model=final_state (2 seeds)", 2),
    ]
    lengths = [len(s.split()) for s in srcs]
    for d in curves:
        variant = d.variant.removeprefix("model=")
        for k, (lo, hi) in enumerate(zip(d.los, d.his, strict=True)):
            rows = [i for i, n in enumerate(lengths) if lo <= n and (hi is None or n <= hi)]
            assert d.counts[k] == len(rows)
            per_seed = [bleu(hyps[variant, s], refs, rows) for s in (1, 2)]
            close = {"abs": 5e-5 + 1e-9}  # 4 places
            assert d.bleu[k] == pytest.approx(sum(per_seed) / 2, **close)
            assert (d.seed_min[k], d.seed_max[k]) == pytest.approx(
                (min(per_seed), max(per_seed)), **close
            )
            assert d.ci_lo[k] <= d.bleu[k] <= d.ci_hi[k]
    assert c.baseline == "model=final_state"
    (tests,) = c.tests.values()
    assert list(c.tests) == ["model=attention"]
    assert [t.bucket for t in tests] == ["all", *(b.label for b in c.buckets)]
    everything = list(range(len(refs)))
    system_seeds = [hyps["attention", s] for s in (1, 2)]
    baseline_seeds = [hyps["final_state", s] for s in (1, 2)]
    samples, boot = EVAL["bootstrap_samples"], EVAL["bootstrap_seed"]
    base, sys, p, lo, hi = two_level(system_seeds, baseline_seeds, refs, everything, samples, boot)
    overall = tests[0]
    assert (overall.baseline_bleu, overall.system_bleu) == pytest.approx((base, sys), abs=1e-4)
    assert overall.p_value == pytest.approx(p, abs=1.5 / (samples + 1))
    assert (overall.diff_lo, overall.diff_hi) == pytest.approx((lo, hi), abs=1e-3)
    text = (sweep / "summary.md").read_text()
    assert "![BLEU vs length](bleu_vs_length_test.png)" in text
    assert "### Paired comparisons against `model=final_state`" in text
    gain = f"{sys - base:+.2f} BLEU ({sys:.2f} vs {base:.2f})"
    assert f"| all | {len(refs)} | {gain} | [" in text
    seeds_row = next(x for x in text.splitlines() if x.startswith("| `model=attention` | 1, 2 |"))
    assert f"{sys:.2f} [" in seeds_row  # overall: mean [interval] (seed spread)


def test_a_group_scored_in_other_buckets_is_left_out_and_named(tmp_path):
    srcs, refs = saved_corpus(tmp_path)
    sweep = tmp_path / "multirun"
    for k, min_bucket in enumerate((10, 1000)):
        eval_cfg = {**EVAL, "min_bucket": min_bucket}
        hyps = system(refs, srcs, 0.8, 0.05, k)
        finished_job(sweep, str(k), [f"eval.min_bucket={min_bucket}"], hyps, 1, eval_cfg=eval_cfg)
    end_multirun(sweep)  # no job failed: no exit
    (c,) = compare_groups(group_jobs(read_jobs(sweep))).values()
    assert list(c.curves) == ["eval.min_bucket=10"]
    assert list(c.left_out) == ["eval.min_bucket=1000"]
    assert (
        "its buckets (1+) are not those of eval.min_bucket=10" in c.left_out["eval.min_bucket=1000"]
    )
    text = (sweep / "summary.md").read_text()
    assert "- Left out: `eval.min_bucket=1000`, its buckets (1+)" in text
    assert "One group only: nothing to compare it with." in text


def test_the_summary_is_logged_to_wandb_by_hand_too(tmp_path):
    """`python -m nmt_bottleneck.sweep.summary`: the W&B offline run `sweep-summary` in the
    sweep's group holds the table (summary.csv's rows) and the figure, and summary.md as an
    artifact."""
    srcs, refs = saved_corpus(tmp_path)
    sweep = tmp_path / "multirun"
    hyps = system(refs, srcs, 0.8, 0.05, 1)
    finished_job(sweep, "0", ["seed=1"], hyps, 1, logger=WANDB_LOGGER)
    done = run_module("nmt_bottleneck.sweep.summary", str(sweep))
    assert done.returncode == 0, done.stderr
    assert "sweep summary: 1 jobs in" in done.stderr
    check_summary_run(sweep)


def test_a_failure_to_log_to_wandb_keeps_the_summary_files_and_exits_1(tmp_path, caplog):
    srcs, refs = saved_corpus(tmp_path)
    sweep = tmp_path / "multirun"
    broken = {**WANDB_LOGGER, "mode": "nowhere"}  # W&B refuses this mode, before it starts
    finished_job(sweep, "0", ["seed=1"], system(refs, srcs, 0.8, 0.05, 1), 1, logger=broken)
    with pytest.raises(SystemExit) as exit_:
        end_multirun(sweep)
    assert exit_.value.code == 1
    assert "W&B run sweep-summary (group sweep-multirun) not logged" in caplog.text
    for name in ("summary.csv", "summary.md", "bleu_vs_length_test.png"):
        assert (sweep / name).stat().st_size > 0, name
