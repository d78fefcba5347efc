"""The Lightning Trainer of a training run, from the `trainer` (Lightning's settings) and
`train` (length, validation) config and the logging interval (`logger.every_steps`), with the
run's callbacks."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    ProgressBar,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.loggers import Logger

from nmt_bottleneck.models.resume import BEST, LAST
from nmt_bottleneck.training.callbacks import CoreShare, SaveLast, ValidateLastStep


def build_trainer(
    trainer: dict[str, Any],
    train: dict[str, Any],
    checkpoints: Path,
    logger: Logger | bool,
    batches_per_epoch: Callable[[int], int],
    log_every: int,
) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Trainer and its best-checkpoint callback: `best.ckpt` in `checkpoints` when val/loss
    improves, `last.ckpt` at every validation (what a restarted run resumes from). Training
    length: `training_steps`. `log_every` (logger.every_steps): metrics logged, and a log file's
    progress bar redrawn, every that many steps. `train.threads` (or $NMT_THREADS) sets this
    process's torch threads (nmt_bottleneck.cores; absent: torch's default count, waiting for
    free cores beside other registered jobs)."""
    best = ModelCheckpoint(
        dirpath=checkpoints,
        filename=BEST.removesuffix(".ckpt"),
        monitor="val/loss",
        mode="min",
        save_top_k=1,
    )
    built = L.Trainer(
        **trainer,
        max_steps=training_steps(trainer, train, batches_per_epoch),
        val_check_interval=train["val_every_steps"],
        log_every_n_steps=log_every,
        check_val_every_n_epoch=None,
        use_distributed_sampler=False,
        default_root_dir=str(checkpoints),
        logger=logger,
        callbacks=[
            best,
            SaveLast(Path(checkpoints) / LAST),  # after `best`: see SaveLast
            EarlyStopping("val/loss", patience=train["patience"]),
            LearningRateMonitor("step"),
            progress_bar(log_every),
            ValidateLastStep(),
            CoreShare(train.get("threads")),
        ],
    )
    return built, best


def training_steps(
    trainer: dict[str, Any], train: dict[str, Any], batches_per_epoch: Callable[[int], int]
) -> int:
    """The optimizer steps to train: `train.max_steps`, or `train.max_epochs` x the batches per
    epoch of each process (`batches_per_epoch(world_size)`: under DDP each trains its share;
    every epoch is epoch 0's batch count, data/batching.py says why).
    Handing Lightning max_steps either way keeps one code path: the linear schedule ends there,
    and the last step is validated. (Lightning's own max_epochs with the schedule's length from
    `estimated_stepping_batches` loads the training data before training, and then trains one
    batch fewer in the second epoch: checked with Lightning 2.6.)"""
    if train["max_epochs"] is None:
        return train["max_steps"]
    settings = {**trainer, "logger": False, "enable_checkpointing": False}
    world_size = L.Trainer(**settings, enable_progress_bar=False).world_size
    return train["max_epochs"] * batches_per_epoch(world_size)


def progress_bar(refresh_every: int) -> ProgressBar:
    """In a terminal, Lightning's default bar (Rich's, where rich is installed). Anywhere else
    (`dvc repro > log`, `dvc queue logs`, CI) Rich draws nothing until training ends, so there
    tqdm's bar, redrawn every `refresh_every` steps: a log file shows it as it goes."""
    if not sys.stdout.isatty():
        return TQDMProgressBar(refresh_rate=refresh_every)
    try:
        return RichProgressBar()
    except ModuleNotFoundError:
        return TQDMProgressBar()
