"""Train one variant with one seed: what the DVC stage `train@<id>-<seed>` and the Hydra sweep
both call.

`fit_variant` builds the data (the training pairs of the variant's regime, `max_len` words at
most), the model and the Trainer from plain settings, resumes an interrupted run of the same
settings and code (models/resume.py) or starts afresh, trains, and writes `out`
(models/<id>/<seed>/): `model.pt` (the best weights on validation loss, a plain state dict
that loads with torch.load(weights_only=True)) and `config.yaml` (the variant's resolved config
plus the sizes derived from the data). Nothing that depends on the run (times, memory, machine)
goes there: that is the returned TrainResult, for the caller's metrics file. Lightning's
checkpoints (for resuming) live in `checkpoints`, outside `out`.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.allocator import keep_freed_memory
from nmt_bottleneck.atomic import atomic_dir
from nmt_bottleneck.code_digest import config_code_digest, project_roots
from nmt_bottleneck.config import check_keys
from nmt_bottleneck.data.corpus import split_fingerprint
from nmt_bottleneck.data.datamodule import TranslationDataModule
from nmt_bottleneck.data.tokenizer import PAD_ID, load_tokenizers
from nmt_bottleneck.errors import ConfigError, DataError
from nmt_bottleneck.machine import describe
from nmt_bottleneck.models.build import build_seq2seq
from nmt_bottleneck.models.lightning_module import Seq2SeqModule, check_optim, check_schedule
from nmt_bottleneck.models.loggers import make_logger
from nmt_bottleneck.models.resume import mark_complete, prepare_run
from nmt_bottleneck.training.result import TrainResult, epochs_trained, peak_memory_mb
from nmt_bottleneck.training.trainer import build_trainer

log = logging.getLogger(__name__)
TRAIN_KEYS = (
    "max_steps",
    "max_epochs",
    "lr",
    "scheduler",
    "warmup_steps",
    "max_tokens",
    "eval_max_tokens",
    "bucket_batches",
    "max_sentences",
    "num_workers",
    "val_every_steps",
    "patience",
    "threads",
)
LOGGER_KEYS = ("kind", "project", "mode", "every_steps")
# A variant's keys: what trains it (`arch`, `optim`, `max_len`: its training regime) and what the
# report shows (`label`, `paper`), which no training reads.
SPEC_KEYS = ("arch", "optim", "max_len", "label", "paper")
TRAINING_KEYS = ("arch", "optim", "max_len")  # the ones config.yaml and the fingerprint hold
# `train` keys that change no weight, left out of the run's fingerprint so that changing one
# resumes an interrupted run: the loader's worker processes (batches are made in the main
# process's order whatever the number of workers: 0 and 2 trained byte-identical weights).
# They stay in the train stage's DVC params (all of `train`): changing one re-runs the stage, to
# the same weights, rather than listing every other `train` key in dvc.yaml one by one.
NOT_IN_FINGERPRINT = ("num_workers",)
PROJECT = ("nmt_bottleneck", "pipelines")  # the packages whose code a run's fingerprint digests


def fit_variant(
    variant: str,
    spec: DictConfig,
    train: DictConfig,
    trainer: DictConfig,
    logger: DictConfig,
    seed: int,
    *,
    widest: int,
    data: Path,
    tokenizer: Path,
    out: Path,
    checkpoints: Path,
    logs: Path,
    group: str,
    code: str,
) -> TrainResult | None:
    """Train `variant` with `seed` and write `out`; the run's facts, or None on DDP ranks other
    than 0.

    Args: variant: the id (`variants.<id>`); spec: its config (`arch`, `optim`, `max_len`: the
    longest training pair it learns from, in words on both sides); train: the
    `train` settings (length, schedule, batches, validation); trainer: Lightning Trainer
    settings; logger: the `logger` settings (kind, project, mode, every_steps: how often to log
    and redraw the progress bar), none of them in the fingerprint; seed; data: the tokenize
    stage's DatasetDict folder, whose training pairs have at most `widest` words (data.max_len);
    tokenizer: its tokenizer folder; out: models/<id>/<seed>/;
    checkpoints: this run's resumable checkpoints; logs: the W&B/CSV folder; group: the W&B
    group; code: a digest of the code that runs (nmt_bottleneck.code_digest), part of the run's
    fingerprint, so a run is never resumed by other code.
    """
    check_settings(variant, spec, train, logger, widest)
    keep_freed_memory()
    log_settings = OmegaConf.to_container(logger)
    every_steps = log_settings.pop("every_steps")
    L.seed_everything(seed, workers=True, verbose=False)
    datamodule = TranslationDataModule(
        str(data),
        train.max_tokens,
        train.eval_max_tokens,
        train.num_workers,
        seed,
        train.bucket_batches,
        train.max_sentences,
        train_max_words=spec.max_len,
    )
    datamodule.setup()
    module, config = build_module(variant, spec, train, datamodule, tokenizer)
    settings = run_settings(config, train, trainer, seed, data, code)
    state = prepare_run(checkpoints, settings, primary=rank_zero_only.rank == 0)
    run_logger = make_logger(
        **log_settings,
        run=run_name(variant, seed),
        group=group,
        config=config,
        save_dir=Path(logs),
        run_id=state.run_id,
    )
    fit, best = build_trainer(
        OmegaConf.to_container(trainer),
        OmegaConf.to_container(train),
        checkpoints,
        run_logger,
        datamodule.train_batches,
        every_steps,
    )
    check_schedule(train.scheduler, train.warmup_steps, fit.max_steps, "train")
    started = time.perf_counter()
    run_fit(fit, module, datamodule, state.resume_from)
    if not fit.is_global_zero:
        return None
    logged = {"kind": logger.kind, "name": run_name(variant, seed), "id": state.run_id}
    result = write_model(
        out, checkpoints, fit, best, module, config, started, seed, {**logged, "group": group}
    )
    mark_complete(checkpoints)
    log.info(
        "%s: %d steps in %.0f s, best val/loss %.4f at step %d; wrote %s",
        *(variant, result.steps, result.wall_time_s, result.best_val_loss, result.best_step, out),
    )
    return result


def run_name(variant: str, seed: int) -> str:
    """The one id of a (variant, seed) run: the W&B run name, as in train@<id>-<seed>."""
    return f"{variant}-{seed}"


def run_settings(
    config: dict[str, Any],
    train: DictConfig,
    trainer: DictConfig,
    seed: int,
    data: Path,
    code: str,
    roots: Mapping[str, Path] | None = None,
) -> dict[str, Any]:
    """The run's fingerprint (models/resume.py): what its weights depend on. The variant's
    resolved `config`, `train` but for NOT_IN_FINGERPRINT, `trainer`, `seed`, the fingerprints
    of the encoded train and valid splits (validation picks the best checkpoint and stops
    early), the `code` digest (the entry's import walk), and `config_code`: the code that the
    config's `_target_`s reach, found in `roots` (default: this process's nmt_bottleneck and
    pipelines), which an import walk from the entry misses (a context class in a new file)."""
    kept = {k: v for k, v in OmegaConf.to_container(train).items() if k not in NOT_IN_FINGERPRINT}
    roots = project_roots(PROJECT) if roots is None else roots
    return {
        "variant": config,
        "train": kept,
        "trainer": OmegaConf.to_container(trainer),
        "seed": seed,
        "data": {split: split_fingerprint(data, split) for split in ("train", "valid")},
        "code": code,
        "config_code": config_code_digest(config, roots),
    }


def run_fit(
    trainer: L.Trainer, module: Seq2SeqModule, datamodule: TranslationDataModule, resume_from
) -> None:
    """trainer.fit, resuming from `resume_from` (a last.ckpt, or None); the W&B run closed."""
    try:
        with warnings.catch_warnings():
            # Lightning warns when the checkpoint folder is not empty, lest two runs' checkpoints
            # mix. prepare_run has settled what it holds (a fresh run's run.json alone, or the
            # checkpoints of the run being resumed), so here the warning is only noise.
            warnings.filterwarnings("ignore", r"Checkpoint directory .* exists and is not empty")
            # Lightning looks for state_dict() on the DataLoader; the sampler's position is the
            # DataModule's state (data/datamodule.py), restored with the checkpoint.
            warnings.filterwarnings("ignore", r".*your dataloader is not resumable")
            trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    finally:
        finish_run(trainer.logger)


def check_settings(
    variant: str,
    spec: DictConfig,
    train: DictConfig,
    logger: DictConfig | None = None,
    widest: int | None = None,
) -> None:
    """Every key present and known, a training regime within `widest` (data.max_len) when
    given, one training length, a schedule that fits, and `logger`'s keys when given: before
    any data work (a sweep job may tokenize for minutes first)."""
    check_keys(spec, SPEC_KEYS, f"variants.{variant}")
    check_regime(variant, spec.get("max_len"), widest)
    if "log_every_steps" in train:
        raise ConfigError(
            "train.log_every_steps is now logger.every_steps (a logging setting: it changes no "
            "weight, so it is not among the train stage's params). Fix: move it in conf/ (or "
            "`-S logger.every_steps=...`), then `make params`."
        )
    check_keys(train, TRAIN_KEYS, "train")
    if logger is not None:
        check_logger(logger)
    if (train.max_steps is None) == (train.max_epochs is None):
        raise ConfigError(
            f"train.max_steps = {train.max_steps} and train.max_epochs = {train.max_epochs}: "
            "set exactly one (the training length in optimizer steps, or in passes over the "
            "data) and the other to null. Fix: conf/experiment/ (or `-S train.max_epochs=5 "
            "train.max_steps=null`), then `make params`."
        )
    check_optim(spec.optim, train, f"variants.{variant}.optim")


def check_regime(variant: str, max_len: object, widest: int | None) -> None:
    """A variant's `max_len`: a positive integer, at most `widest` (data.max_len) when given."""
    key = f"variants.{variant}.max_len"
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ConfigError(
            f"{key} = {max_len!r}: it must be a positive integer, the longest training "
            "sentence in words (30 and 50 are the paper's regimes). Fix: conf/model/ (or "
            f"`-S {key}=50`), then `make params`."
        )
    if widest is not None and max_len > widest:
        raise ConfigError(
            f"{key} = {max_len} exceeds data.max_len = {widest}, the widest regime the tokenize "
            f"stage keeps: the variant would silently train on at most {widest} words. Fix: "
            f"raise data.max_len to {max_len} (re-tokenizes) or lower {key}, then `make params`."
        )


