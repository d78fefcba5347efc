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

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from nmt_bottleneck.code_digest import code_digest, project_roots
from nmt_bottleneck.errors import NmtBottleneckError
from nmt_bottleneck.sweep.job import run_job
from pipelines.stage import own_wandb_service

log = logging.getLogger("nmt_bottleneck")


@hydra.main(config_path="../conf", config_name="sweep", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    """One job. Our errors end the sweep with their message: Hydra would print the traceback of
    any exception that leaves the job, and SystemExit passes through it."""
    try:
        hc = HydraConfig.get()
        group = f"sweep-{Path(hc.sweep.dir).name}" if hc.mode.name == "MULTIRUN" else None
        code = code_digest("pipelines.sweep", project_roots(("nmt_bottleneck", "pipelines")))
        return run_job(cfg, hc.runtime.choices["model"], Path(hc.runtime.output_dir), group, code)
    except NmtBottleneckError as e:
        log.error("%s", e)
        raise SystemExit(1) from None


def cli() -> None:
    own_wandb_service()  # a sweep killed in a notebook's terminal must not strand its runs there
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    main()


if __name__ == "__main__":
    cli()
