"""What a training run reports (`TrainResult`): the facts of the run, written by the train
stage as its metrics file (reports/train/<id>/<seed>.json) and read by the report and the
sweep. They depend on the run (wall time, memory, the machine), so they stay out of models/,
which other stages depend on: a byte-identical retrain leaves those stages up to date."""

from __future__ import annotations

import dataclasses
import resource
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch


@dataclass(frozen=True)
class TrainResult:
    variant: str
    seed: int
    steps: int  # optimizer steps trained
    epochs: float | None  # passes over the training data (this rank's share), fractional
    wall_time_s: float  # of this run (a resumed run: since it resumed)
    best_val_loss: float
    best_step: int  # the step of the weights written
    parameters: dict[str, int]  # trainable parameters, in total and per part
    derived: dict[str, int]  # from the data: the regime's pairs, vocabularies, longest source
    peak_memory_mb: dict[str, float]
    machine: dict[str, Any]  # what wall_time_s was measured on
    logger_run: dict[str, str]  # the run it logged to: kind, name (<id>-<seed>), id, group

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def peak_memory_mb() -> dict[str, float]:
    """This process's peak resident memory, and on CUDA the peak memory torch allocated."""
    peak = {"cpu_rss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if torch.cuda.is_available():
        peak["gpu_allocated"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return peak


def epochs_trained(trainer: L.Trainer) -> float | None:
    """Passes over the training data, fractional: steps / batches per epoch (this rank's). Not
    `trainer.current_epoch`, which counts an epoch that max_steps cut short as complete (it
    reads 1 after any part of the first epoch). None when the loader has no length."""
    batches = trainer.num_training_batches
    if not batches or batches == float("inf"):
        return None
    return round(trainer.global_step * trainer.accumulate_grad_batches / batches, 4)