def check_logger(logger: DictConfig) -> None:
    """Known `logger` keys, and a positive `every_steps`."""
    check_keys(logger, LOGGER_KEYS, "logger")
    every = logger.get("every_steps")
    if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
        raise ConfigError(
            f"logger.every_steps = {every!r}: it must be a positive integer (log every N "
            "steps). Fix: conf/logger/ or conf/experiment/ (or `-S logger.every_steps=50`), "
            "then `make params`."
        )


def build_module(
    variant: str, spec: DictConfig, train: DictConfig, datamodule: TranslationDataModule, tokenizer
) -> tuple[Seq2SeqModule, dict[str, Any]]:
    """The LightningModule, and the config written beside the weights: the variant's training
    keys (TRAINING_KEYS), with the sizes derived from the data (vocabularies; the longest
    source of its regime's training pairs and of validation, concat_states' L)."""
    tokenizers = load_tokenizers(tokenizer)
    derived = {
        "train_pairs": len(datamodule.rows["train"]),  # the regime's (spec.max_len)
        "max_src_len": max(rows.longest_source() for rows in datamodule.rows.values()),
        "src_vocab": tokenizers.src.get_piece_size(),
        "tgt_vocab": tokenizers.tgt.get_piece_size(),
    }
    model = build_seq2seq(
        spec.arch,
        derived["src_vocab"],
        derived["tgt_vocab"],
        f"variants.{variant}.arch",
        derived["max_src_len"],
    )
    module = Seq2SeqModule(
        model,
        **OmegaConf.to_container(spec.optim),
        lr=train.lr,
        scheduler=train.scheduler,
        warmup_steps=train.warmup_steps,
        pad_id=PAD_ID,
    )
    trains = {k: OmegaConf.to_container(spec, resolve=True)[k] for k in TRAINING_KEYS}
    return module, {"variant": variant, **trains, "derived": derived}


