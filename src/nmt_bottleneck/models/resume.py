"""Resuming an interrupted training run.

A run's checkpoint folder holds Lightning's `last.ckpt` (model, optimizer, scheduler, loop
progress, the training sampler's position), written at every validation, and `run.json`: a
fingerprint of everything that determines the training (variant config, training and Trainer
settings, seed, the fingerprints of the encoded train and valid splits, and a digest of the code
that trains: nmt_bottleneck/code_digest.py) and the W&B run id. A run killed before a code
change is never continued by the new code: the weights it wrote would belong to neither version.
Started again with the same fingerprint, training resumes from `last.ckpt` and logs to the same
W&B run; with a different fingerprint, the old checkpoints are stale and are removed. A run that
finished is marked complete: running the stage again (DVC does when code changed) trains anew
rather than "resuming" a finished run and returning its stale model.

Edges:
- A kill between a validation's `best.ckpt` and its `last.ckpt` (written in that order,
  training/callbacks.py SaveLast) leaves `best.ckpt` a validation ahead of `last.ckpt`. Training
  is deterministic, so the resumed run replays that validation and rewrites `best.ckpt` with the
  same bytes; still, a resume drops such a `best.ckpt` (`drop_best_ahead`), so that the best
  weights can only come from the run being continued, never from steps it has not reached.
- Multi-node DDP started by srun or torchrun (every rank started by the launcher, not by rank
  0): `prepare_run` trusts that rank 0 has decided before the others read `run.json`, which such
  launchers do not promise. A rank may read the previous run's `run.json` (or none yet, and
  fail) and resume or not unlike rank 0: a limitation. There, delete the checkpoint folder
  before a restart whose settings or code changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import torch

from nmt_bottleneck.atomic import write_json_atomic

log = logging.getLogger(__name__)
RUN_FILE, LAST, BEST = "run.json", "last.ckpt", "best.ckpt"


class RunState(NamedTuple):
    resume_from: Path | None  # last.ckpt to resume from, or None for a fresh start
    run_id: str  # the W&B run id (kept across restarts)


def fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def prepare_run(directory: Path, settings: dict[str, Any], primary: bool = True) -> RunState:
    """Decide between resuming and starting afresh in `directory`, and record the run.

    Only the primary process (global rank 0) decides and writes. Under DDP the other ranks are
    started by rank 0 after it decided, and follow its `run.json` without touching anything
    (ranks a launcher starts alongside rank 0 may read it first: the module docstring).
    """
    directory = Path(directory)
    digest = fingerprint(settings)
    run_file, last = directory / RUN_FILE, directory / LAST
    if not primary:
        saved = json.loads(run_file.read_text())
        resumable = last.is_file() and saved["fingerprint"] == digest and not saved.get("complete")
        return RunState(last if resumable else None, saved["run_id"])
    if run_file.is_file() and last.is_file():
        saved = json.loads(run_file.read_text())
        if saved.get("fingerprint") != digest:
            log.info(
                "%s changed since the checkpoints in %s: starting afresh",
                ", ".join(changed(saved.get("settings", {}), settings)) or "the fingerprint",
                directory,
            )
        elif saved.get("complete"):
            log.info("the run in %s had finished: training anew", directory)
        else:
            log.info("resuming from %s (W&B run %s)", last, saved["run_id"])
            drop_best_ahead(directory)
            return RunState(last, saved["run_id"])
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    run_id = uuid.uuid4().hex[:8]
    write_json_atomic({"fingerprint": digest, "run_id": run_id, "settings": settings}, run_file)
    return RunState(None, run_id)


def drop_best_ahead(directory: Path) -> None:
    """Remove `best.ckpt` if it is from a later step than `last.ckpt` (a kill between the two
    writes: the module docstring). The resumed run writes it again when it gets there."""
    best, last = directory / BEST, directory / LAST
    if best.is_file() and checkpoint_step(best) > checkpoint_step(last):
        log.info("%s is ahead of %s (a kill between the two): removed", best, last)
        best.unlink()


def checkpoint_step(path: Path) -> int:
    """The global step a Lightning checkpoint was saved at (memory-mapped: tensors not read)."""
    return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])


def changed(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The top-level settings that differ (e.g. `code`, `train`), for the log."""
    keys = sorted(set(before) | set(now))
    return [k for k in keys if fingerprint({k: before.get(k)}) != fingerprint({k: now.get(k)})]


def mark_complete(directory: Path) -> None:
    """Record that the run in `directory` finished: its checkpoints are not to be resumed."""
    run_file = Path(directory) / RUN_FILE
    saved = json.loads(run_file.read_text())
    write_json_atomic({**saved, "complete": True}, run_file)
