"""The report as a W&B run named `report` in the experiment's group (offline by default), beside
the training runs (which hold each model's own evaluation, `eval.wandb_log`): the composed
figures, the per-bucket table of every curve (reports/bleu_by_length.csv) and an artifact
`report-<group>` of type `report` holding report.md and the figures it links, as the report
stage wrote them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from omegaconf import DictConfig


def log_report(
    logger: DictConfig,
    group: str,
    config: dict,
    table: str,
    figures: dict[str, Path],
    report: Path,
    logs: Path,
) -> None:
    """`logger`: the `logger` config (W&B project and mode); `table`: the CSV text;
    `figures`: test set -> its BLEU figure (PNG); `report`: report.md, written, whose figures
    folder is `figures`' (the artifact keeps the links working); `logs`: the W&B folder, as
    train's."""
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
    try:
        run.log({"bleu_by_length": wandb.Table(columns=rows[0], data=rows[1:]), **images})
        artifact = wandb.Artifact(f"report-{group}", type="report")
        artifact.add_file(str(report), name=report.name)
        for folder in {p.parent for p in figures.values()}:  # where report.md's images are
            inside = folder.is_relative_to(report.parent)
            linked = folder.relative_to(report.parent) if inside else folder.name
            artifact.add_dir(str(folder), name=str(linked))
        run.log_artifact(artifact)
    finally:
        run.finish()
