"""The real pipeline through real DVC in a temporary git repository: `dvc repro` on a small
synthetic config, again (nothing runs), `dvc exp run -S` (only the affected stage runs), local
Hansard-style files from the conventional `corpora/` folder, and a run killed mid-stage that
restarts cleanly."""

from __future__ import annotations

import gzip
import json
import os
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
from tests.wandb_log import summarize

VARIANTS = ("final_state", "concat_states", "attention")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_repro_then_nothing_then_only_what_changed(reproduced, reproduced_copy):
    repo, first = reproduced_copy, reproduced[1]
    assert "Running stage 'download'" in first
    assert "Running stage 'tokenize'" in first
    assert all(f"Running stage 'train@{v}'" in first for v in VARIANTS)

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

    assert all((repo / f"models/{v}/model.pt").is_file() for v in VARIANTS)
    assert sh(repo, "git", "status", "--porcelain").stdout == ""  # all of it committed
    exp = dvc(repo, "exp", "run", "-S", "data.max_len=30")
    assert "Stage 'download' didn't change, skipping" in exp.stdout
    assert "Running stage 'tokenize'" in exp.stdout
    assert yaml.safe_load((repo / "params.yaml").read_text())["data"]["max_len"] == 30
    stats30 = read_json(repo / "reports/data/tokenize_stats.json")
    assert stats30["filter"]["max_len"] == 30
    assert stats30["splits"]["train"]["pairs"] == sum(
        len(s.split()) <= 30 and len(t.split()) <= 30
        for s, t in zip(corpus["train"]["src"], corpus["train"]["tgt"], strict=True)
    )


def test_one_variants_change_reruns_only_that_variant(reproduced_copy):
    repo = reproduced_copy
    exp = dvc(repo, "exp", "run", "-S", "variants.attention.arch.hidden_size=48")
    ran = sorted(
        line.split("'")[1] for line in exp.stdout.splitlines() if line.startswith("Running stage")
    )
    assert ran == ["compare", "evaluate@attention", "report", "train@attention"]
    head = sh(repo, "git", "rev-parse", "--short", "HEAD").stdout.strip()
    written = f"Written at commit `{head}`, with uncommitted changes to `params.yaml`. "
    assert written in (repo / "reports/report.md").read_text()  # not credited to HEAD alone
    config = yaml.safe_load((repo / "models/attention/config.yaml").read_text())
    assert config["arch"]["hidden_size"] == 48
    assert (
        yaml.safe_load((repo / "models/final_state/config.yaml").read_text())["arch"]["hidden_size"]
        == 32
    )


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
                metrics = data.get("metrics", {}).get("reports/eval/attention.json", {})
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


def check_novel_view(repo: Path, srcs: list[str], refs: list[str]) -> None:
    """`test_novel`: the test sentences whose source is no training source up to case, numbers
    and punctuation, scored from the same hypothesis file (BLEU by the sacrebleu command line)."""
    pairs = datasets.load_from_disk(str(repo / "data/corpus"))["train"]
    data = yaml.safe_load((repo / "params.yaml").read_text())["data"]
    lo, hi = data["min_len"], data["max_len"]
    train = [  # the pairs the models trained on: the length filter, written independently
        s
        for s, t in zip(pairs["src"], pairs["tgt"], strict=True)
        if lo <= len(s.split()) <= hi and lo <= len(t.split()) <= hi
    ]
    kept = [i for i, r in enumerate(near_duplicates(srcs, train)) if not r]
    assert 0 < len(kept) < len(srcs)  # the synthetic corpus repeats some short sentences
    report = (repo / "reports/report.md").read_text()
    assert f"`test` without the {len(srcs) - len(kept)} of its {len(srcs)} sentences" in report
    for v in VARIANTS:
        hyps = (repo / f"evaluations/{v}/test.hyp").read_text(encoding="utf-8").split("\n")[:-1]
        view = read_json(repo / f"reports/eval/{v}.details.json")["test_sets"]["test_novel"]
        assert (view["novel_of"], view["sentences"]) == ("test", len(kept))
        assert view["near_duplicates"] == len(srcs) - len(kept)
        expected = sacrebleu_cli([hyps[i] for i in kept], [refs[i] for i in kept], repo.parent / v)
        assert view["bleu"] == expected
        assert sum(b["n"] for b in view["buckets"]) == len(kept)
    assert (repo / "reports/figures/bleu_vs_length_test_novel.png").stat().st_size > 0


