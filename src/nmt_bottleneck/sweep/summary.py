"""The sweep's summary: one row per finished job (its overrides, training steps, best
validation loss and BLEU per test set), as `summary.csv` and `summary.md` in the sweep folder.

Written once, when the whole multirun has ended, by a Hydra callback (`SweepSummary`, listed
under `hydra.callbacks` in conf/sweep.yaml) in the process that launched the jobs, not by the
jobs: under a parallel launcher (SLURM) jobs end in any order and at once. Each file is
replaced atomically, so a reader never sees half of one.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.atomic import write_text_atomic

log = logging.getLogger(__name__)
Row = dict[str, Any]


def summary_rows(sweep_dir: Path) -> list[Row]:
    """A row per job folder of `sweep_dir` that holds an evaluation (`eval.json`), in job
    order (0, 1, ..., 10: by number, not as text); a job that failed has none and no row."""
    rows = []
    for job in sorted(Path(sweep_dir).glob("*/eval.json"), key=lambda p: job_order(p.parent)):
        overrides = OmegaConf.load(job.parent / ".hydra" / "overrides.yaml")
        train_facts = json.loads((job.parent / "train.json").read_text())
        row = {"job": job.parent.name, "overrides": " ".join(overrides)}
        row |= {"steps": train_facts["steps"], "best_val_loss": train_facts["best_val_loss"]}
        row |= {f"{t}_bleu": m["bleu"] for t, m in json.loads(job.read_text()).items()}
        rows.append(row)
    return rows


def job_order(job: Path) -> tuple[int, int | str]:
    return (0, int(job.name)) if job.name.isdigit() else (1, job.name)


def summary_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def summary_markdown(rows: list[Row]) -> str:
    names = columns(rows)
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in names) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def columns(rows: list[Row]) -> list[str]:
    """Every key of every row, in first-seen order (jobs may score different test sets)."""
    return list(dict.fromkeys(k for r in rows for k in r))


def write_summary(sweep_dir: Path) -> list[Row]:
    """Write `summary.csv` and `summary.md` in `sweep_dir`, each atomically; return the rows."""
    rows = summary_rows(sweep_dir)
    write_text_atomic(summary_csv(rows), Path(sweep_dir) / "summary.csv")
    write_text_atomic(summary_markdown(rows), Path(sweep_dir) / "summary.md")
    log.info("sweep summary: %d jobs in %s", len(rows), Path(sweep_dir) / "summary.csv")
    return rows


class SweepSummary(Callback):
    """Hydra callback: the summary of the multirun's folder (`hydra.sweep.dir`) once it ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:  # Hydra's signature
        write_summary(Path(config.hydra.sweep.dir))
