"""The Hydra multirun door: `python -m pipelines.sweep -m model=final_state,attention
data.max_len=30,50` runs one job per combination. A job composes the same conf/ as the DVC
pipeline (conf/sweep.yaml = config.yaml + the job's `model`), writes its composition as the
job's params.yaml, and calls the library functions the DVC stages call: there is no second
implementation. Tokenized data is made once per (corpus, data, tokenizer) setting under
`sweep.cache` and shared by the jobs that need it (`nmt_bottleneck.sweep.tokenized_cache`, safe
for jobs running at once). Each job logs to W&B in the sweep's group (`sweep-<the sweep's
folder name>`); when the multirun ends, a Hydra callback writes the summary table across jobs
(`summary.csv` and `summary.md` in the sweep folder, `nmt_bottleneck.sweep.summary`). A job
stopped by one of our errors logs it, writes it to its folder's `error.txt` and lets the others
run; the summary lists it as failed and the sweep exits 1.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from nmt_bottleneck.code_digest import code_digest, project_roots
from nmt_bottleneck.errors import NmtBottleneckError
from nmt_bottleneck.sweep.job import JobFailed, record_failure, run_job
from pipelines.stage import own_wandb_service

log = logging.getLogger("nmt_bottleneck")


@hydra.main(config_path="../conf", config_name="sweep", version_base="1.3")
def main(cfg: DictConfig) -> dict | JobFailed:
    """One job. Our errors are logged with their message, no traceback. In a multirun the job
    records it (error.txt) and returns a failure marker, so the other jobs run and the summary
    is written (Hydra skips its end callback once a job raises); the summary callback then
    exits 1. A single run exits 1 at once."""
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    try:
        group = f"sweep-{Path(hc.sweep.dir).name}" if hc.mode.name == "MULTIRUN" else None
        code = code_digest("pipelines.sweep", project_roots(("nmt_bottleneck", "pipelines")))
        return run_job(cfg, hc.runtime.choices["model"], out, group, code)
    except NmtBottleneckError as e:
        if hc.mode.name == "MULTIRUN":
            return record_failure(out, e)
        log.error("%s", e)
        raise SystemExit(1) from None


def cli() -> None:
    own_wandb_service()  # a sweep killed in a notebook's terminal must not strand its runs there
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    main()


if __name__ == "__main__":
    cli()