def check_evaluation_and_report(repo: Path) -> None:
    """What evaluate, compare and report wrote after a `dvc repro`, checked independently:
    BLEU recomputed by the sacrebleu command line over the written hypotheses, overall and for
    one length bucket; the CSV, figures and report; DVC metrics and plots."""
    corpus = datasets.load_from_disk(str(repo / "data/corpus"))["test"]
    srcs, refs = list(corpus["src"]), list(corpus["tgt"])
    for v in VARIANTS:
        hyps = (repo / f"evaluations/{v}/test.hyp").read_text(encoding="utf-8").split("\n")[:-1]
        assert len(hyps) == len(refs)
        metrics = read_json(repo / f"reports/eval/{v}.json")["test"]
        assert metrics["bleu"] == sacrebleu_cli(hyps, refs, repo.parent / v)
        bucket = read_json(repo / f"reports/eval/{v}.details.json")["test_sets"]["test"]["buckets"][
            1
        ]
        chosen = [
            i
            for i, s in enumerate(srcs)
            if bucket["lo"] <= len(s.split())
            and (bucket["hi"] is None or len(s.split()) <= bucket["hi"])
        ]
        assert bucket["n"] == len(chosen)
        bucket_bleu = sacrebleu_cli(
            [hyps[i] for i in chosen], [refs[i] for i in chosen], repo.parent / f"{v}b"
        )
        assert bucket["bleu"] == bucket_bleu
        scored = BLEU().corpus_score([hyps[i] for i in chosen], [[refs[i] for i in chosen]])
        assert bucket["length_ratio"] == round(scored.sys_len / scored.ref_len, 4)
    check_novel_view(repo, srcs, refs)
    rows = (repo / "reports/bleu_by_length.csv").read_text().splitlines()
    assert rows[0] == "test_set,variant,bucket_lo,bucket_hi,n,bleu,ci_lo,ci_hi,length_ratio"
    buckets = read_json(repo / "reports/eval/attention.details.json")["test_sets"]["test"][
        "buckets"
    ]
    assert len(rows) == 1 + 2 * len(VARIANTS) * len(buckets)  # test and test_novel
    for row in rows[1:]:
        test_set, variant, lo, _, _, bleu, ci_lo, ci_hi, ratio = row.split(",")
        assert float(ci_lo) <= float(bleu) <= float(ci_hi)
        details = read_json(repo / f"reports/eval/{variant}.details.json")["test_sets"][test_set]
        bucket = next(b for b in details["buckets"] if b["lo"] == int(lo))
        assert (float(bleu), float(ratio)) == (bucket["bleu"], bucket["length_ratio"])
    assert rows[-1].split(",")[3] == ""  # the last bucket is open
    for name in ("bleu_vs_length.png", "bleu_vs_length.svg", "bleu_vs_length_test.png"):
        assert (repo / "reports/figures" / name).stat().st_size > 0
    assert list((repo / "reports/figures").glob("attention_attention_test_*.png"))
    report = (repo / "reports/report.md").read_text()
    assert "## Overall" in report and "figures/bleu_vs_length_test.png" in report
    decode = read_json(repo / "reports/eval/attention.details.json")["decode"]
    assert decode["search"] == "greedy"  # smoke: no beam size or length penalty to show
    assert f"- Decoding: greedy search, max length ratio {decode['max_len_ratio']}.\n" in report
    assert all(f"| {v} | test |" in report for v in VARIANTS)
    ratio = buckets[-1]["length_ratio"]  # attention's last bucket, in the reading
    assert f"; output/reference length {ratio:.2f} there)." in report
    check_last_over_best(repo, report, buckets)
    table = report.split("Output length over reference")[1]
    per_variant = [
        read_json(repo / f"reports/eval/{v}.details.json")["test_sets"]["test"]["buckets"]
        for v in VARIANTS
    ]
    for k, b in enumerate(buckets):
        cells = " | ".join(format(bs[k]["length_ratio"], ".2f") for bs in per_variant)
        assert f"| {b['label']} | {cells} |" in table
    base = read_json(repo / "reports/eval/final_state.details.json")["test_sets"]["test"]
    pairs = zip(buckets, base["buckets"], strict=True)
    gains = [f"{a['bleu'] / b['bleu']:.1f}x" if b["bleu"] else "-" for a, b in pairs]
    assert f"attention's BLEU over final_state's, bucket by bucket: {', '.join(gains)}." in report
    facts = read_json(repo / "reports/train/attention.json")
    assert facts["epochs"] > 0 and f"| {facts['steps']} | {facts['epochs']:.3f} |" in report
    check_machine_line(repo, report, facts["machine"])
    significance = read_json(repo / "reports/significance.json")["test_sets"]["test"]
    assert set(significance) == {"concat_states", "attention"}
    shown = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    assert "reports/eval/attention.json" in json.dumps(shown)
    plots = dvc(repo, "plots", "show", "--json", "reports/bleu_by_length.csv").stdout
    assert "attention" in plots and "ci_hi" in plots
    check_report_logged_to_wandb(repo, rows)


