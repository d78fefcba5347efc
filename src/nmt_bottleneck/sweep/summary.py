"""The sweep's summary, in the sweep folder, each file replaced atomically (a reader never sees
half of one):

- `summary.csv`: one row per finished job, test set and source-length bucket (the job's
  overrides, group, training seed, steps and best validation loss, the set's BLEU and chrF, the
  bucket's numbers from its `eval.details.json`); one row per failed job, with its error (the
  first line of its `error.txt`, or that it left no result);
- `bleu_vs_length_<set>.png` (and `.svg`): BLEU against source length, one curve per group of
  jobs that differ only in their seed (`sweep.groups`, `sweep.comparison`, `sweep.figure`);
- `summary.md`: the figures, each group's BLEU over its seeds, the paired comparisons against
  the baseline group, and one line per job (`sweep.markdown`);
- when the jobs log to W&B (`logger.kind: wandb`): the figures and the table as a run
  `sweep-summary` in the sweep's group (`sweep-<sweep folder name>`, the jobs' group), with
  summary.md as an artifact, its files under `<sweep folder>/logs/wandb/`. It is logged last,
  so a failure to log loses none of the files.

Written once, when the whole multirun has ended, by a Hydra callback (`SweepSummary`, listed
under `hydra.callbacks` in conf/sweep.yaml) in the process that launched the jobs, not by the
jobs: under a parallel launcher (SLURM) jobs end in any order and at once. When a job failed
(or the summary could not be written or logged whole), the callback exits 1 after writing what
it could. By hand (e.g. after a sweep was killed): `python -m nmt_bottleneck.sweep.summary
<sweep folder>`.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
from pathlib import Path
from typing import Any, NamedTuple

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from nmt_bottleneck.atomic import write_text_atomic
from nmt_bottleneck.errors import NmtBottleneckError
from nmt_bottleneck.report.wandb_log import log_report
from nmt_bottleneck.sweep.comparison import SetComparison, compare_groups
from nmt_bottleneck.sweep.figure import draw_figure
from nmt_bottleneck.sweep.groups import Group, group_jobs
from nmt_bottleneck.sweep.jobs import ERROR_FILE as ERROR_FILE  # job.record_failure writes it
from nmt_bottleneck.sweep.jobs import Job, read_jobs
from nmt_bottleneck.sweep.markdown import render

log = logging.getLogger(__name__)
Row = dict[str, Any]
COLUMNS = [
    *("job", "overrides", "group", "seed", "status", "steps", "best_val_loss"),
    *("test_set", "set_bleu", "set_chrf"),
    *("bucket", "bucket_lo", "bucket_hi", "n", "bleu", "ci_lo", "ci_hi", "length_ratio"),
    "error",
]
RUN = "sweep-summary"  # the W&B run's name and job type, and the artifact's type


class Written(NamedTuple):
    jobs: list[Job]
    complete: bool  # False: the markdown, a figure or the W&B run could not be written


def summary_rows(jobs: list[Job], groups: list[Group]) -> list[Row]:
    """The rows of summary.csv (module docstring), in job order."""
    label = {j.name: g.label for g in groups for j in g.jobs}
    rows = []
    for j in jobs:
        facts = j.facts or {}
        row = {"job": j.name, "overrides": j.command(), "group": label[j.name], "seed": j.seed}
        row |= {"status": j.status, "steps": facts.get("steps")}
        row |= {"best_val_loss": facts.get("best_val_loss")}
        if j.status == "failed":
            rows.append(row | {"error": j.error})
        for name, t in j.scores().items():
            scored = row | {"test_set": name, "set_bleu": t.bleu, "set_chrf": t.chrf}
            rows += [
                scored
                | {"bucket": b.label, "bucket_lo": b.lo, "bucket_hi": b.hi, "n": b.n}
                | {"bleu": b.bleu, "ci_lo": b.ci_lo, "ci_hi": b.ci_hi}
                | {"length_ratio": b.length_ratio}
                for b in t.buckets
            ]
    return rows


def summary_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_summary(sweep_dir: Path) -> Written:
    """Write the summary of `sweep_dir` (module docstring). What cannot be written (a job's
    missing hypotheses; W&B) is logged as an error, after the files before it are written."""
    sweep_dir = Path(sweep_dir)
    jobs = read_jobs(sweep_dir)
    groups = group_jobs(jobs)
    table = summary_csv(summary_rows(jobs, groups))
    write_text_atomic(table, sweep_dir / "summary.csv")
    failed = [j for j in jobs if j.status == "failed"]
    log.info("sweep summary: %d jobs in %s, %d failed", len(jobs), sweep_dir, len(failed))
    for j in failed:
        log.error("sweep job %s (%s) failed: %s", j.name, j.command(), j.error)
    try:
        comparisons = compare_groups(groups)
        pngs = draw_figures(comparisons, groups, sweep_dir)
        markdown = render(sweep_name(sweep_dir), jobs, groups, comparisons, pngs_named(pngs))
        write_text_atomic(markdown, sweep_dir / "summary.md")
    except NmtBottleneckError as e:
        log.error("%s: summary.csv is written, summary.md and the figures are not.", e)
        return Written(jobs, False)
    return Written(jobs, log_to_wandb(jobs, table, pngs, sweep_dir))


def draw_figures(
    comparisons: dict[str, SetComparison], groups: list[Group], out: Path
) -> dict[str, Path]:
    """Each test set's figure with a curve -> its PNG, in the folder `out`."""
    first = next((j for g in groups for j in g.finished()), None)
    if first is None:  # no curve to draw
        return {}
    title = f"sweep {sweep_name(out)}, {first.params.data.name}, profile {first.params.profile}"
    limits = sorted({m for g in groups if (m := training_limit(g)) is not None})
    return {n: draw_figure(c, title, limits, out) for n, c in comparisons.items() if c.curves}


