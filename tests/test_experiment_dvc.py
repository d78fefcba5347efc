"""A second committed experiment (`python -m pipelines.experiment <name> <overrides>`,
nmt_bottleneck/experiments.py) on a copy of the reproduced smoke pipeline (tests/conftest.py,
`reproduced`, committed): the pair50 curves with seeds [1, 3] run in their own worktree on the
same DVC cache, so the seed-1 trainings the main run already did are restored from DVC's run
cache while seed 3 trains; the results land in reports/<name>/ with the params.yaml and dvc.lock
that made them, and only the results it computed (not the main run's, committed in the checkout
it starts from). A failing run copies nothing and says what to fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from nmt_bottleneck.experiments import WORKTREES
from tests.helpers import ROOT, run_module, sh
from tests.wandb_log import summarize

OVERRIDES = ["data=synthetic", "experiment=smoke", "curves=pair50", "seeds=[1,3]"]
VARIANTS = ("final_state", "attention")  # conf/curves/pair50.yaml


class Ran(NamedTuple):
    repo: Path  # the copy of the reproduced repository the experiment ran in
    printed: str  # the stage logs (DVC's output) and what `python -m pipelines.experiment` printed
    expected: dict  # params.yaml composed from OVERRIDES by compose_params


@pytest.fixture(scope="module")
def ran(reproduced, tmp_path_factory) -> Ran:
    """The experiment `pair`, once for this module: about 2-4 minutes on 2 cores (two
    trainings, four evaluations, compare, report), so its tests are slow."""
    where = tmp_path_factory.mktemp("experiment")
    repo = where / "project"
    shutil.copytree(reproduced[0], repo, symlinks=True)
    composed = run_module(
        "pipelines.compose_params", *OVERRIDES, "--out", str(where / "p.yaml"), cwd=repo
    )
    assert composed.returncode == 0, composed.stderr
    expected = yaml.safe_load((where / "p.yaml").read_text())
    assert (tuple(expected["variants"]), expected["seeds"]) == (VARIANTS, [1, 3])
    done = run_module("pipelines.experiment", "pair", *OVERRIDES, cwd=repo, timeout=1200)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    # DVC's output for each stage is in its log in the worktree (pipelines/repro.py, --logs).
    logs = sorted((repo / WORKTREES / "pair/logs/repro").glob("*.log"))
    assert logs, "no stage logs in the experiment's worktree"
    printed = "".join(log.read_text() for log in logs) + done.stdout + done.stderr
    return Ran(repo, printed, expected)


@pytest.mark.slow
def test_an_experiment_reuses_the_run_cache_and_keeps_its_results(ran):
    repo, printed = ran.repo, ran.printed
    for v in VARIANTS:
        assert f"Stage 'train@{v}-1' is cached - skipping run, checking out outputs" in printed
        assert f"Running stage 'train@{v}-1'" not in printed
        assert f"Running stage 'train@{v}-3'" in printed
        assert f"Running stage 'evaluate@{v}-3'" in printed
    assert "attention_30" not in printed  # not among pair50's curves

    results = repo / "reports/pair"
    for name in ("report.md", "bleu_by_length.csv", "params.yaml", "dvc.lock"):
        assert (results / name).is_file(), name
    assert not (results / "templates").exists()  # code, not results
    assert yaml.safe_load((results / "params.yaml").read_text()) == ran.expected
    lock = yaml.safe_load((results / "dvc.lock").read_text())["stages"]
    main_lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    for v in VARIANTS:
        restored = lock[f"train@{v}-1"]["outs"]
        assert restored == main_lock[f"train@{v}-1"]["outs"]  # the same weights, not retrained
        assert f"train@{v}-3" in lock
    csv = (results / "bleu_by_length.csv").read_text().splitlines()
    assert {row.split(",")[1] for row in csv[1:]} == set(VARIANTS)
    assert {row.split(",")[-1] for row in csv[1:]} == {"2"}  # two seeds per curve

    work = repo / WORKTREES / "pair"
    runs = [summarize(f) for f in (work / "logs/wandb").glob("offline-run-*/run-*.wandb")]
    models = [r for r in runs if r.get("name") != "report"]
    trained = sorted(r["name"] for r in models if "test/bleu" not in r["summary"])
    assert trained == ["attention-3", "final_state-3"]  # no training log for the seed-1 runs
    for v in VARIANTS:  # each evaluation went into its model's run (the main's, for seed 1)
        for seed in (1, 3):
            facts = json.loads((results / f"train/{v}/{seed}.json").read_text())
            (evaluated,) = [
                r for r in models if "test/bleu" in r["summary"] and r["name"] == f"{v}-{seed}"
            ]
            assert evaluated["id"] == facts["logger_run"]["id"]
    status = sh(repo, "git", "status", "--porcelain", "--untracked-files=all").stdout
    assert status and all(line.startswith("?? reports/pair/") for line in status.splitlines())


@pytest.mark.slow
def test_a_failing_experiment_copies_nothing_and_names_the_fix(ran):
    results = ran.repo / "reports/pair"
    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    args = ["pair", *OVERRIDES, "nosuch.key=1"]
    failed = run_module("pipelines.experiment", *args, cwd=ran.repo)
    assert failed.returncode == 1
    assert "Could not override 'nosuch.key'" in failed.stderr + failed.stdout
    assert "nothing was copied" in failed.stderr and "Fix" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert {p: p.read_bytes() for p in results.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_an_experiments_results_are_only_its_own(ran):
    """reports/pair/ holds the per-seed results of pair50's curves and seeds [1, 3] alone, not
    the main run's (attention_30, seed 2) committed in the checkout the experiment started from."""
    results = ran.repo / "reports/pair"
    for kind in ("train", "eval"):
        found = sorted(str(p.relative_to(results / kind)) for p in (results / kind).rglob("*.json"))
        suffixes = [".json"] if kind == "train" else [".json", ".details.json"]
        assert found == sorted(f"{v}/{s}{x}" for v in VARIANTS for s in (1, 3) for x in suffixes)
    assert not list((results / "figures").glob("*attention_30*"))  # no heatmap of it either


def test_an_experiment_name_must_be_a_folder_name(tmp_path):
    args = ["../up", "experiment=smoke", "--root", str(tmp_path)]
    failed = run_module("pipelines.experiment", *args, cwd=ROOT)
    assert failed.returncode == 1
    assert "experiment name '../up': use letters, digits and _" in failed.stderr
    assert not list(tmp_path.iterdir())  # nothing made
