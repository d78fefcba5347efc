"""The sweep's summary: one row per job (its overrides, `ok` or `failed`; a finished job's
training steps, best validation loss and BLEU per test set; a failed job's error, the first line
of its `error.txt`, or that it left no result), as `summary.csv` and `summary.md` in the sweep
folder.

Written once, when the whole multirun has ended, by a Hydra callback (`SweepSummary`, listed
under `hydra.callbacks` in conf/sweep.yaml) in the process that launched the jobs, not by the
jobs: under a parallel launcher (SLURM) jobs end in any order and at once. Each file is
replaced atomically, so a reader never sees half of one. When a job failed, the callback exits 1
after writing the summary. By hand (e.g. after a sweep was killed):
`python -m nmt_bottleneck.sweep.summary <sweep folder>`.
"""

from __future__ import annotations

import argparse
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
ERROR_FILE = "error.txt"  # in a job folder: the error that stopped it (`job.record_failure`)


def summary_rows(sweep_dir: Path) -> list[Row]:
    """A row per job folder of `sweep_dir` (one holding Hydra's `.hydra/`), in job order (0, 1,
    ..., 10: by number, not as text): `ok` with its results where it wrote an evaluation
    (`eval.json`), else `failed` with its error."""
    jobs = sorted((p.parent for p in Path(sweep_dir).glob("*/.hydra")), key=job_order)
    rows = []
    for job in jobs:
        overrides = OmegaConf.load(job / ".hydra" / "overrides.yaml")
        row = {"job": job.name, "overrides": " ".join(overrides)}
        rows.append(row | (job_results(job) if (job / "eval.json").is_file() else failure(job)))
    return rows


def job_results(job: Path) -> Row:
    train_facts = json.loads((job / "train.json").read_text())
    row = {"status": "ok", "steps": train_facts["steps"]}
    row |= {"best_val_loss": train_facts["best_val_loss"]}
    return row | {
        f"{t}_bleu": m["bleu"] for t, m in json.loads((job / "eval.json").read_text()).items()
    }


def failure(job: Path) -> Row:
    """A job without an evaluation: its recorded error, or that it left none (killed, or stopped
    by an error that is not ours: see its log)."""
    path = job / ERROR_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return {"status": "failed", "error": lines[0] if lines else f"no eval.json and no {ERROR_FILE}"}


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
    """Every key of every row, in first-seen order (jobs may score different test sets), the
    error last."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    return [n for n in names if n != "error"] + ["error"] * ("error" in names)


def write_summary(sweep_dir: Path) -> list[Row]:
    """Write `summary.csv` and `summary.md` in `sweep_dir`, each atomically; return the rows."""
    rows = summary_rows(sweep_dir)
    write_text_atomic(summary_csv(rows), Path(sweep_dir) / "summary.csv")
    write_text_atomic(summary_markdown(rows), Path(sweep_dir) / "summary.md")
    failed = [r for r in rows if r["status"] == "failed"]
    log.info(
        "sweep summary: %d jobs in %s, %d failed",
        len(rows),
        Path(sweep_dir) / "summary.csv",
        len(failed),
    )
    for r in failed:
        log.error("sweep job %s (%s) failed: %s", r["job"], r["overrides"], r["error"])
    return rows


class SweepSummary(Callback):
    """Hydra callback: the summary of the multirun's folder (`hydra.sweep.dir`) once it ends;
    exits 1 after writing it when a job failed (the jobs return their failure, so Hydra would
    exit 0)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:  # Hydra's signature
        rows = write_summary(Path(config.hydra.sweep.dir))
        if any(r["status"] == "failed" for r in rows):
            raise SystemExit(1)  # Hydra's callbacks turn an Exception into a warning


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a sweep folder's summary by hand.")
    parser.add_argument("sweep_dir", type=Path, help="the multirun folder (hydra.sweep.dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    write_summary(args.sweep_dir)


if __name__ == "__main__":
    main()
