"""Resume: a real training process stopped at a chosen step, right after it wrote that step's
checkpoint (SIGSTOP, then SIGKILL), and the stage run again. It continues from that step, with
the optimizer, the schedule and the data order, and ends with exactly the weights of an
uninterrupted run, from each kind of restart point: mid-epoch, at an epoch's end, in a later
epoch. The W&B run continues under the same id. A run killed before a code change starts
afresh. The stages are started from a process with a W&B service of its own (as from a
notebook): a stage that joined it would leave its killed run open there, and the restarted one
could not continue it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import ROOT, child_env, run_module
from tests.models.train_stage import batches_per_epoch, stage_args
from tests.wandb_log import summarize

# dropout 0: with the data order and optimizer state restored, training is then deterministic.
# Smoke's batches give the test corpus 4 per epoch (checked below): validations (and so
# checkpoints) at steps 2, 4, ..., 10.
SETTINGS = [
    "train.max_steps=10",
    "train.val_every_steps=2",
    "logger.every_steps=2",
    "sizes.dropout=0.0",
]
VARIANT = "attention"


def saved_step(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])


def stop_at(step: int, args: list[str], cwd: Path = ROOT) -> Path:
    """Run the stage until it has written step `step`'s checkpoint, then kill it there; the
    checkpoint folder."""
    log = Path(args[args.index("--logs") + 1]).parent / f"stopped-at-{step}.log"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/models/stop_at_step.py"), str(step), *args],
            cwd=cwd,
            env=child_env(cwd, WANDB_SILENT="true"),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        _, status = os.waitpid(proc.pid, os.WUNTRACED)  # once it stopped itself (or ended)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert os.WIFSTOPPED(status), f"ended before step {step}: {log.read_text()[-3000:]}"
    checkpoints = Path(args[args.index("--checkpoints") + 1])
    assert saved_step(checkpoints / "last.ckpt") == step
    return checkpoints


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tokenized) -> tuple[Path, int]:
    """An uninterrupted run (its folder) and the batches per epoch."""
    where = tmp_path_factory.mktemp("reference")
    args = stage_args(where, tokenized[0], VARIANT, *SETTINGS)
    done = run_module("pipelines.train", *args, env={"WANDB_SILENT": "true"})
    assert done.returncode == 0, done.stderr[-3000:]
    per_epoch = batches_per_epoch(where, tokenized[0])
    assert per_epoch == 4  # the restart points below assume it
    return where, per_epoch


@pytest.mark.parametrize(
    "step",
    [  # mid-epoch in the default run; the other two points (15 s each) with the slow tests
        pytest.param(2, id="mid-epoch"),
        pytest.param(4, id="at-the-epoch-end", marks=pytest.mark.slow),
        pytest.param(6, id="in-a-later-epoch", marks=pytest.mark.slow),
    ],
)
def test_a_killed_run_resumes_and_ends_like_an_uninterrupted_one(
    tmp_path, tokenized, reference, wandb_service, step
):
    ref, per_epoch = reference
    args = stage_args(tmp_path, tokenized[0], VARIANT, *SETTINGS)
    stop_at(step, args)
    assert not (tmp_path / "models" / VARIANT).exists()

    resumed = run_module("pipelines.train", *args, env={"WANDB_SILENT": "true"})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr
    facts = json.loads((tmp_path / f"{VARIANT}.json").read_text())
    reference_facts = json.loads((ref / f"{VARIANT}.json").read_text())
    assert facts["steps"] == 10
    assert facts["epochs"] == reference_facts["epochs"] == pytest.approx(10 / per_epoch)
    assert facts["best_step"] == reference_facts["best_step"]

    ours = (tmp_path / "models" / VARIANT / "model.pt").read_bytes()
    theirs = (ref / "models" / VARIANT / "model.pt").read_bytes()
    assert ours == theirs, f"the run resumed from step {step} ended with other weights"

    runs = sorted((tmp_path / "logs" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and runs[0].name[-8:] == runs[1].name[-8:]  # one W&B run id
    second = summarize(next(runs[1].glob("run-*.wandb")))
    steps = [
        row["trainer/global_step"] for row in second["history"] if "trainer/global_step" in row
    ]
    assert min(steps) >= step - 1  # logging picks up where the checkpoint left off


def test_a_run_killed_before_a_code_change_starts_afresh(tmp_path, tokenized):
    """In a copy of the project: stop a run at step 2, change one byte of a module the stage
    runs, run the stage again: it trains from step 0 and says why."""
    project = tmp_path / "project"
    for name in ("src", "pipelines"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    args = stage_args(tmp_path, tokenized[0], VARIANT, *SETTINGS)
    checkpoints = stop_at(2, args, cwd=project)
    run_id = json.loads((checkpoints / "run.json").read_text())["run_id"]
    decoder = project / "src/nmt_bottleneck/models/decoder.py"
    decoder.write_text(decoder.read_text() + "\n# a change\n")

    again = run_module("pipelines.train", *args, cwd=project, env={"WANDB_SILENT": "true"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert "code changed since the checkpoints" in again.stderr
    assert "resuming from" not in again.stderr
    assert json.loads((checkpoints / "run.json").read_text())["run_id"] != run_id
    runs = sorted((tmp_path / "logs" / "wandb").glob("offline-run-*"))
    second = summarize(next(runs[-1].glob("run-*.wandb")))
    steps = [r["trainer/global_step"] for r in second["history"] if "trainer/global_step" in r]
    assert min(steps) <= 1  # trained from the start


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


def test_a_best_checkpoint_ahead_of_the_last_one_is_dropped_on_resuming(tmp_path):
    """A kill between a validation's best.ckpt and last.ckpt writes: resuming removes best.ckpt
    (the resumed run writes it again), and keeps one that is not ahead."""
    import torch

    from nmt_bottleneck.models.resume import BEST, LAST, prepare_run

    folder = tmp_path / "ckpt"
    run = prepare_run(folder, {"lr": 1e-3})
    for best_step, kept in ((4, True), (8, True), (12, False)):
        torch.save({"global_step": 8, "state_dict": {}}, folder / LAST)
        torch.save({"global_step": best_step, "state_dict": {}}, folder / BEST)
        assert prepare_run(folder, {"lr": 1e-3}) == (folder / LAST, run.run_id)
        assert (folder / BEST).is_file() == kept, best_step
