"""make_logger's W&B runs land in the folder it is given, also in a process that joined a W&B
service another process started (WANDB_SERVICE inherited, or the library used in a notebook
that already ran W&B): that service resolves relative folders from its own working directory.
The pipeline stages start a service of their own (pipelines/stage.py; tested in
tests/models/test_resume.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.helpers import ROOT, child_env
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
    tmp_path, wandb_service
):
    child = tmp_path / "child"
    child.mkdir()
    assert os.environ["WANDB_SERVICE"] == wandb_service  # the child joins it
    subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=child,
        env=child_env(ROOT, WANDB_SILENT="true"),
        check=True,
        timeout=300,
    )
    files = list((child / "logs/wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1, sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.wandb"))
    logged = summarize(files[0])
    assert (logged["name"], logged["group"]) == ("child", "joined")
    losses = [row["train/loss"] for row in logged["history"] if "train/loss" in row]
    assert losses == [2.0, 1.5, 1.0]
