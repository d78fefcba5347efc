"""The real pipeline through real DVC in a temporary git repository: `dvc repro` on a small
synthetic config, again (nothing runs), `dvc exp run -S` (only the affected stage runs), local
Hansard-style files from the conventional `corpora/` folder, and a run killed mid-stage that
restarts cleanly."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest
import yaml
from sacrebleu.metrics import BLEU

from nmt_bottleneck.data.near_duplicates import near_duplicates
from nmt_bottleneck.machine import cpu_model
from tests.helpers import (
    dvc,
    process_state,
    sh,
    stop_on_open,
)
from tests.wandb_eval import check_evaluation_logged
from tests.wandb_log import md5_base64, summarize

VARIANTS = ("final_state", "attention_30", "attention")  # conf/curves/smoke.yaml
SEEDS = (1, 2)  # conf/experiment/smoke.yaml
RUNS = [(v, s) for v in VARIANTS for s in SEEDS]  # every (variant, seed) trains once


TRAIN_EVAL_DETAILS = (("train", ".json"), ("eval", ".json"), ("eval", ".details.json"))


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def stages_run(stdout: str) -> list[str]:
    """The stages DVC says it ran, sorted."""
    return sorted(x.split("'")[1] for x in stdout.splitlines() if x.startswith("Running stage"))


def test_repro_then_nothing_then_only_what_changed(reproduced, reproduced_copy):
    repo, first = reproduced_copy, reproduced[1]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert (tuple(params["variants"]), tuple(params["seeds"])) == (VARIANTS, SEEDS)
    assert stages_run(first) == sorted(
        ["download", "tokenize", "compare", "report"]
        + [f"{stage}@{v}-{s}" for stage in ("train", "evaluate") for v, s in RUNS]
    )

    manifest = read_json(repo / "reports/data/manifest.json")
    assert {k: v["pairs"] for k, v in manifest["splits"].items()} == {
        "train": 1500,
        "valid": 100,
        "test": 200,
    }
    corpus = datasets.load_from_disk(str(repo / "data/corpus"))
    expected_kept = sum(
        len(s.split()) <= 50 and len(t.split()) <= 50
        for s, t in zip(corpus["train"]["src"], corpus["train"]["tgt"], strict=True)
    )
    stats = read_json(repo / "reports/data/tokenize_stats.json")
    assert stats["splits"]["train"]["pairs"] == expected_kept
    tokenized = datasets.load_from_disk(str(repo / "data/tokenized"))
    assert tokenized["train"].num_rows == expected_kept
    assert tokenized["test"].num_rows == 200  # evaluation splits are never filtered
    assert {"src", "tgt", "line", "src_words", "src_ids", "tgt_ids"} <= set(
        tokenized["test"].column_names
    )

    check_evaluation_and_report(repo)
    pipeline = sh(repo, "git", "rev-parse", "--short", "HEAD~1").stdout.strip()  # before the run
    assert f"Written at commit `{pipeline}`. " in (repo / "reports/report.md").read_text()
    lock = (repo / "dvc.lock").read_text()
    second = dvc(repo, "repro")
    assert "Running stage" not in second.stdout
    assert "up to date" in second.stdout
    assert (repo / "dvc.lock").read_text() == lock

    metrics = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    assert "reports/data/tokenize_stats.json" in json.dumps(metrics)

    assert all((repo / f"models/{v}/{s}/model.pt").is_file() for v, s in RUNS)
    assert sh(repo, "git", "status", "--porcelain").stdout == ""  # all of it committed
    # the widest regime: tokenize alone (final_state's and attention's regime, 50 words, would
    # no longer fit within data.max_len = 30: the train stage refuses it, tests/models)
    exp = dvc(repo, "exp", "run", "-S", "data.max_len=30", "tokenize")
    assert "Stage 'download' didn't change, skipping" in exp.stdout
    assert stages_run(exp.stdout) == ["tokenize"]
    assert yaml.safe_load((repo / "params.yaml").read_text())["data"]["max_len"] == 30
    stats30 = read_json(repo / "reports/data/tokenize_stats.json")
    assert stats30["filter"]["max_len"] == 30
    assert stats30["splits"]["train"]["pairs"] == sum(
        len(s.split()) <= 30 and len(t.split()) <= 30
        for s, t in zip(corpus["train"]["src"], corpus["train"]["tgt"], strict=True)
    )


@pytest.mark.slow  # a re-run through DVC: 1-1.5 min (README, Tests)
def test_one_variants_change_reruns_only_that_variant(reproduced_copy):
    repo = reproduced_copy
    exp = dvc(repo, "exp", "run", "-S", "variants.attention.arch.hidden_size=48")
    assert stages_run(exp.stdout) == [
        "compare",
        "evaluate@attention-1",
        "evaluate@attention-2",
        "report",
        "train@attention-1",
        "train@attention-2",
    ]
    head = sh(repo, "git", "rev-parse", "--short", "HEAD").stdout.strip()
    written = f"Written at commit `{head}`, with uncommitted changes to `params.yaml`. "
    assert written in (repo / "reports/report.md").read_text()  # not credited to HEAD alone
    for seed in SEEDS:
        config = yaml.safe_load((repo / f"models/attention/{seed}/config.yaml").read_text())
        assert config["arch"]["hidden_size"] == 48
        for other in ("final_state", "attention_30"):  # attention_30 extends attention's file
            config = yaml.safe_load((repo / f"models/{other}/{seed}/config.yaml").read_text())
            assert config["arch"]["hidden_size"] == 32


@pytest.mark.slow
def test_queued_experiments_run_and_exp_show_lists_their_params_and_bleu(reproduced_copy):
    """`dvc exp run --queue` twice, then `--run-all`: both run (in DVC's own temporary
    workspaces, from the cache) and `dvc exp show` lists each one's parameter and BLEU.
    About 1.5 minutes on 2 cores: slow, so the default run stays well under 10 minutes."""
    repo = reproduced_copy
    for size in (40, 48):
        queued = dvc(
            repo, "exp", "run", "--queue", "-S", f"variants.attention.arch.hidden_size={size}"
        )
        assert "Queued experiment" in queued.stdout
    dvc(repo, "exp", "run", "--run-all")
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    found = {}
    for commit in shown:
        for exp in commit.get("experiments") or []:
            for rev in exp["revs"]:
                data = rev.get("data") or {}
                params = data.get("params", {}).get("params.yaml", {}).get("data", {})
                size = params.get("variants", {}).get("attention", {}).get("arch", {})
                metrics = data.get("metrics", {}).get("reports/eval/attention/1.json", {})
                if size.get("hidden_size") in (40, 48):
                    found[size["hidden_size"]] = metrics.get("data", {})
    assert sorted(found) == [40, 48]
    for metrics in found.values():
        assert "bleu" in json.dumps(metrics)
    status = dvc(repo, "queue", "status").stdout
    assert "Queued" not in status and "Failed" not in status


def test_local_corpus_from_the_corpora_folder(repo, corpora):
    """`data=hansard_enfr` reads `corpora/hansard_enfr` like a user's set-up; here a real
    2,000-pair slice of the Hansard files stands in for the 934k-pair corpus."""
    written = {}
    stems = ("hansard_enfr/train", "hansard_enfr/valid_unseen", "hansard_enfr/test_unseen")
    for stem in (*stems, "wmt14_newstest_enfr/test"):
        (repo / "corpora" / stem).parent.mkdir(parents=True, exist_ok=True)
        for lang in ("en", "fr"):
            with gzip.open(corpora / f"{stem}.{lang}.gz", "rt") as f:
                written[stem, lang] = [next(f) for _ in range(2000 if "train" in stem else 300)]
            with gzip.open(repo / "corpora" / f"{stem}.{lang}.gz", "wt") as f:
                f.writelines(written[stem, lang])
    exp = dvc(
        repo, "exp", "run", "-S", "data=hansard_enfr", "-S", "tokenizer.vocab_size=1000", "tokenize"
    )
    assert "Running stage 'download'" in exp.stdout
    manifest = read_json(repo / "reports/data/manifest.json")
    assert manifest["data"] == "hansard_enfr" and manifest["src_lang"] == "en"
    splits = ("train", "hansard_enfr/train"), ("test", "hansard_enfr/test_unseen")
    for split, stem in (*splits, ("newstest2014", "wmt14_newstest_enfr/test")):
        pairs = zip(written[stem, "en"], written[stem, "fr"], strict=True)
        assert manifest["splits"][split]["pairs"] == sum(
            bool(s.strip()) and bool(t.strip()) for s, t in pairs
        )
    stats = read_json(repo / "reports/data/tokenize_stats.json")
    assert stats["splits"]["test"]["pairs_in"] == manifest["splits"]["test"]["pairs"]
    (repo / "corpora/wmt14_newstest_enfr/test.fr.gz").unlink()  # corpora/ is a dependency
    status = dvc(repo, "status").stdout
    assert "changed deps" in status and "corpora" in status


def test_a_killed_run_restarts_cleanly(repo):
    """Kill `dvc repro` (SIGKILL: no cleanup runs) while the tokenizer is being written, then
    run it again: it restarts the stage, sweeps the leftovers and finishes. The stage stops
    itself at the chosen point (as it opens the tokenizer's last file in its temporary
    folder), is checked while stopped, then killed."""
    log = repo.parent / "repro.log"
    env, marker = stop_on_open(repo, repo.parent, f"{repo}/data/.tokenizer.tmp-*/tokenizer.json")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dvc", "repro", "tokenize"],
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while not (marker.is_file() and process_state(int(marker.read_text())) == "T"):
            assert proc.poll() is None, f"ended without reaching the stop:\n{log.read_text()}"
            time.sleep(0.05)
        (leftover,) = (repo / "data").glob(".tokenizer.tmp-*")  # mid-write: the model, no meta
        assert sorted(p.name for p in leftover.iterdir()) == ["spm.model"]
        assert not (repo / "data/tokenizer").exists()
        assert not (repo / "data/tokenized").exists()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert list((repo / "data").glob(".tokenizer.tmp-*"))  # no cleanup ran: leftovers stay

    again = dvc(repo, "repro", "tokenize")
    assert "Running stage 'tokenize'" in again.stdout
    assert not list((repo / "data").glob(".*tmp-*"))  # the restarted stage swept them
    assert "tokenize" not in dvc(repo, "status", "tokenize").stdout  # nothing left to run
    tokenized = datasets.load_from_disk(str(repo / "data/tokenized"))
    stats = read_json(repo / "reports/data/tokenize_stats.json")
    assert tokenized["train"].num_rows == stats["splits"]["train"]["pairs"]


def sacrebleu_cli(hyps: list[str], refs: list[str], where: Path) -> float:
    """BLEU from the sacrebleu command line on files written here."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "hyp.txt").write_text("".join(f"{h}\n" for h in hyps), encoding="utf-8")
    (where / "ref.txt").write_text("".join(f"{r}\n" for r in refs), encoding="utf-8")
    cli = Path(sys.executable).parent / "sacrebleu"
    out = subprocess.run(
        [str(cli), str(where / "ref.txt"), "-i", str(where / "hyp.txt"), "-b", "-w", "4"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def hyps_of(repo: Path, variant: str, seed: int) -> list[str]:
    path = repo / f"evaluations/{variant}/{seed}/test.hyp"
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def details_of(repo: Path, variant: str, seed: int) -> dict:
    return read_json(repo / f"reports/eval/{variant}/{seed}.details.json")


def check_novel_view(repo: Path, srcs: list[str], refs: list[str]) -> None:
    """`test_novel`: the test sentences whose source is no training source up to case, numbers
    and punctuation, scored from the same hypothesis file (BLEU by the sacrebleu command line)."""
    pairs = datasets.load_from_disk(str(repo / "data/corpus"))["train"]
    data = yaml.safe_load((repo / "params.yaml").read_text())["data"]
    lo, hi = data["min_len"], data["max_len"]
    train = [  # the pairs tokenize kept (the widest regime): the filter, written independently
        s
        for s, t in zip(pairs["src"], pairs["tgt"], strict=True)
        if lo <= len(s.split()) <= hi and lo <= len(t.split()) <= hi
    ]
    kept = [i for i, r in enumerate(near_duplicates(srcs, train)) if not r]
    assert 0 < len(kept) < len(srcs)  # the synthetic corpus repeats some short sentences
    report = (repo / "reports/report.md").read_text()
    assert f"`test` without the {len(srcs) - len(kept)} of its {len(srcs)} sentences" in report
    for v, seed in RUNS:
        hyps = hyps_of(repo, v, seed)
        view = details_of(repo, v, seed)["test_sets"]["test_novel"]
        assert (view["novel_of"], view["sentences"]) == ("test", len(kept))
        assert view["near_duplicates"] == len(srcs) - len(kept)
        where = repo.parent / f"{v}-{seed}"
        expected = sacrebleu_cli([hyps[i] for i in kept], [refs[i] for i in kept], where)
        assert view["bleu"] == expected
        assert sum(b["n"] for b in view["buckets"]) == len(kept)
    assert (repo / "reports/figures/bleu_vs_length_test_novel.png").stat().st_size > 0


def in_bucket(words: int, lo: int, hi: int | None) -> bool:
    return lo <= words and (hi is None or words <= hi)


def check_per_seed_evaluation(repo: Path, srcs: list[str], refs: list[str]) -> None:
    """Each (variant, seed)'s evaluate stage: BLEU recomputed by the sacrebleu command line over
    its hypotheses, overall and for one length bucket."""
    for v, seed in RUNS:
        hyps = hyps_of(repo, v, seed)
        assert len(hyps) == len(refs)
        where = repo.parent / f"{v}-{seed}"
        metrics = read_json(repo / f"reports/eval/{v}/{seed}.json")["test"]
        assert metrics["bleu"] == sacrebleu_cli(hyps, refs, where)
        bucket = details_of(repo, v, seed)["test_sets"]["test"]["buckets"][1]
        chosen = [
            i for i, s in enumerate(srcs) if in_bucket(len(s.split()), bucket["lo"], bucket["hi"])
        ]
        assert bucket["n"] == len(chosen)
        picked = [hyps[i] for i in chosen], [refs[i] for i in chosen]
        assert bucket["bleu"] == sacrebleu_cli(*picked, where / "bucket")
        scored = BLEU().corpus_score(picked[0], [picked[1]])
        assert bucket["length_ratio"] == round(scored.sys_len / scored.ref_len, 4)


def check_seed_aggregation(repo: Path, rows: list[dict], srcs: list[str], refs: list[str]):
    """reports/bleu_by_length.csv on `test`: a variant's `bleu` in a bucket is the mean over
    its seeds of the corpus BLEU (sacrebleu's Python API, here) of that seed's hypotheses in the
    bucket, `seed_min`/`seed_max` their min and max; rounded to 4 places."""
    spread = False
    for row in (r for r in rows if r["test_set"] == "test"):
        lo, hi = int(row["bucket_lo"]), int(row["bucket_hi"]) if row["bucket_hi"] else None
        chosen = [i for i, s in enumerate(srcs) if in_bucket(len(s.split()), lo, hi)]
        assert int(row["n"]) == len(chosen)
        per_seed = []
        for seed in SEEDS:
            hyps = hyps_of(repo, row["variant"], seed)
            picked = [hyps[i] for i in chosen], [[refs[i] for i in chosen]]
            per_seed.append(BLEU().corpus_score(*picked).score)
        close = {"abs": 5e-5 + 1e-9}  # the CSV's 4 places
        assert float(row["bleu"]) == pytest.approx(sum(per_seed) / len(per_seed), **close)
        assert float(row["seed_min"]) == pytest.approx(min(per_seed), **close)
        assert float(row["seed_max"]) == pytest.approx(max(per_seed), **close)
        spread = spread or max(per_seed) > min(per_seed)
    assert spread, "every bucket scores alike over seeds: the check above would prove little"


def check_evaluation_and_report(repo: Path) -> None:
    """What evaluate, compare and report wrote after a `dvc repro`, checked independently:
    BLEU recomputed by sacrebleu over the written hypotheses per (variant, seed) and as the
    mean over seeds; the CSV, figures and report; DVC metrics and plots."""
    corpus = datasets.load_from_disk(str(repo / "data/corpus"))["test"]
    srcs, refs = list(corpus["src"]), list(corpus["tgt"])
    params = yaml.safe_load((repo / "params.yaml").read_text())
    check_per_seed_evaluation(repo, srcs, refs)
    check_novel_view(repo, srcs, refs)
    text = (repo / "reports/bleu_by_length.csv").read_text()
    lines = text.splitlines()
    assert lines[0] == (
        "test_set,variant,bucket_lo,bucket_hi,n,bleu,ci_lo,ci_hi,length_ratio,"
        "label,seed_min,seed_max,seeds"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    buckets = details_of(repo, "attention", 1)["test_sets"]["test"]["buckets"]
    assert len(rows) == 2 * len(VARIANTS) * len(buckets)  # test and test_novel
    for row in rows:
        v, test_set = row["variant"], row["test_set"]
        assert (row["label"], row["seeds"]) == (params["variants"][v]["label"], str(len(SEEDS)))
        assert float(row["seed_min"]) <= float(row["bleu"]) <= float(row["seed_max"])
        if test_set == "test":
            assert float(row["ci_lo"]) <= float(row["bleu"]) <= float(row["ci_hi"])
        else:  # the view's interval over several seeds is not computed
            assert row["ci_lo"] == row["ci_hi"] == ""
        per_seed = [
            next(
                b
                for b in details_of(repo, v, seed)["test_sets"][test_set]["buckets"]
                if b["lo"] == int(row["bucket_lo"])
            )
            for seed in SEEDS
        ]
        ratio = sum(b["length_ratio"] for b in per_seed) / len(per_seed)
        assert float(row["length_ratio"]) == pytest.approx(ratio, abs=1e-4)
        assert int(row["n"]) == per_seed[0]["n"]
    assert rows[-1]["bucket_hi"] == ""  # the last bucket is open
    check_seed_aggregation(repo, rows, srcs, refs)
    for name in ("bleu_vs_length.png", "bleu_vs_length.svg", "bleu_vs_length_test.png"):
        assert (repo / "reports/figures" / name).stat().st_size > 0
    for v in ("attention", "attention_30"):  # heatmaps of the attending variants
        assert list((repo / "reports/figures").glob(f"attention_{v}_test_*.png"))
    report = (repo / "reports/report.md").read_text()
    assert "## Overall" in report and "figures/bleu_vs_length_test.png" in report
    decode = details_of(repo, "attention", 1)["decode"]
    assert decode["search"] == "greedy"  # smoke: no beam size or length penalty to show
    assert f"- Decoding: greedy search, max length ratio {decode['max_len_ratio']}.\n" in report
    assert all(f"| {v} | {s} | test |" in report for v, s in RUNS)
    significance = read_json(repo / "reports/significance.json")
    check_significance(significance, rows)
    curves = significance["curves"]["test"]
    check_last_over_best(report, curves["attention"])
    table = report.split("Output length over reference")[1]
    for b in buckets:
        cells = " | ".join(
            format(float(r["length_ratio"]), ".2f")
            for r in rows
            if r["test_set"] == "test" and r["bucket_lo"] == str(b["lo"])
        )
        assert f"| {b['label']} | {cells} |" in table
    for v, seed in RUNS:
        facts = read_json(repo / f"reports/train/{v}/{seed}.json")
        assert facts["epochs"] > 0 and f"| {facts['steps']} | {facts['epochs']:.3f} |" in report
    check_machine_line(repo, report, facts["machine"])
    shown = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    assert all(f"reports/eval/{v}/{s}.json" in json.dumps(shown) for v, s in RUNS)
    plots = dvc(repo, "plots", "show", "--json", "reports/bleu_by_length.csv").stdout
    assert "attention_30" in plots and "ci_hi" in plots
    check_report_logged_to_wandb(repo, lines)
    check_evaluations_logged_to_wandb(repo, rows)


def check_significance(significance: dict, rows: list[dict]) -> None:
    """reports/significance.json: every variant but the baseline paired-tested against it over
    the seeds, on the whole set and per bucket; each side's BLEU the seed mean of the CSV."""
    assert (significance["baseline"], significance["seeds"]) == ("final_state", list(SEEDS))
    tests = significance["test_sets"]["test"]
    assert set(tests) == {"attention_30", "attention"}
    csv_bleu = {
        (r["variant"], r["bucket_lo"]): float(r["bleu"]) for r in rows if r["test_set"] == "test"
    }
    for v, results in tests.items():
        curve = significance["curves"]["test"][v]
        assert results[0]["bucket"] == "all" and results[0]["n"] == curve["overall"]["n"]
        assert results[0]["system_bleu"] == curve["overall"]["bleu"]
        for result, b in zip(results[1:], curve["buckets"], strict=True):
            assert (result["bucket"], result["n"]) == (b["label"], b["n"])
            assert result["system_bleu"] == csv_bleu[v, str(b["lo"])]
            assert result["baseline_bleu"] == csv_bleu["final_state", str(b["lo"])]
        assert all(0 <= r["p_value"] <= 1 and r["diff_lo"] <= r["diff_hi"] for r in results)


def check_last_over_best(report: str, curve: dict) -> None:
    """How much of its best the seed-mean curve keeps in its last bucket (compare's
    `last_over_best`), against the curve's own buckets, and its line in the report."""
    fall, buckets = curve["last_over_best"], curve["buckets"]
    best = max(buckets, key=lambda b: b["bleu"])
    assert (fall["last"], fall["best"]) == (buckets[-1]["label"], best["label"])
    line = next(x for x in report.splitlines() if x.startswith(f"- `{curve['variant']}`: best"))
    assert f"; output/reference length {buckets[-1]['length_ratio']:.2f} there)." in line
    if fall["value"] is None:  # 6 smoke steps can leave every bucket at 0 BLEU
        assert best["bleu"] < 1e-4 and "(its best is 0;" in line
    else:  # the buckets' BLEU is rounded to 4 places: the quotient of the rounded values is
        # within that rounding of the one compare took
        last, top, e = buckets[-1]["bleu"], best["bleu"], 5e-5
        assert (last - e) / (top + e) - e <= fall["value"] <= (last + e) / (top - e) + e
        assert fall["ci_lo"] <= fall["value"] <= fall["ci_hi"]
        assert " of the best, 95% interval " in line


def check_machine_line(repo: Path, report: str, trained_on: dict) -> None:
    """Every stage ran here, in one go: one machine, named once, the one this test runs on."""
    assert trained_on["cpu"] == cpu_model()
    # training and decoding kept freed memory
    if platform.libc_ver()[0] == "glibc" and os.environ.get("NMT_KEEP_FREED") != "0":
        assert trained_on["allocator"].startswith("glibc: freed memory kept")
    for v, seed in RUNS:
        assert details_of(repo, v, seed)["machine"] == trained_on
    cpu, cores, torch, threads = (trained_on[k] for k in ("cpu", "cores", "torch", "torch_threads"))
    allocator = trained_on["allocator"]
    line = f"- Machine: {cpu}, {cores} cores, torch {torch}, {threads} threads, memory allocator "
    assert f"{line}{allocator}.\n" in report


def check_report_logged_to_wandb(repo: Path, csv_rows: list[str]) -> None:
    """The report stage's offline W&B runs (one per time it ran): named `report` in the
    experiment's group, finished cleanly; the latest holds the per-bucket table (the CSV's
    rows) and the figure."""
    files = sorted((repo / "logs/wandb").glob("offline-run-*/run-*.wandb"))  # by start time
    runs = [summarize(f) | {"dir": f.parent} for f in files]
    reports = [r for r in runs if r.get("name") == "report"]
    assert reports and all(r["group"] == "synthetic-smoke" for r in reports)
    assert all(r["exit_code"] == 0 for r in runs)
    report = reports[-1]
    (logged,) = report["history"]  # one log call; W&B stores each object's fields as key/field
    table, image = "bleu_by_length/", "figures/bleu_vs_length_test/"
    assert (logged[table + "_type"], logged[image + "_type"]) == ("table-file", "image-file")
    stored = json.loads((report["dir"] / "files" / logged[table + "path"]).read_text())
    assert [stored["columns"], *stored["data"]] == [row.split(",") for row in csv_rows]
    assert (report["dir"] / "files" / logged[image + "path"]).stat().st_size > 0
    (artifact,) = [a for a in report["artifacts"] if a["type"] == "report"]  # not the table's
    assert (artifact["name"], artifact["type"]) == ("synthetic-smoke-report", "report")
    kept = [repo / "reports/report.md", *(repo / "reports/figures").iterdir()]
    where = {p.relative_to(repo / "reports").as_posix(): md5_base64(p) for p in kept}
    assert artifact["contents"] == where


def check_evaluations_logged_to_wandb(repo: Path, csv_rows: list[dict]) -> None:
    """Each (variant, seed)'s evaluation went into its training's W&B run (tests/wandb_eval.py),
    and the mean over seeds of the runs' per-bucket BLEU is the report CSV's line (each run's
    BLEU is rounded to 4 places, so the mean is within that rounding)."""
    logged: dict[str, list[list[dict]]] = {}
    for v, seed in RUNS:
        files = [repo / f"reports/{d}/{v}/{seed}{x}" for d, x in TRAIN_EVAL_DETAILS]
        tables = check_evaluation_logged(repo / "logs", *files)
        assert list(tables) == ["test", "test_novel"]
        logged.setdefault(v, []).append(tables["test"])
    for v, per_seed in logged.items():
        csv_line = [r for r in csv_rows if r["test_set"] == "test" and r["variant"] == v]
        assert len(csv_line) == len(per_seed[0])
        for k, row in enumerate(csv_line):
            mean = sum(rows[k]["bleu"] for rows in per_seed) / len(per_seed)
            assert per_seed[0][k]["bucket_lo"] == int(row["bucket_lo"])
            assert abs(mean - float(row["bleu"])) <= 1e-4, (v, row)


@pytest.mark.slow  # a re-run through DVC: 1-1.5 min (README, Tests)
def test_misused_outputs_give_errors_and_a_report_that_says_what_to_run(reproduced_copy, tmp_path):
    """A truncated hypotheses file names both line counts; a missing (variant, seed)'s
    evaluation makes the report name the stage to run (and still draw the others)."""
    repo = reproduced_copy
    broken = tmp_path / "evaluations"
    sh(repo, "cp", "-r", str(repo / "evaluations"), str(broken))
    hyp = broken / "attention/2/test.hyp"
    lines = hyp.read_text().split("\n")[:-1]
    hyp.write_text("".join(f"{h}\n" for h in lines[:-3]))
    args = ["--params", "params.yaml", "--corpus", "data/corpus", "--evaluations", str(broken)]
    result = sh(
        repo,
        sys.executable,
        "-m",
        "pipelines.compare",
        *args,
        "--out",
        str(tmp_path / "s.json"),
        check=False,
    )
    assert result.returncode == 1
    assert f"{len(lines) - 3} lines" in result.stderr and f"{len(lines)}" in result.stderr
    assert "attention/2/test.hyp" in result.stderr
    assert not (tmp_path / "s.json").exists()

    evals = tmp_path / "eval"
    sh(repo, "cp", "-r", str(repo / "reports/eval"), str(evals))
    (evals / "attention_30/2.details.json").unlink()
    out = tmp_path / "report"
    result = sh(
        repo,
        sys.executable,
        "-m",
        "pipelines.report",
        "--params",
        "params.yaml",
        "--train",
        "reports/train",
        "--eval",
        str(evals),
        "--evaluations",
        "evaluations",
        "--significance",
        "reports/significance.json",
        "--data-stats",
        "reports/data/tokenize_stats.json",
        "--csv",
        str(out / "b.csv"),
        "--figures",
        str(out / "figures"),
        "--verdicts",
        str(out / "verdicts.json"),
        "--out",
        str(out / "report.md"),
    )
    report = (out / "report.md").read_text()
    run = "dvc repro evaluate@attention_30-2"
    assert f"- `attention_30` seed 2: not evaluated. Run `{run}`." in report
    assert (out / "figures/bleu_vs_length.png").is_file()
    # the translate command gives what the evaluate stage wrote for the same sentences
    sources = datasets.load_from_disk(str(repo / "data/corpus"))["test"]["src"][:5]
    (tmp_path / "in.txt").write_text("".join(f"{s}\n" for s in sources), encoding="utf-8")
    translated = sh(
        repo,
        sys.executable,
        "-m",
        "pipelines.translate",
        "--model",
        "models/attention/2",
        "--input",
        str(tmp_path / "in.txt"),
    ).stdout.split("\n")[:-1]
    assert translated == hyps_of(repo, "attention", 2)[:5]
