"""The Hydra multirun door: `python -m pipelines.sweep -m model=final_state,attention
data.max_len=30,50` runs one job per combination. A job composes the same conf/ as the DVC
pipeline (conf/sweep.yaml = config.yaml + the job's `model`), writes its composition as the
job's params.yaml, and calls the library functions the DVC stages call: there is no second
implementation. Tokenized data is made once per (corpus, data, tokenizer) setting under
`sweep.cache` and shared by the jobs that need it (`nmt_bottleneck.sweep.tokenized_cache`, safe
for jobs running at once). Each job logs to W&B in the sweep's group (`sweep-<the sweep's
folder name>`); when the multirun ends, a Hydra callback writes the summary table across jobs
(`summary.csv` and `summary.md` in the sweep folder, `nmt_bottleneck.sweep.summary`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.atomic import write_json_atomic
from nmt_bottleneck.errors import NmtBottleneckError
from nmt_bottleneck.eval.evaluate import evaluate_variant
from nmt_bottleneck.models.lightning_module import check_optim
from nmt_bottleneck.sweep.tokenized_cache import tokenized_cache
from pipelines import train
from pipelines.stage import own_wandb_service

log = logging.getLogger("nmt_bottleneck")


def job_params(cfg: DictConfig, variant: str, out: Path) -> Path:
    """The job's params.yaml: the composition with `variants` = this job's one variant."""
    params = OmegaConf.to_container(cfg, resolve=True)
    params["variants"] = {variant: params.pop("model")}
    params.pop("sweep")
    path = out / "params.yaml"
    OmegaConf.save(OmegaConf.create(params), path)
    return path


@hydra.main(config_path="../conf", config_name="sweep", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    """One job. Our errors end the sweep with their message: Hydra would print the traceback of
    any exception that leaves the job, and SystemExit passes through it."""
    try:
        return run_job(cfg)
    except NmtBottleneckError as e:
        log.error("%s", e)
        raise SystemExit(1) from None


def run_job(cfg: DictConfig) -> dict:
    hc = HydraConfig.get()
    variant, out = hc.runtime.choices["model"], Path(hc.runtime.output_dir)
    check_optim(cfg.model.optim, cfg.train.max_steps, "model.optim")
    params = job_params(cfg, variant, out)
    data = tokenized_cache(
        Path(cfg.sweep.cache), cfg.sweep.corpus, cfg.sweep.manifest, cfg.data, cfg.tokenizer
    )
    log.info("%s tokenized data: %s", "made" if data.made else "reusing", data.path)
    group = f"sweep-{Path(hc.sweep.dir).name}" if hc.mode.name == "MULTIRUN" else None
    train_job(variant, params, data.path, out, group)
    evaluate_job(variant, cfg, Path(cfg.sweep.corpus), data.path, out)
    return json.loads((out / "eval.json").read_text())


def train_job(variant: str, params: Path, data: Path, out: Path, group: str | None) -> None:
    """Train `variant` on the cached `data` into the job folder `out` (models/<variant>,
    train.json, checkpoints/, logs/). The one place the sweep trains."""
    train.main(
        [
            *("--variant", variant, "--params", str(params), "--data", str(data / "tokenized")),
            *("--tokenizer", str(data / "tokenizer"), "--out", str(out / "models" / variant)),
            *("--metrics", str(out / "train.json"), "--checkpoints", str(out / "checkpoints")),
            *("--logs", str(out / "logs")),
            *(("--group", group) if group else ()),
        ]
    )


def evaluate_job(variant: str, cfg: DictConfig, corpus: Path, data: Path, out: Path) -> None:
    """Evaluate the job's trained `variant` on `corpus`'s test sets into `out` (evaluations/,
    eval.json, eval.details.json), with the evaluate stage's library call."""
    details = evaluate_variant(
        variant,
        cfg.data,
        cfg.eval,
        corpus=corpus,
        trained_on=data / "tokenized",
        tokenizer=data / "tokenizer",
        model=out / "models" / variant,
        out=out / "evaluations",
    )
    write_json_atomic(details.to_json(), out / "eval.details.json")
    write_json_atomic(details.metrics(), out / "eval.json")


def cli() -> None:
    own_wandb_service()  # a sweep killed in a notebook's terminal must not strand its runs there
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    main()


if __name__ == "__main__":
    cli()
