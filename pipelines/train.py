"""DVC stage `train@<variant>`: train one variant (`variants.<id>` in params.yaml) on the
tokenized data and write `--out` (models/<id>/): `model.pt` (the best weights on validation
loss, a plain state dict: loads with torch.load(weights_only=True)), `config.yaml` (the
variant's resolved config plus the derived sizes) and `facts.json` (steps, epochs, wall time
and the machine it ran on, best validation loss, parameter counts), also written to `--metrics`
for `dvc metrics show`. Lightning checkpoints (for resuming) live in `--checkpoints`, outside the
DVC output."""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    ProgressBar,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import OmegaConf

from nmt_bottleneck.atomic import atomic_dir, write_json_atomic
from nmt_bottleneck.config import check_keys
from nmt_bottleneck.data.datamodule import TranslationDataModule
from nmt_bottleneck.data.tokenizer import PAD_ID, load_tokenizers
from nmt_bottleneck.errors import ConfigError, DataError
from nmt_bottleneck.machine import describe
from nmt_bottleneck.models.build import build_seq2seq
from nmt_bottleneck.models.lightning_module import Seq2SeqModule, check_optim
from nmt_bottleneck.models.loggers import make_logger
from nmt_bottleneck.models.resume import mark_complete, prepare_run
from pipelines.stage import load_params, run

log = logging.getLogger("nmt_bottleneck.train")
TRAIN_KEYS = (
    "log_every_steps",
    "max_steps",
    "max_tokens",
    "eval_max_tokens",
    "val_every_steps",
    "patience",
    "lr",
    "scheduler",
    "warmup_steps",
    "num_workers",
    "bucket_batches",
    "max_sentences",
)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    params = load_params(args.params)
    if args.variant not in params.variants:
        raise ConfigError(
            f"unknown variant {args.variant!r}; valid: "
            f"{', '.join(params.variants)}. Fix: --variant or conf/config.yaml."
        )
    spec, train = params.variants[args.variant], params.train
    check_keys(spec, ("arch", "optim"), f"variants.{args.variant}")
    check_keys(train, TRAIN_KEYS, "train")
    check_optim(spec.optim, train.max_steps, f"variants.{args.variant}.optim")
    L.seed_everything(params.seed, workers=True, verbose=False)

    datamodule = TranslationDataModule(
        str(args.data),
        train.max_tokens,
        train.eval_max_tokens,
        train.num_workers,
        params.seed,
        train.bucket_batches,
        train.max_sentences,
    )
    datamodule.setup()
    tokenizers = load_tokenizers(args.tokenizer)
    derived = {
        "max_src_len": max(rows.longest_source() for rows in datamodule.rows.values()),
        "src_vocab": tokenizers.src.get_piece_size(),
        "tgt_vocab": tokenizers.tgt.get_piece_size(),
    }
    model = build_seq2seq(
        spec.arch,
        derived["src_vocab"],
        derived["tgt_vocab"],
        f"variants.{args.variant}.arch",
        derived["max_src_len"],
    )
    module = Seq2SeqModule(model, **OmegaConf.to_container(spec.optim), pad_id=PAD_ID)
    config = {"variant": args.variant, **OmegaConf.to_container(spec), "derived": derived}
    state = prepare_run(
        args.checkpoints,
        {
            "variant": config,
            "train": OmegaConf.to_container(train),
            "trainer": OmegaConf.to_container(params.trainer),
            "seed": params.seed,
            "data": split_fingerprint(args.data, "train"),
        },
        primary=rank_zero_only.rank == 0,
    )
    trainer, checkpoint = build_trainer(params, args, config, state.run_id)
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # Lightning warns when the checkpoint folder is not empty, lest two runs' checkpoints
            # mix. prepare_run has settled what it holds (a fresh run's run.json alone, or the
            # checkpoints of the run being resumed), so here the warning is only noise.
            warnings.filterwarnings("ignore", r"Checkpoint directory .* exists and is not empty")
            trainer.fit(
                module, datamodule=datamodule, ckpt_path=state.resume_from, weights_only=True
            )
    finally:
        finish_run(trainer.logger)
    if trainer.is_global_zero:
        write_outputs(args, trainer, checkpoint, module, config, time.perf_counter() - started)
        mark_complete(args.checkpoints)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="id under `variants` in params.yaml")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--data", type=Path, required=True, help="tokenize stage DatasetDict")
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="models/<variant>/")
    parser.add_argument("--metrics", type=Path, required=True, help="facts JSON (DVC metric)")
    parser.add_argument("--checkpoints", type=Path, required=True, help="resumable checkpoints")
    parser.add_argument("--logs", type=Path, default=Path("logs"))
    parser.add_argument("--group", help="W&B group (default: <data.name>-<profile>)")
    return parser.parse_args(argv)


