"""`dvc repro`, with the stages that do not need each other run side by side (`make repro`):

    python -m pipelines.repro            # as many at once as this process has cores
    python -m pipelines.repro --jobs 1   # one after the other, as plain `dvc repro`

Each stage of dvc.yaml is a step, `dvc --wait-for-lock repro --single-item <stage>`, started once
the stages it reads from are done (order, logs and stopping: nmt_bottleneck.side_by_side). DVC
locks only a running stage's inputs and outputs, so stages that share no output run at once,
each recording its own dvc.lock entry; threads are each stage's config, never the lanes. Then a
plain `dvc repro` checks nothing is left; wall times go to `<logs>/times.md`, each stage's output
to `<logs>/<stage>.log`. Ctrl-C or SIGTERM stops every process the running stages started.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.machine import usable_cores
from nmt_bottleneck.side_by_side import Step, recorded_cost, run_side_by_side, times_table
from pipelines.stage import log, run


def dvc_steps(root: Path) -> list[Step]:
    """dvc.yaml's stages as steps, in dvc.yaml's order, each needing the stages whose outputs it
    reads, its cost the `wall_time_s` its metrics recorded last time (if any)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph  # an edge runs from a stage to one it depends on
        return [
            Step(
                stage.addressing,
                ("dvc", "--wait-for-lock", "repro", "--single-item", stage.addressing),
                frozenset(dep.addressing for dep in graph.successors(stage)),
                recorded_cost([root / str(m.def_path) for m in stage.metrics]),
            )
            for stage in graph.nodes
        ]


class Terminated(BaseException):
    """SIGTERM (`kill`, a time limit), raised to unwind as Ctrl-C does, stopping the stages."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=usable_cores(), help="stages at once")
    parser.add_argument("--logs", type=Path, default=Path("logs/repro"), help="stage logs here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        done = run_side_by_side(dvc_steps(Path(".")), args.jobs, args.logs)
        run_side_by_side([Step("closing-dvc-repro", ("dvc", "repro"))], 1, args.logs)
    except (KeyboardInterrupt, Terminated) as stopped:
        how = "Ctrl-C" if isinstance(stopped, KeyboardInterrupt) else "SIGTERM"
        log.error("stopped (%s). Run again to go on: finished stages are not run again.", how)
        sys.exit(130 if how == "Ctrl-C" else 128 + signal.SIGTERM)
    table = times_table(done)
    (args.logs / "times.md").write_text(table + "\n", encoding="utf-8")
    log.info("stage wall times (also in %s):\n%s", args.logs / "times.md", table)


if __name__ == "__main__":
    run(main)
