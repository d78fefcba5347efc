"""The Hydra multirun door: two jobs through the same stages' code, in a temporary repository
(real Hydra basic launcher, real W&B offline runs); the SLURM launcher config composes."""

from __future__ import annotations

import csv
import json
import sys

from tests.conftest import dvc, sh
from tests.wandb_log import summarize


def test_a_multirun_of_two_jobs_trains_evaluates_and_summarizes(repo):
    dvc(repo, "repro", "download")
    sweep = repo / "multirun/test"
    sh(
        repo,
        sys.executable,
        "-m",
        "pipelines.sweep",
        "-m",
        "model=final_state,attention",
        f"hydra.sweep.dir={sweep}",
    )
    jobs = sorted(p.parent for p in sweep.glob("*/eval.json"))
    assert [j.name for j in jobs] == ["0", "1"]
    for job, variant in zip(jobs, ["final_state", "attention"], strict=True):
        params = (job / "params.yaml").read_text()
        assert f"variants:\n  {variant}:" in params
        assert (job / f"models/{variant}/model.pt").is_file()
        assert (job / "evaluations/test.hyp").is_file()
        assert json.loads((job / "train.json").read_text())["steps"] == 6  # SMALL's max_steps
        (run,) = (job / "logs/wandb").glob("offline-run-*/run-*.wandb")
        logged = summarize(run)
        assert (logged["name"], logged["group"]) == (variant, "sweep-test")
    assert len(list((repo / "data/sweep").iterdir())) == 1  # tokenized once, shared
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["overrides"] for r in rows] == ["model=final_state", "model=attention"]
    assert all(float(r["test_bleu"]) >= 0 for r in rows)
    assert (sweep / "summary.md").read_text().count("\n") == 4  # header, rule, two jobs


def test_the_slurm_launcher_config_composes(repo):
    shown = sh(
        repo,
        sys.executable,
        "-m",
        "pipelines.sweep",
        "hydra/launcher=slurm",
        "--cfg",
        "hydra",
        "--package",
        "hydra.launcher",
    ).stdout
    assert "hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in shown
    assert "gpus_per_node: 1" in shown
