"""An evaluation in its model's W&B run: the evaluate stage (and a sweep job) resumes the run the
training logged to (its id is in the train facts' `logger_run`, reports/train/<id>/<seed>.json)
and adds, per test set and `<set>_novel` view:

- summary metrics `<set>/bleu`, `<set>/chrf`, `<set>/bleu_signature`, `<set>/chrf_signature`,
  `<set>/sentences`, `<set>/last_over_best`: one column each in W&B's runs table and
  parallel-coordinates panel, so runs sort and filter by BLEU;
- `<set>/bleu_by_length`: a `wandb.Table`, one row per non-empty source-length bucket
  (TABLE_COLUMNS: the bucket, its sentences, BLEU with its 95% bootstrap interval, length ratio);
- `<set>/bleu_vs_length`: W&B's own line plot of that table (`wandb.plot.line`, BLEU against the
  bucket's first length). Its panel queries the table of every run the workspace shows, so
  runs filtered to one group overlay their curves (README, "W&B").

The rows are logged at the training's last `trainer/global_step`, the x axis the training run
defined, so they sit at the end of its loss curves. Offline by default, like training:
the resumed run is a second `offline-run-*-<id>` folder beside the first, and `wandb sync` of
both uploads them to one run, in start-time order.

Logging is a record of a result, not a result: a model trained with the CSV logger, or
`logger.kind: csv` now, logs nothing (and says so), and nothing here changes a metrics file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from nmt_bottleneck.eval.results import Details, SetScores

log = logging.getLogger(__name__)
TABLE_COLUMNS = (
    "test_set variant seed bucket bucket_lo bucket_hi n bleu ci_lo ci_hi length_ratio"
).split()


def summary_metrics(details: Details) -> dict[str, Any]:
    """The W&B summary of an evaluation: `<set>/<metric>` per test set and view."""
    out: dict[str, Any] = {}
    for name, s in details.test_sets.items():
        quotient = s.last_over_best.value if s.last_over_best else None
        out |= {
            f"{name}/bleu": s.bleu,
            f"{name}/chrf": s.chrf,
            f"{name}/bleu_signature": s.bleu_signature,
            f"{name}/chrf_signature": s.chrf_signature,
            f"{name}/sentences": s.sentences,
            f"{name}/last_over_best": quotient,
        }
    return out


def bucket_rows(name: str, scores: SetScores, variant: str, seed: int) -> list[list[Any]]:
    """The rows of `<set>/bleu_by_length`: the non-empty buckets in order (TABLE_COLUMNS;
    `bucket_hi` None for the open last bucket)."""
    return [
        [name, variant, seed, b.label, b.lo, b.hi, b.n, b.bleu, b.ci_lo, b.ci_hi, b.length_ratio]
        for b in scores.curve()
    ]


def log_evaluation(
    logger: DictConfig, trained: dict[str, Any], details: Details, logs: Path
) -> str | None:
    """Log `details` into the W&B run that trained the model; `trained`: the train facts
    (TrainResult.as_dict(): `seed`, `steps`, `logger_run` {kind, name, id, group}); `logger`: the
    `logger` settings now (project, mode); `logs`: the W&B folder, as train's. Returns the run
    id logged to, or None when there is no W&B run to log to."""
    run = trained.get("logger_run") or {}
    if logger.kind != "wandb" or run.get("kind") != "wandb":
        log.info(
            "evaluation not logged to W&B: logger.kind is %s and the model's training logged "
            "to %s (both must be wandb)",
            logger.kind,
            run.get("kind", "no logger"),
        )
        return None
    import wandb

    logs = Path(logs).absolute()  # a joined W&B service resolves it from its own cwd
    logs.mkdir(parents=True, exist_ok=True)
    resumed = wandb.init(
        project=logger.project,
        mode=logger.mode,
        id=run["id"],
        name=run["name"],
        group=run["group"],
        resume="allow",
        dir=str(logs),
    )
    try:
        resumed.summary.update(summary_metrics(details))
        row: dict[str, Any] = {"trainer/global_step": trained["steps"]}
        for name, scores in details.test_sets.items():
            rows = bucket_rows(name, scores, details.variant, trained["seed"])
            table = wandb.Table(columns=TABLE_COLUMNS, data=rows)
            title = f"{run['name']}: BLEU by source length, {name}"
            row[f"{name}/bleu_by_length"] = table
            row[f"{name}/bleu_vs_length"] = wandb.plot.line(table, "bucket_lo", "bleu", title=title)
        resumed.log(row)
    finally:
        resumed.finish()
    log.info("evaluation logged to W&B run %s (%s, group %s)", run["id"], run["name"], run["group"])
    return run["id"]
