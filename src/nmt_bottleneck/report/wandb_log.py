"""The report's figures and per-bucket table as a W&B run named `report` in the experiment's
group (offline by default), beside the training runs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from omegaconf import DictConfig


def log_report(
    logger: DictConfig, group: str, config: dict, table: str, figures: dict[str, Path], logs: Path
) -> None:
    """`logger`: the `logger` config (W&B project and mode); `table`: the CSV text;
    `figures`: test set -> its BLEU figure (PNG); `logs`: the W&B folder, as train's."""
    import wandb

    logs = logs.absolute()  # a joined W&B service would resolve it from its own cwd
    logs.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=logger.project,
        mode=logger.mode,
        group=group,
        name="report",
        job_type="report",
        dir=str(logs),
        config=config,
    )
    rows = list(csv.reader(io.StringIO(table)))
    images = {f"figures/bleu_vs_length_{n}": wandb.Image(str(p)) for n, p in figures.items()}
    run.log({"bleu_by_length": wandb.Table(columns=rows[0], data=rows[1:]), **images})
    run.finish()