def build_trainer(params, args, config: dict, run_id: str) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Trainer from `trainer` and `train` settings; `last.ckpt` is saved at every validation
    (what a restarted stage resumes from), `best.ckpt` when val/loss improves."""
    train = params.train
    checkpoint = ModelCheckpoint(
        dirpath=args.checkpoints,
        filename="best",
        monitor="val/loss",
        mode="min",
        save_top_k=1,
        save_last=True,
    )
    logger = make_logger(
        **OmegaConf.to_container(params.logger),
        run=args.variant,
        group=args.group or f"{params.data.name}-{params.profile}",
        config=config,
        save_dir=args.logs,
        run_id=run_id,
    )
    trainer = L.Trainer(
        **OmegaConf.to_container(params.trainer),
        max_steps=train.max_steps,
        val_check_interval=train.val_every_steps,
        log_every_n_steps=train.log_every_steps,
        check_val_every_n_epoch=None,
        use_distributed_sampler=False,
        default_root_dir=str(args.checkpoints),
        logger=logger,
        callbacks=[
            checkpoint,
            EarlyStopping("val/loss", patience=train.patience),
            LearningRateMonitor("step"),
            progress_bar(train.log_every_steps),
            ValidateLastStep(),
        ],
    )
    return trainer, checkpoint


class ValidateLastStep(Callback):
    """Validate after the last step too, not only every `val_every_steps`. Lightning validates
    at multiples of `val_check_interval` alone: with `max_steps` not a multiple, the steps after
    the last validation were trained and then lost (the model written is the best validated
    one), and with `max_steps` under one interval there was no best checkpoint at all (only the
    `last.ckpt` that ModelCheckpoint saves when training ends). Asking the loop to stop at
    `max_steps` makes Lightning validate there, as it does for early stopping; when the step is
    a multiple anyway, it validates once."""

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


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


def split_fingerprint(data: Path, split: str) -> str:
    """The `datasets` fingerprint of a split saved under `data` (a DatasetDict folder): of the
    encoded training split, it changes with the corpus and the tokenizer."""
    state = json.loads((Path(data) / split / "state.json").read_text())
    return state["_fingerprint"]


def finish_run(logger) -> None:
    """Close the W&B run (Lightning leaves it open), so its summary and files are written."""
    if isinstance(logger, WandbLogger) and logger._experiment is not None:
        logger.experiment.finish()


def peak_memory_mb() -> dict[str, float]:
    """This process's peak resident memory, and on CUDA the peak memory torch allocated."""
    peak = {"cpu_rss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if torch.cuda.is_available():
        peak["gpu_allocated"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return peak


def epochs_trained(trainer: L.Trainer) -> float | None:
    """Passes over the training data, fractional: batches trained on / batches per epoch (this
    rank's). Not `trainer.current_epoch`, which counts an epoch that `max_steps` cut short as
    complete (it reads 1 after any part of the first epoch). None when the loader has no
    length."""
    batches = trainer.num_training_batches
    if not batches or batches == float("inf"):
        return None
    done = trainer.fit_loop.epoch_loop.batch_progress.total.completed
    return round(done / batches, 4)


def write_outputs(args, trainer, checkpoint, module, config, wall_s: float) -> None:
    """models/<variant>/ (atomically) and the metrics JSON, from the best checkpoint."""
    path = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
    if path is None or not path.is_file():
        raise DataError(
            f"{args.checkpoints}: training ended at step {trainer.global_step} with no validated "
            f"checkpoint to take the weights from ({path or 'none was saved'}); a checkpoint "
            "folder left by an interrupted older run can do this. Fix: delete "
            f"{args.checkpoints} and run the stage again."
        )
    best = torch.load(path, map_location="cpu", weights_only=True)
    weights = {k.removeprefix("model."): v for k, v in best["state_dict"].items()}
    facts = {
        "variant": config["variant"],
        "steps": trainer.global_step,
        "epochs": epochs_trained(trainer),
        "wall_time_s": round(wall_s, 1),
        "best_val_loss": round(float(checkpoint.best_model_score), 5),
        "best_step": int(best["global_step"]),
        "parameters": module.parameter_counts(),
        "derived": config["derived"],
        "peak_memory_mb": peak_memory_mb(),
        "machine": describe(trainer.strategy.root_device, trainer.world_size),
    }
    with atomic_dir(args.out) as tmp:
        torch.save(weights, tmp / "model.pt")
        OmegaConf.save(OmegaConf.create(config), tmp / "config.yaml")
        write_json_atomic(facts, tmp / "facts.json")
    write_json_atomic(facts, args.metrics)
    log.info(
        "%s: %d steps in %.0f s, best val/loss %.4f at step %d; wrote %s",
        facts["variant"],
        facts["steps"],
        wall_s,
        facts["best_val_loss"],
        facts["best_step"],
        args.out,
    )


if __name__ == "__main__":
    run(main)