def check_last_over_best(repo: Path, report: str, buckets: list[dict]) -> None:
    """How much of its best attention keeps in its last bucket (evaluate's `last_over_best`),
    against the details' own buckets, and its line in the report."""
    fall = read_json(repo / "reports/eval/attention.details.json")["test_sets"]["test"][
        "last_over_best"
    ]
    best = max(buckets, key=lambda b: b["bleu"])
    assert (fall["last"], fall["best"]) == (buckets[-1]["label"], best["label"])
    line = next(x for x in report.splitlines() if x.startswith("- `attention`: best"))
    if fall["value"] is None:  # 30 smoke steps can leave every bucket at 0 BLEU
        assert best["bleu"] < 1e-4 and "(its best is 0;" in line
    else:  # the buckets' BLEU is rounded to 4 places: the quotient of the rounded values is
        # within that rounding of the one evaluate took
        last, top, e = buckets[-1]["bleu"], best["bleu"], 5e-5
        assert (last - e) / (top + e) - e <= fall["value"] <= (last + e) / (top - e) + e
        assert fall["ci_lo"] <= fall["value"] <= fall["ci_hi"]
        assert " of the best, 95% interval " in line


def check_machine_line(repo: Path, report: str, trained_on: dict) -> None:
    """Every stage ran here, in one go: one machine, named once, the one this test runs on."""
    assert trained_on["cpu"] == cpu_model()
    evaluated = read_json(repo / "reports/eval/final_state.details.json")["machine"]
    assert evaluated == trained_on
    cpu, cores, torch, threads = (evaluated[k] for k in ("cpu", "cores", "torch", "torch_threads"))
    assert f"- Machine: {cpu}, {cores} cores, torch {torch}, {threads} threads.\n" in report


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


def test_misused_outputs_give_errors_and_a_report_that_says_what_to_run(reproduced_copy, tmp_path):
    """A truncated hypotheses file names both line counts; a missing variant's evaluation makes
    the report name the stage to run (and still draw the others)."""
    repo = reproduced_copy
    broken = tmp_path / "evaluations"
    sh(repo, "cp", "-r", str(repo / "evaluations"), str(broken))
    hyp = broken / "attention/test.hyp"
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
    assert not (tmp_path / "s.json").exists()

    evals = tmp_path / "eval"
    sh(repo, "cp", "-r", str(repo / "reports/eval"), str(evals))
    (evals / "concat_states.details.json").unlink()
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
        "--out",
        str(out / "report.md"),
    )
    report = (out / "report.md").read_text()
    assert "`concat_states`: not evaluated. Run `dvc repro evaluate@concat_states`." in report
    assert ",concat_states," not in (out / "b.csv").read_text()
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
        "models/attention",
        "--input",
        str(tmp_path / "in.txt"),
    ).stdout.split("\n")[:-1]
    written = (repo / "evaluations/attention/test.hyp").read_text(encoding="utf-8").split("\n")
    assert translated == written[:5]
