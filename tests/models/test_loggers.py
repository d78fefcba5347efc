"""W&B runs land in the folder a stage gives them, also when the stage joins a W&B service that
another process started: a stage run from a notebook (or a test) with a live W&B run inherits
WANDB_SERVICE, and that service resolves relative folders from its own working directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT, child_env
from tests.wandb_log import summarize

CHILD = textwrap.dedent(
    """
    from pathlib import Path
    from nmt_bottleneck.models.loggers import make_logger

    logger = make_logger("wandb", "nmt-bottleneck-test", "offline", "child", "joined",
                         {"steps": 3}, Path("logs"))
    for step in range(3):
        logger.log_metrics({"train/loss": 2.0 - step / 2}, step=step)
    logger.experiment.finish()
    """
)


def test_a_run_that_joins_another_process_wandb_service_lands_in_its_own_folder(
    tmp_path, monkeypatch
):
    import wandb

    parent, child = tmp_path / "parent", tmp_path / "child"
    parent.mkdir()
    child.mkdir()
    monkeypatch.chdir(parent)  # the service (if this starts it) works from here
    run = wandb.init(project="nmt-bottleneck-test", mode="offline", dir=str(parent))
    run.finish()
    assert "WANDB_SERVICE" in os.environ  # the service outlives the run; the child joins it
    subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=child,
        env=child_env(PYTHONPATH=str(ROOT / "src"), WANDB_SILENT="true"),
        check=True,
        timeout=300,
    )
    files = list((child / "logs/wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1, sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.wandb"))
    logged = summarize(files[0])
    assert (logged["name"], logged["group"]) == ("child", "joined")
    losses = [row["train/loss"] for row in logged["history"] if "train/loss" in row]
    assert losses == [2.0, 1.5, 1.0]
    assert not list(parent.glob("logs")), "the child's run was written under the service's cwd"
