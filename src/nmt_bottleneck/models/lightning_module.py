"""The LightningModule: thin. The network, the loss, logging and the optimizer; nothing else.

Teacher-forced cross-entropy over real target tokens (pads ignored), with optional label
smoothing in training; validation reports the plain per-token loss and its perplexity, weighted
by tokens across batches (the number checkpoints are selected on). A non-finite training loss
stops training with the step and what to try.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import lightning as L
import torch
from torch.nn import functional as F

from nmt_bottleneck.config import check_arguments
from nmt_bottleneck.data.batching import Batch
from nmt_bottleneck.errors import ConfigError, NmtBottleneckError
from nmt_bottleneck.models.seq2seq import Seq2Seq

OPTIMIZERS = ("adam", "adadelta")
SCHEDULERS = ("none", "plateau", "linear")


def check_schedule(scheduler: str, warmup_steps: int, total_steps: float | None, key: str) -> None:
    """'linear' decays to 0 after `total_steps` optimizer steps, so it needs total_steps >
    warmup_steps, and > 1 (its decay divides by total_steps - max(warmup_steps, 1)). `key`: the
    node holding the schedule (`train`), for the message. total_steps None or < 0: no limit."""
    if scheduler == "linear" and (total_steps is None or total_steps <= max(warmup_steps, 1)):
        steps = "-1 (no limit)" if total_steps is None or total_steps < 0 else total_steps
        raise ConfigError(
            f"scheduler 'linear' ({key}.scheduler) decays to 0 at the last training step, so it "
            f"needs more steps than {key}.warmup_steps (and > 1); got {steps} steps "
            f"({key}.max_steps, or {key}.max_epochs x batches per epoch) and warmup_steps "
            f"{warmup_steps}. Fix: raise {key}.max_steps or {key}.max_epochs, lower "
            f"{key}.warmup_steps, or use scheduler none or plateau."
        )


class TrainingDivergedError(NmtBottleneckError):
    """The training loss became NaN or infinite."""


class Seq2SeqModule(L.LightningModule):
    """Args: model, optimizer "adam" | "adadelta" (the paper's; lr 1.0, rho 0.95, eps 1e-6),
    lr, weight_decay, scheduler "none" | "plateau" (halve lr when val/loss stalls) | "linear"
    (lr rises linearly over warmup_steps, then falls linearly to 0 at the last training step),
    warmup_steps, label_smoothing (training loss only), pad_id. The schedule (lr, scheduler,
    warmup_steps) comes from the `train` settings, shared by every variant; the optimizer,
    weight_decay and label_smoothing from the variant's `optim`. The linear decay ends at the
    Trainer's max_steps (with train.max_epochs, training.fit derives max_steps from it)."""

    def __init__(
        self,
        model: Seq2Seq,
        optimizer: Literal["adam", "adadelta"],
        lr: float,
        weight_decay: float,
        scheduler: Literal["none", "plateau", "linear"],
        warmup_steps: int,
        label_smoothing: float,
        pad_id: int,
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer = {optimizer!r}; valid options: {', '.join(OPTIMIZERS)}.")
        if scheduler not in SCHEDULERS:
            raise ConfigError(f"scheduler = {scheduler!r}; valid options: {', '.join(SCHEDULERS)}.")
        if lr <= 0 or weight_decay < 0 or not 0 <= label_smoothing < 1 or warmup_steps < 0:
            raise ConfigError(
                f"need lr > 0, weight_decay >= 0, 0 <= label_smoothing < 1, warmup_steps >= 0; "
                f"got {lr}, {weight_decay}, {label_smoothing}, {warmup_steps}."
            )
        self.model = model
        self.optimizer_name, self.lr, self.weight_decay = optimizer, lr, weight_decay
        self.scheduler_name, self.warmup_steps = scheduler, warmup_steps
        self.label_smoothing, self.pad_id = label_smoothing, pad_id
        self.val_sums = [0.0, 0]  # summed per-token loss and tokens, this validation epoch

    def loss(self, batch: Batch, label_smoothing: float) -> tuple[torch.Tensor, int]:
        """Mean cross-entropy per real target token, and the number of those tokens."""
        logits = self.model(batch.src, batch.src_lens, batch.tgt_in).logits  # [B, T, V]
        loss = F.cross_entropy(
            logits.flatten(0, 1),
            batch.tgt_out.flatten(),
            ignore_index=self.pad_id,
            label_smoothing=label_smoothing,
        )
        return loss, int((batch.tgt_out != self.pad_id).sum())

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss, tokens = self.loss(batch, self.label_smoothing)
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"training loss is {loss.item()} at step {self.global_step} (epoch "
                f"{self.current_epoch}, batch {batch_idx}). Try: a lower lr, gradient clipping "
                "(trainer.gradient_clip_val, e.g. 1.0), or fp32 instead of bf16."
            )
        self.log("train/loss", loss, prog_bar=True, batch_size=batch.src.shape[0])
        self.log("train/tokens", float(tokens), reduce_fx="sum", batch_size=batch.src.shape[0])
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, tokens = self.loss(batch, 0.0)
        self.val_sums[0] += loss.item() * tokens
        self.val_sums[1] += tokens

    def on_validation_epoch_start(self) -> None:
        self.val_sums = [0.0, 0]

    def on_validation_epoch_end(self) -> None:
        """Token-weighted mean over every validation token, summed across DDP ranks."""
        sums = torch.tensor(self.val_sums, dtype=torch.float64, device=self.device)
        total, tokens = self.trainer.strategy.reduce(sums, reduce_op="sum").tolist()
        nll = total / max(tokens, 1)
        self.log("val/loss", nll, prog_bar=True)
        self.log("val/ppl", math.exp(min(nll, 50.0)))

    def on_train_start(self) -> None:
        for name, count in self.parameter_counts().items():
            self.log(f"params/{name}", float(count), rank_zero_only=True)

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters in total and per part; `context` is the part that differs."""
        parts = {
            "encoder": self.model.encoder,
            "context": self.model.context,
            "decoder": self.model.decoder,
        }
        counts = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
        return {"total": sum(p.numel() for p in self.model.parameters()), **counts}

    def configure_optimizers(self):
        if self.optimizer_name == "adam":
            opt = torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        else:
            opt = torch.optim.Adadelta(
                self.parameters(), lr=self.lr, rho=0.95, eps=1e-6, weight_decay=self.weight_decay
            )
        if self.scheduler_name == "none":
            return opt
        if self.scheduler_name == "linear":
            return {"optimizer": opt, "lr_scheduler": self.linear(opt)}
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": plateau, "monitor": "val/loss", "interval": "epoch"},
        }

    def linear(self, opt: torch.optim.Optimizer) -> dict:
        """Warm-up then linear decay, stepped every optimizer step: factor(step) of lr."""
        total = self.trainer.max_steps
        check_schedule("linear", self.warmup_steps, total, "train")
        warmup = max(self.warmup_steps, 1)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total - step) / (total - warmup))

        return {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, factor), "interval": "step"}


SCHEDULE = ("lr", "scheduler", "warmup_steps")  # Seq2SeqModule arguments set by `train`


def check_optim(optim: Mapping[str, Any], train: Mapping[str, Any], key: str) -> None:
    """The optimizer settings `key` (`variants.<id>.optim`; a sweep's `model.optim`) and the
    schedule in `train`, checked before any data work (a sweep job may tokenize for minutes):
    every Seq2SeqModule argument present, none unknown, and a schedule that fits the training
    length (with `train.max_epochs`, the batches per epoch are known only from the data: the
    check runs again when training starts)."""
    check_arguments(optim, Seq2SeqModule, key, given=("model", "pad_id", *SCHEDULE))
    if train.get("max_steps") is not None:
        check_schedule(train["scheduler"], train["warmup_steps"], train["max_steps"], "train")
