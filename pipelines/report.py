"""report: gather what the stages computed, have the claims judged, draw and write it
(`nmt_bottleneck.report.assemble.build_report`): the per-bucket CSV (a DVC plot), the figures,
the verdicts JSON and report.md; the figures, table and report.md also go to W&B as a run `report`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.atomic import write_json_atomic, write_text_atomic
from nmt_bottleneck.models.loggers import experiment_group
from nmt_bottleneck.report.assemble import build_report
from nmt_bottleneck.report.wandb_log import log_report
from pipelines.stage import load_params, run

log = logging.getLogger("nmt_bottleneck")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    params = load_params(args.params)
    report = build_report(
        params,
        train=args.train,
        eval_dir=args.eval,
        evaluations=args.evaluations,
        significance=args.significance,
        data_stats=args.data_stats,
        figures_dir=args.figures,
        report=args.out,
    )
    write_text_atomic(report.csv, args.csv)
    if args.verdicts:
        write_json_atomic(report.verdicts.to_json(), args.verdicts)
    write_text_atomic(report.markdown, args.out)
    log.info("wrote %s, %s and %s", args.out, args.csv, args.figures)
    if params.logger.kind == "wandb":
        group = experiment_group(params.data.name, params.profile)
        config = {"data": params.data.name, "profile": params.profile}
        linked = sorted(p for p in args.figures.iterdir() if p.is_file())  # report.md's images
        log_report(
            params.logger,
            group,
            config,
            report.csv,
            report.figures,
            args.logs,
            document=args.out,
            linked=linked,
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--train", type=Path, required=True, help="reports/train/")
    parser.add_argument("--eval", type=Path, required=True, help="reports/eval/")
    parser.add_argument("--evaluations", type=Path, required=True, help="evaluations/")
    parser.add_argument("--significance", type=Path, required=True)
    parser.add_argument("--data-stats", type=Path, required=True)
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--figures", type=Path, required=True)
    parser.add_argument("--verdicts", type=Path, help="verdicts JSON (none when not given)")
    parser.add_argument("--out", type=Path, required=True, help="report.md")
    parser.add_argument("--logs", type=Path, default=Path("logs"), help="W&B folder, as train's")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(main)
