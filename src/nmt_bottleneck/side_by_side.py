"""Run the steps of a pipeline side by side, `jobs` at a time, each when the steps it needs have
finished (`make repro`: DVC's stages, the variants' trainings two at once on 2 cores).

Why: `dvc repro` runs one stage after the other. On the 2-core machine two trainings with one
torch thread each trained 1.12x (final_state) to 1.27x (attention) as many target tokens per
second in all as one after the other with two threads (benchmarks/README.md, "Jobs side by
side"). The thread count is each job's own setting (`train.threads`, `eval.threads`): it is part
of the result (nmt_bottleneck.cores), so the lanes change how long a run takes, never what it
computes, and the core registry keeps side-by-side jobs from oversubscribing whatever launched
them.

How: a step starts when every step it needs has succeeded and fewer than `jobs` are running;
among the steps ready, the one with the largest recorded cost first (its last wall time, where
one is known; the longest jobs first keeps the last lane from running alone for long), then in
the pipeline's order. Each step's output goes to its own log file (two trainings' progress bars
in one terminal would be unreadable); the terminal gets one line per start and end. A failed
step starts nothing new: the running steps finish, and the error names the failed steps and
their logs.

Stopping: any exception while steps run (KeyboardInterrupt from Ctrl-C; SystemExit, which the
entry raises on SIGTERM: pipelines/repro.py) stops them as Ctrl-C in their own terminal would.
Each step runs in a process group of its own, so this reaches every process it started, also
one started after the stop began: SIGINT to the group (DVC ignores it while its command runs
and records the stage as failed when the command ends; Lightning saves nothing more and exits
1), then SIGKILL to whatever is left `STOP_GRACE_S` later, or at once on a second Ctrl-C or
SIGTERM. No step outlives the run to keep writing a checkpoint or holding DVC's lock behind the
next run's back; an interrupted train stage resumes from its last checkpoint. What nothing can
catch: SIGKILL to this process leaves its steps running (`pgrep -af 'repro --single-item'`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from nmt_bottleneck.errors import NmtBottleneckError

log = logging.getLogger(__name__)
POLL_S = 0.5  # how often the running steps are looked at
STOP_GRACE_S = 60.0  # after SIGINT, how long a step may take to stop before it is killed


@dataclass(frozen=True)
class Step:
    """One unit of work: its `name`, the command that does it, the names of the steps it needs,
    and its expected cost in seconds (None: unknown)."""

    name: str
    command: tuple[str, ...]
    needs: frozenset[str] = frozenset()
    cost_s: float | None = None


@dataclass
class Done:
    """How a step went: its lane (0-based), start and end (seconds from the run's start), its
    exit code and log."""

    name: str
    lane: int
    start_s: float
    end_s: float
    returncode: int
    log: Path

    @property
    def minutes(self) -> float:
        return (self.end_s - self.start_s) / 60


@dataclass
class _Running:
    step: Step
    lane: int
    start_s: float
    log: Path
    process: subprocess.Popen = field(repr=False)


def recorded_cost(metrics: Sequence[Path]) -> float | None:
    """A step's cost: the first `wall_time_s` among the JSON `metrics` files that exist (what a
    train stage's last run recorded); None if none has one."""
    for path in metrics:
        try:
            value = json.loads(path.read_text(encoding="utf-8")).get("wall_time_s")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, int | float):
            return float(value)
    return None


def next_ready(pending: Sequence[Step], finished: set[str]) -> Step | None:
    """The step to start next: of those whose needs have all `finished`, the largest known cost
    first (unknown costs after known ones), ties in `pending`'s order; None if none is ready."""
    ready = [s for s in pending if s.needs <= finished]
    if not ready:
        return None
    return min(ready, key=lambda s: (s.cost_s is None, -(s.cost_s or 0.0), pending.index(s)))


def run_side_by_side(steps: Sequence[Step], jobs: int, logs: Path) -> list[Done]:
    """Run `steps`, at most `jobs` at once, each once its needs have succeeded (ties in the
    order given); returns how each started step went, in the order they ended. Raises
    NmtBottleneckError naming the failed steps (after the running ones finished) and any step
    whose needs are unknown."""
    if jobs < 1:
        raise NmtBottleneckError(
            f"jobs = {jobs}: run at least 1 step at a time (--jobs 1 or more)."
        )
    names = {s.name for s in steps}
    for s in steps:
        if not s.needs <= names:
            raise NmtBottleneckError(f"step {s.name} needs {sorted(s.needs - names)}: not steps.")
    logs.mkdir(parents=True, exist_ok=True)
    pending, running, done = list(steps), [], []
    finished: set[str] = set()
    started = time.monotonic()
    try:
        while pending or running:
            failed = any(d.returncode != 0 for d in done)
            while not failed and len(running) < jobs:
                step = next_ready(pending, finished)
                if step is None:
                    break
                pending.remove(step)
                lane = min(set(range(jobs)) - {r.lane for r in running})
                running.append(_start(step, lane, logs, time.monotonic() - started))
            if not running:
                break  # a failure, or nothing left that can start
            time.sleep(POLL_S)
            for r in [r for r in running if r.process.poll() is not None]:
                running.remove(r)
                end = Done(
                    r.step.name,
                    r.lane,
                    r.start_s,
                    time.monotonic() - started,
                    r.process.returncode,
                    r.log,
                )
                done.append(end)
                if end.returncode == 0:
                    finished.add(end.name)
                _say_done(end)
    except BaseException:
        _stop(running)
        raise
    _raise_if_failed(done, pending)
    return done


