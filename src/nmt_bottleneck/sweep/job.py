"""One job of the Hydra multirun door: tokenize (through the shared cache), train and evaluate
one variant with one training seed (`seed`) with the DVC stages' own library calls
(`fit_variant`, `evaluate_variant`, `log_evaluation`), writing the job folder: params.yaml (the
job's composition), models/<variant>/, train.json, checkpoints/, logs/ (the W&B run, which the
evaluation joins), evaluations/, eval.json and eval.details.json; or, for a job stopped by one
of our errors in a multirun, `error.txt` (`record_failure`), so the summary lists it."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import NamedTuple

from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.atomic import write_json_atomic, write_text_atomic
from nmt_bottleneck.eval.evaluate import evaluate_variant
from nmt_bottleneck.eval.wandb_log import log_evaluation
from nmt_bottleneck.models.loggers import experiment_group
from nmt_bottleneck.sweep.summary import ERROR_FILE
from nmt_bottleneck.sweep.tokenized_cache import tokenized_cache
from nmt_bottleneck.training.fit import check_settings, fit_variant

log = logging.getLogger(__name__)


class JobFailed(NamedTuple):
    """A multirun job's return value when one of our errors stopped it (its message)."""

    error: str


def record_failure(out: Path, error: Exception) -> JobFailed:
    """Log the error that stopped the job in folder `out`, write it to `out/error.txt` for the
    sweep's summary, and return the job's failure marker."""
    log.error("%s", error)
    write_text_atomic(f"{error}\n", out / ERROR_FILE)
    return JobFailed(str(error))


def job_params(cfg: DictConfig, variant: str, out: Path) -> Path:
    """The job's params.yaml: the composition with `variants` = this job's one variant and
    `seeds` = its one training seed (what `dvc repro` would read for it; the job itself passes
    the composition to the library)."""
    params = OmegaConf.to_container(cfg, resolve=True)
    params["variants"] = {variant: params.pop("model")}
    params["seeds"] = [params.pop("seed")]
    params.pop("sweep")
    path = out / "params.yaml"
    OmegaConf.save(OmegaConf.create(params), path)
    return path


def run_job(cfg: DictConfig, variant: str, out: Path, group: str | None, code: str) -> dict:
    """The job composed as `cfg` (conf/sweep.yaml: `model` is the variant's config) for the
    variant id `variant`, in the job folder `out`; `group`: the W&B group (None: the DVC
    pipeline's `<data>-<profile>`); `code`: the digest of the code that runs (the training run's
    fingerprint holds it). Returns the metrics (BLEU and chrF per test set)."""
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))  # sizes.* filled in
    # before tokenizing, which may take minutes
    check_settings(variant, cfg.model, cfg.train, widest=cfg.data.max_len)
    job_params(cfg, variant, out)  # the job's composition, for the record
    data = tokenized_cache(
        Path(cfg.sweep.cache), cfg.sweep.corpus, cfg.sweep.manifest, cfg.data, cfg.tokenizer
    )
    log.info("%s tokenized data: %s", "made" if data.made else "reusing", data.path)
    train_job(variant, cfg, data.path, out, group, code)
    return evaluate_job(variant, cfg, Path(cfg.sweep.corpus), data.path, out)


def train_job(
    variant: str, cfg: DictConfig, data: Path, out: Path, group: str | None, code: str
) -> None:
    """Train `variant` on the cached `data` into the job folder `out` (models/<variant>,
    train.json, checkpoints/, logs/), with the train stage's library call."""
    result = fit_variant(
        variant,
        cfg.model,
        cfg.train,
        cfg.trainer,
        cfg.logger,
        cfg.seed,
        widest=cfg.data.max_len,
        data=data / "tokenized",
        tokenizer=data / "tokenizer",
        out=out / "models" / variant,
        checkpoints=out / "checkpoints",
        logs=out / "logs",
        group=group or experiment_group(cfg.data.name, cfg.profile),
        code=code,
    )
    if result is not None:  # DDP: rank 0 alone
        write_json_atomic(result.as_dict(), out / "train.json")


def evaluate_job(variant: str, cfg: DictConfig, corpus: Path, data: Path, out: Path) -> dict:
    """Evaluate the job's trained `variant` on `corpus`'s test sets into `out` (evaluations/,
    eval.json, eval.details.json) and into its training's W&B run, with the evaluate stage's
    library calls; its metrics."""
    details = evaluate_variant(
        variant,
        cfg.data,
        cfg.eval,
        corpus=corpus,
        trained_on=data / "tokenized",
        tokenizer=data / "tokenizer",
        model=out / "models" / variant,
        out=out / "evaluations",
        accelerator=cfg.trainer.accelerator,
    )
    write_json_atomic(details.to_json(), out / "eval.details.json")
    write_json_atomic(details.metrics(), out / "eval.json")
    if rank_zero_only.rank == 0:  # under DDP, rank 0 alone wrote train.json and logs
        trained = json.loads((out / "train.json").read_text(encoding="utf-8"))
        log_evaluation(cfg.logger, trained, details, out / "logs")
    return details.metrics()
