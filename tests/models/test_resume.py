"""Resume: kill a real training process (SIGKILL) after a checkpoint and run the stage again.
It continues from the saved step, with the optimizer and the data order, and ends with exactly
the weights of an uninterrupted run; the W&B run continues under the same id. The stages are
started from a process with a W&B service of its own (as from a notebook): a stage that joined
it would leave its killed run open there, and the restarted one could not continue it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, child_env, run_module
from tests.models.test_train_stage import batches_per_epoch, stage_args
from tests.wandb_log import summarize

# dropout 0: with the data order and optimizer state restored, training is then deterministic
SETTINGS = [
    "train.max_steps=40",
    "train.val_every_steps=5",
    "train.log_every_steps=5",
    "sizes.dropout=0.0",
]


def saved_step(path: Path) -> int | None:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])
    except Exception:  # absent, or being written right now
        return None


def test_a_killed_run_resumes_and_ends_like_an_uninterrupted_one(
    tmp_path, tokenized, wandb_service
):
    data, _ = tokenized
    reference = tmp_path / "reference"
    reference.mkdir()
    done = run_module(
        "pipelines.train",
        *stage_args(reference, data, "attention", *SETTINGS),
        env={"WANDB_SILENT": "true"},
    )
    assert done.returncode == 0, done.stderr[-3000:]

    run = tmp_path / "interrupted"
    run.mkdir()
    args = stage_args(run, data, "attention", *SETTINGS)
    env = child_env(ROOT, WANDB_SILENT="true")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.train", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while (saved_step(run / "checkpoints" / "attention" / "last.ckpt") or 0) < 15:
        assert proc.poll() is None, "training finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    step = saved_step(run / "checkpoints" / "attention" / "last.ckpt")
    assert 15 <= step < 40 and not (run / "models" / "attention").exists()

    resumed = run_module("pipelines.train", *args, env={"WANDB_SILENT": "true"})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr
    facts = json.loads((run / "attention.json").read_text())
    assert facts["steps"] == 40
    reference_facts = json.loads((reference / "attention.json").read_text())
    assert facts["epochs"] == reference_facts["epochs"]  # batches before the kill counted
    assert facts["epochs"] == pytest.approx(40 / batches_per_epoch(run, data), abs=1e-4)

    ours = torch.load(run / "models" / "attention" / "model.pt", weights_only=True)
    theirs = torch.load(reference / "models" / "attention" / "model.pt", weights_only=True)
    assert ours.keys() == theirs.keys()
    for name in ours:
        # the step the run was killed after says which resume went wrong, should one
        torch.testing.assert_close(
            ours[name], theirs[name], rtol=0, atol=0, msg=f"{name} (resumed from step {step})"
        )

    runs = sorted((run / "logs" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and runs[0].name[-8:] == runs[1].name[-8:]  # one W&B run id
    second = summarize(next(runs[1].glob("run-*.wandb")))
    steps = [
        row["trainer/global_step"] for row in second["history"] if "trainer/global_step" in row
    ]
    assert min(steps) >= step - 1  # logging picks up where the checkpoint left off


def test_only_an_unfinished_run_with_the_same_settings_resumes(tmp_path):
    from nmt_bottleneck.models.resume import mark_complete, prepare_run

    first = prepare_run(tmp_path / "ckpt", {"lr": 1e-3})
    assert first.resume_from is None
    (tmp_path / "ckpt" / "last.ckpt").write_bytes(b"checkpoint")
    again = prepare_run(tmp_path / "ckpt", {"lr": 1e-3})
    assert again == (tmp_path / "ckpt" / "last.ckpt", first.run_id)
    mark_complete(tmp_path / "ckpt")
    finished = prepare_run(tmp_path / "ckpt", {"lr": 1e-3})  # e.g. DVC re-runs after a code fix
    assert finished.resume_from is None and finished.run_id != first.run_id
    (tmp_path / "ckpt" / "last.ckpt").write_bytes(b"checkpoint")
    changed = prepare_run(tmp_path / "ckpt", {"lr": 5e-4})
    assert changed.resume_from is None and changed.run_id != finished.run_id
    assert not (tmp_path / "ckpt" / "last.ckpt").exists()  # stale checkpoints are gone