def finish_run(logger: Logger | None) -> None:
    """Close the W&B run (Lightning leaves it open), so its summary and files are written."""
    if isinstance(logger, WandbLogger) and logger._experiment is not None:
        logger.experiment.finish()


def write_model(
    out: Path,
    checkpoints: Path,
    trainer: L.Trainer,
    best: ModelCheckpoint,
    module: Seq2SeqModule,
    config: dict[str, Any],
    started: float,
    seed: int,
    logger_run: dict[str, str],
) -> TrainResult:
    """`out` (atomically) from the best checkpoint: model.pt and config.yaml; the run's facts
    (`started`: time.perf_counter() when training started; `seed`; `logger_run`: the logger's
    run, which the evaluation of these weights can log to)."""
    path = Path(best.best_model_path) if best.best_model_path else None
    if path is None or not path.is_file():
        raise DataError(
            f"{checkpoints}: training ended at step {trainer.global_step} with no validated "
            f"checkpoint to take the weights from ({path or 'none was saved'}); a checkpoint "
            f"folder left by an interrupted older run can do this. Fix: delete {checkpoints} "
            "and run the stage again."
        )
    saved = torch.load(path, map_location="cpu", weights_only=True)
    weights = {k.removeprefix("model."): v for k, v in saved["state_dict"].items()}
    with atomic_dir(out) as tmp:
        torch.save(weights, tmp / "model.pt")
        OmegaConf.save(OmegaConf.create(config), tmp / "config.yaml")
    return TrainResult(
        variant=config["variant"],
        seed=seed,
        steps=trainer.global_step,
        epochs=epochs_trained(trainer),
        wall_time_s=round(time.perf_counter() - started, 1),
        best_val_loss=round(float(best.best_model_score), 5),
        best_step=int(saved["global_step"]),
        parameters=module.parameter_counts(),
        derived=config["derived"],
        peak_memory_mb=peak_memory_mb(),
        machine=describe(trainer.strategy.root_device, trainer.world_size),
        logger_run=logger_run,
    )