def _stop(running: list[_Running]) -> None:
    """Stop the `running` steps, each with every process in its group: SIGINT, then SIGKILL to
    what is left `STOP_GRACE_S` seconds later (at once on a second SIGINT or SIGTERM)."""
    if not running:
        return
    names = ", ".join(r.step.name for r in running)
    log.warning(
        "stopping %s (Ctrl-C to each; killed if still running in %.0f s, or at a second Ctrl-C)",
        names,
        STOP_GRACE_S,
    )
    hurry = threading.Event()
    with _signals_set(hurry):
        for r in running:
            _signal_group(r, signal.SIGINT)
        if not _wait_for(running, STOP_GRACE_S, hurry):
            log.warning("killing what did not stop")
            for r in running:
                _signal_group(r, signal.SIGKILL)
            _wait_for(running, 10.0)
    for r in running:
        code = r.process.poll()
        said = f"exit {code}" if code is not None else f"pid {r.process.pid} did not end"
        log.warning("stopped %s (%s; log %s)", r.step.name, said, r.log)


@contextlib.contextmanager
def _signals_set(hurry: threading.Event):
    """While stopping, a second SIGINT or SIGTERM sets `hurry` instead of raising (which would
    abandon the steps half stopped). Only the main thread can set handlers; elsewhere as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
    for n in before:
        signal.signal(n, lambda signum, frame: hurry.set())
    try:
        yield
    finally:
        for n, handler in before.items():
            signal.signal(n, handler if handler is not None else signal.SIG_DFL)


def _signal_group(r: _Running, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group's processes have all ended
        os.killpg(r.process.pid, signum)  # its group id: the step's pid, kept until it is waited


def _group_alive(r: _Running) -> bool:
    """Whether any process of `r`'s group still runs (a zombie has ended: only its parent's wait
    is missing), the step's own process or one it started."""
    if r.process.poll() is None:
        return True
    for p in psutil.process_iter(["status"]):
        with contextlib.suppress(OSError):  # ended since, or not ours to ask
            if os.getpgid(p.pid) == r.process.pid and p.info["status"] != psutil.STATUS_ZOMBIE:
                return True
    return False


def _wait_for(
    running: list[_Running], seconds: float, hurry: threading.Event | None = None
) -> bool:
    """Wait up to `seconds` (less if `hurry` is set) for every process of every step's group to
    end; True if they all did."""
    end = time.monotonic() + seconds
    while any(_group_alive(r) for r in running):
        if time.monotonic() >= end or (hurry is not None and hurry.is_set()):
            return False
        time.sleep(0.1)
    return True


def _start(step: Step, lane: int, logs: Path, at_s: float) -> _Running:
    path = logs / f"{step.name}.log"
    with path.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            step.command, stdout=out, stderr=subprocess.STDOUT, process_group=0
        )  # its own group: _stop reaches all it starts, a terminal's Ctrl-C only this process
    cost = f", {step.cost_s / 60:.1f} min last time" if step.cost_s else ""
    log.info("%6.1f min  lane %d  start %s (log: %s%s)", at_s / 60, lane + 1, step.name, path, cost)
    return _Running(step, lane, at_s, path, process)


def _say_done(d: Done) -> None:
    how = "done" if d.returncode == 0 else f"FAILED (exit {d.returncode})"
    log.info(
        "%6.1f min  lane %d  %s %s in %.1f min", d.end_s / 60, d.lane + 1, how, d.name, d.minutes
    )


def _raise_if_failed(done: list[Done], pending: list[Step]) -> None:
    failed = [d for d in done if d.returncode != 0]
    if failed:
        where = "; ".join(f"{d.name} (exit {d.returncode}, log {d.log})" for d in failed)
        raise NmtBottleneckError(
            f"failed: {where}. Not started: {[s.name for s in pending] or 'none'}. Read the "
            "log's last lines, fix what it says, and run again: finished steps are not run again."
        )
    if pending:
        raise NmtBottleneckError(f"never ready (a cycle?): {[s.name for s in pending]}")


def times_table(done: Sequence[Done]) -> str:
    """The steps' wall times as a markdown table, in the order they started."""
    rows = ["| step | lane | start (min) | minutes |", "|---|---:|---:|---:|"]
    for d in sorted(done, key=lambda d: d.start_s):
        rows.append(f"| {d.name} | {d.lane + 1} | {d.start_s / 60:.1f} | {d.minutes:.1f} |")
    return "\n".join(rows)