def training_limit(group: Group) -> int | None:
    """The group's training-length regime (`variants.<id>.max_len`), None if it has no job
    finished."""
    done = group.finished()
    return done[0].params.variants[group.variant].get("max_len") if done else None


def pngs_named(pngs: dict[str, Path]) -> dict[str, str]:
    return {n: p.name for n, p in pngs.items()}


def sweep_name(sweep_dir: Path) -> str:
    return Path(sweep_dir).resolve().name


def log_to_wandb(jobs: list[Job], table: str, pngs: dict[str, Path], sweep_dir: Path) -> bool:
    """The figures and the table as the W&B run `sweep-summary` in the jobs' group, when the
    jobs log to W&B; summary.md as its artifact. False where that failed (logged: the files
    stay as written)."""
    logger = next(
        (j.params.logger for j in jobs if j.params and j.params.logger.kind == "wandb"), None
    )
    if logger is None:
        return True
    group = f"sweep-{sweep_name(sweep_dir)}"  # the jobs' group (pipelines/sweep.py)
    config = {"sweep": str(sweep_dir.resolve()), "jobs": len(jobs)}
    config["failed"] = sum(j.status == "failed" for j in jobs)
    try:
        log_report(
            logger,
            group,
            config,
            table,
            pngs,
            sweep_dir / "logs",
            name=RUN,
            table_key="summary",
            document=sweep_dir / "summary.md",
            linked=sorted(pngs.values()),  # the figures summary.md shows
        )
    except Exception as e:  # W&B's own errors have no common base: any is reported, not raised
        log.error(
            "W&B run %s (group %s) not logged: %s: %s. The summary files in %s are written; to "
            "log them again: python -m nmt_bottleneck.sweep.summary %s",
            RUN,
            group,
            type(e).__name__,
            e,
            sweep_dir,
            sweep_dir,
        )
        return False
    log.info("logged the W&B run %s in group %s under %s", RUN, group, sweep_dir / "logs")
    return True


class SweepSummary(Callback):
    """Hydra callback: the summary of the multirun's folder (`hydra.sweep.dir`) once it ends;
    exits 1 after writing it when a job failed (the jobs return their failure, so Hydra would
    exit 0) or the summary is incomplete."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:  # Hydra's signature
        written = write_summary(Path(config.hydra.sweep.dir))
        if not written.complete or any(j.status == "failed" for j in written.jobs):
            raise SystemExit(1)  # Hydra's callbacks turn an Exception into a warning


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a sweep folder's summary by hand.")
    parser.add_argument("sweep_dir", type=Path, help="the multirun folder (hydra.sweep.dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    # a W&B service of its own, as a stage's (pipelines/stage.py: own_wandb_service)
    os.environ.pop("WANDB_SERVICE", None)
    written = write_summary(args.sweep_dir)
    if not written.complete:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
