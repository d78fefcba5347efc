"""The report as a W&B run named `report` in the experiment's group (offline by default), beside
the training runs (which hold each model's own evaluation, `eval.wandb_log`): the composed
figures, the per-bucket table of every curve (reports/bleu_by_length.csv) and an artifact
`<group>-report` of type `report` holding report.md and the figures it links, as the report
stage wrote them. The sweep's summary goes the same way, as a run `sweep-summary` in the
sweep's group, with summary.md and its figures as the artifact."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig


def log_report(
    logger: DictConfig,
    group: str,
    config: dict,
    table: str,
    figures: dict[str, Path],
    logs: Path,
    *,
    name: str = "report",
    table_key: str = "bleu_by_length",
    document: Path | None = None,
    linked: Sequence[Path] = (),
) -> None:
    """`logger`: the `logger` config (W&B project and mode); `table`: the CSV text, logged as
    a `wandb.Table` under `table_key`; `figures`: test set -> its BLEU figure (PNG); `logs`: the
    W&B folder, as train's; `name`: the run's name and job type; `document`: a written file
    (report.md) kept with the files it `linked` (under their paths relative to its folder, so
    its links work) as an artifact `<group>-<name>` of type `name`. A failure finishes the run
    as failed."""
    import wandb

    logs = logs.absolute()  # a joined W&B service would resolve it from its own cwd
    logs.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=logger.project,
        mode=logger.mode,
        group=group,
        name=name,
        job_type=name,
        dir=str(logs),
        config=config,
    )
    try:
        rows = list(csv.reader(io.StringIO(table)))
        images = {f"figures/bleu_vs_length_{n}": wandb.Image(str(p)) for n, p in figures.items()}
        run.log({table_key: wandb.Table(columns=rows[0], data=rows[1:]), **images})
        if document is not None:
            # artifact names allow letters, digits, `-`, `_` and `.`
            artifact = wandb.Artifact(re.sub(r"[^\w.-]", "-", f"{group}-{name}"), type=name)
            artifact.add_file(str(document))
            home = Path(document).resolve().parent
            for path in map(Path, linked):  # kept where the document's links point
                inside = path.resolve().is_relative_to(home)
                where = path.resolve().relative_to(home).as_posix() if inside else path.name
                artifact.add_file(str(path), name=where)
            run.log_artifact(artifact)
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()
