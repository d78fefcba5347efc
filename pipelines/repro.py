"""`dvc repro`, with the stages that do not need each other run side by side (`make repro`):

    python -m pipelines.repro            # as many at once as this process has cores
    python -m pipelines.repro --jobs 1   # one after the other, as plain `dvc repro`

Every stage of dvc.yaml is one step, `dvc --wait-for-lock repro --single-item <stage>`, started
when the stages it depends on are done (nmt_bottleneck.side_by_side says in which order). DVC
lets go of its repository lock while a stage's command runs and locks only that stage's inputs
(read) and outputs (write), so two stages that share no output run at once in one workspace,
each recording its own entry in dvc.lock. A step whose stage is up to date does nothing. The
results are what plain `dvc repro` gives: a job's threads are its config's (`train.threads`,
`eval.threads`), never the number of lanes. At the end a plain `dvc repro` checks that nothing
is left to run (and runs it if it is; its output in `<logs>/closing-dvc-repro.log`), and the
stages' wall times are printed and written to `<logs>/times.md`; each stage's output is in
`<logs>/<stage>.log`. Ctrl-C or SIGTERM stops the running stages, every process they started
included (nmt_bottleneck.side_by_side, "Stopping").
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.machine import usable_cores
from nmt_bottleneck.side_by_side import Step, run_side_by_side, times_table
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
                recorded_wall_time(root, [str(m.def_path) for m in stage.metrics]),
            )
            for stage in graph.nodes
        ]


def recorded_wall_time(root: Path, metrics: Sequence[str]) -> float | None:
    """The first `wall_time_s` among the JSON `metrics` files that exist (a train stage's)."""
    for path in metrics:
        try:
            value = json.loads((root / path).read_text(encoding="utf-8")).get("wall_time_s")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, int | float):
            return float(value)
    return None


class Terminated(BaseException):
    """SIGTERM (`kill`, a scheduler's time limit), raised wherever this process is, so that it
    unwinds as Ctrl-C does and the running stages are stopped (nmt_bottleneck.side_by_side)."""


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
        log.error(
            "stopped (%s). Run again to go on: finished stages are not run again, and an "
            "interrupted train stage resumes from its last checkpoint.",
            how,
        )
        sys.exit(130 if how == "Ctrl-C" else 128 + signal.SIGTERM)
    table = times_table(done)
    (args.logs / "times.md").write_text(table + "\n", encoding="utf-8")
    log.info("stage wall times (also in %s):\n%s", args.logs / "times.md", table)


if __name__ == "__main__":
    run(main)
