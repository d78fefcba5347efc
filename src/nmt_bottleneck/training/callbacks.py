"""The train stage's own Lightning callbacks: validate at the last step, save the state a
killed run resumes from at every validation, and take this process's share of the cores."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, Checkpoint
from lightning.pytorch.trainer.states import TrainerFn

from nmt_bottleneck.cores import CoreClaim


class ValidateLastStep(Callback):
    """Validate after the last step too, not only every `val_every_steps`. Lightning validates
    at multiples of `val_check_interval` alone: with the last step not a multiple, the steps
    after the last validation were trained and then lost (the model written is the best
    validated one), and with fewer steps than one interval there was no best checkpoint at all.
    Asking the loop to stop at `max_steps` (which training.trainer derives from max_epochs when
    that is the budget) makes Lightning validate there, as it does for early stopping; when the
    step is a multiple anyway, it validates once."""

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


class SaveLast(Checkpoint):
    """Write `path` (the run's `last.ckpt`: weights, optimizer, scheduler, loop progress, the
    training sampler's position, the other callbacks' state) at the end of every validation.

    Lightning 2.6's ModelCheckpoint(save_last=True) rewrites last.ckpt only when it saves a
    top-k checkpoint, i.e. when the monitored val/loss improved: a killed run then resumed from
    its last improvement, not its last validation. Lightning runs Checkpoint callbacks after
    all others, in the order given: put this one after the ModelCheckpoint, so the file holds
    that validation's best score and EarlyStopping's count. The file is written beside and
    renamed into place, so a kill while writing leaves the previous one whole. A kill after the
    ModelCheckpoint wrote `best.ckpt` and before this write leaves `best.ckpt` a validation
    ahead of `last.ckpt`: harmless, the resumed run replays that validation identically, and
    models/resume.py drops such a `best.ckpt` on resuming."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        partial = self.path.with_name(f".{self.path.name}.partial")
        trainer.save_checkpoint(partial)  # every rank takes part; rank 0 writes
        if trainer.is_global_zero:
            os.replace(partial, self.path)
        trainer.strategy.barrier("SaveLast")


class CoreShare(Callback):
    """This training's threads (nmt_bottleneck.cores): registered and set when fitting starts
    (an integer or null `train.threads` waits there for free cores), re-counted every
    `every_steps` steps for a "share" setting (a peer that came gets its share at once, one
    that ended gives its cores back; a count costs a directory listing and a flock per job,
    microseconds against a step's tenths of a second), and unregistered when fitting ends. Each
    DDP process on a node registers as one job, and none waits (its peers may be the ranks it
    waits for in the first collective)."""

    def __init__(self, setting: int | str | None, every_steps: int = 1) -> None:
        self.claim = CoreClaim(setting, "train.threads")
        self.every_steps = every_steps

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":
            self.claim.acquire(wait=trainer.world_size == 1)  # DDP ranks never wait on each other

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step % self.every_steps == 0:
            self.claim.refresh()

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.claim.release()
