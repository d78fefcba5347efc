"""Steps side by side (nmt_bottleneck/side_by_side.py) and `make repro`'s driver around DVC
(pipelines/repro.py) on a real git + DVC repository. Two steps that can only both finish if
they run at the same time (each waits for the other to have started) show the overlap without
reading a clock: run one after the other, the first gives up and fails. A stopped run (SIGTERM
to the driver, as `kill` or a scheduler sends it; Ctrl-C) leaves no process of a step running."""

from __future__ import annotations

import contextlib
import copy
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml

from helpers import ROOT, child_env, dvc, run_module, sh
from nmt_bottleneck import side_by_side
from nmt_bottleneck.errors import NmtBottleneckError
from nmt_bottleneck.side_by_side import (
    Step,
    next_ready,
    recorded_cost,
    run_side_by_side,
    times_table,
)

# Touch marks/<me>, wait for marks/<other> (at most argv[3] seconds, else exit 3), write out/<me>.
MEET = (
    "import pathlib, sys, time; me, other, wait = sys.argv[1], sys.argv[2], float(sys.argv[3]); "
    "marks = pathlib.Path('marks'); marks.mkdir(exist_ok=True); (marks / me).touch(); "
    "end = time.monotonic() + wait\n"
    "while not (marks / other).exists():\n"
    "    time.sleep(0.05)\n"
    "    if time.monotonic() > end: sys.exit(3)\n"
    "pathlib.Path('out').mkdir(exist_ok=True); pathlib.Path('out', me).write_text(me)"
)
JOIN = "import pathlib; assert len(list(pathlib.Path('out').iterdir())) == 2"


def meet(me: str, other: str, wait_s: float) -> tuple[str, ...]:
    return (sys.executable, "-c", MEET, me, other, str(wait_s))


def test_the_largest_known_cost_goes_first_and_needs_are_respected():
    a = Step("a", ("true",), cost_s=10.0)
    b = Step("b", ("true",), cost_s=300.0)
    c = Step("c", ("true",))  # unknown cost: after the known ones
    d = Step("d", ("true",), frozenset({"b"}), cost_s=1e6)  # largest, but needs b
    e = Step("e", ("true",), cost_s=300.0)  # ties with b: the given order decides
    pending = [a, b, c, d, e]
    order = []
    while pending:
        step = next_ready(pending, set(order))
        order.append(step.name)
        pending.remove(step)
    assert order == ["b", "d", "e", "a", "c"]
    assert next_ready([d], set()) is None


def test_a_cost_is_the_first_wall_time_recorded_in_the_metrics(tmp_path):
    files = {"missing": None, "broken": "{", "list": "[1]", "none": '{"wall_time_s": null}'}
    for name, text in files.items():
        if text is not None:
            (tmp_path / name).write_text(text)
    unknown = [tmp_path / name for name in files]
    assert recorded_cost(unknown) is None
    (tmp_path / "train.json").write_text('{"wall_time_s": 312.5, "steps": 40}')
    (tmp_path / "later.json").write_text('{"wall_time_s": 5}')
    assert recorded_cost([*unknown, tmp_path / "train.json", tmp_path / "later.json"]) == 312.5


def test_two_lanes_run_two_steps_at_once_and_the_one_that_needs_both_after(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    steps = [
        Step("left", meet("left", "right", 120)),
        Step("right", meet("right", "left", 120)),
        Step("join", (sys.executable, "-c", JOIN), frozenset({"left", "right"})),
    ]
    done = run_side_by_side(steps, 2, tmp_path / "logs")
    assert [d.returncode for d in done] == [0, 0, 0]
    assert done[-1].name == "join" and {d.lane for d in done[:2]} == {0, 1}
    assert done[-1].start_s >= max(d.end_s for d in done[:2])
    table = times_table(done).splitlines()
    assert len(table) == 2 + 3 and table[-1].startswith("| join |")


def test_a_failed_step_starts_nothing_after_it_and_names_its_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    steps = [  # one lane: `left` waits for `right`, which has not started, and gives up
        Step("left", meet("left", "right", 1)),
        Step("right", meet("right", "left", 1)),
        Step("join", ("true",), frozenset({"left", "right"})),
    ]
    with pytest.raises(NmtBottleneckError) as failed:
        run_side_by_side(steps, 1, tmp_path / "logs")
    message = str(failed.value)
    assert "left (exit 3" in message and str(tmp_path / "logs" / "left.log") in message
    assert "Not started: ['right', 'join']" in message
    assert not (tmp_path / "marks" / "right").exists()


DVC_YAML = {
    "stages": {
        "left": {"cmd": None, "deps": ["input"], "outs": ["out/left"]},
        "right": {"cmd": None, "deps": ["input"], "outs": ["out/right"]},
        "join": {
            "cmd": "cat out/left out/right > joined",
            "deps": ["out/left", "out/right"],
            "outs": ["joined"],
        },
    }
}


def test_dvc_stages_that_share_no_output_run_at_once_and_dvc_records_each(tmp_path):
    repo = tmp_path / "project"
    repo.mkdir()
    sh(repo, "git", "init", "-q")
    dvc(repo, "init", "-q")
    pipeline = copy.deepcopy(DVC_YAML)
    stages = pipeline["stages"]
    (repo / "meet.py").write_text(MEET + "\n")  # DVC runs each line of a `cmd` on its own
    stages["left"]["cmd"] = shlex.join([sys.executable, "meet.py", "left", "right", "120"])
    stages["right"]["cmd"] = shlex.join([sys.executable, "meet.py", "right", "left", "120"])
    (repo / "input").write_text("both read this\n")
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    (repo / ".gitignore").write_text("marks/\nlogs/\n")
    project = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}  # its code
    first = run_module("pipelines.repro", "--jobs", "2", "--logs", "logs", cwd=repo, env=project)
    assert first.returncode == 0, first.stderr
    assert (repo / "joined").read_text() == "leftright"
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert sorted(lock) == ["join", "left", "right"]
    times = (repo / "logs" / "times.md").read_text().splitlines()
    assert [row.split("|")[1].strip() for row in times[2:]][-1] == "join"
    status = dvc(repo, "status")
    assert "Data and pipelines are up to date." in status.stdout

    again = run_module("pipelines.repro", "--jobs", "2", "--logs", "logs", cwd=repo, env=project)
    assert again.returncode == 0, again.stderr
    assert yaml.safe_load((repo / "dvc.lock").read_text())["stages"] == lock
    assert "didn't change, skipping" in (repo / "logs" / "left.log").read_text()


def test_the_driver_builds_one_step_per_stage_of_the_project(tmp_path):
    """The project's own dvc.yaml read through DVC: every stage a step, a train stage needing
    tokenize, an evaluation needing its training, the report needing every evaluation."""
    code = (
        "import json; from pathlib import Path; from pipelines.repro import dvc_steps; "
        "steps = dvc_steps(Path('.')); "
        "print(json.dumps([[s.name, sorted(s.needs), s.command[-1]] for s in steps]))"
    )
    listed = sh(ROOT, sys.executable, "-c", code)
    steps = {name: (needs, target) for name, needs, target in yaml.safe_load(listed.stdout)}
    names = dvc(ROOT, "stage", "list", "--name-only").stdout.split()
    assert sorted(steps) == sorted(names)
    assert all(target == name for name, (_, target) in steps.items())
    trains = [n for n in names if n.startswith("train@")]
    assert trains and all(steps[t][0] == ["tokenize"] for t in trains)
    for t in trains:
        assert t.replace("train@", "evaluate@") in steps
        assert t in steps[t.replace("train@", "evaluate@")][0]
    evaluations = [n for n in names if n.startswith("evaluate@")]
    assert set(evaluations) <= set(steps["report"][0])


# Write marks/<me>.pid (atomically), wait for the file `go` (at most 300 s, else exit 4), write
# out/<me>. On SIGINT (Ctrl-C): write marks/<me>.interrupted and exit 1; or, with argv[2] ==
# "stubborn", ignore it and start `waiter.py late` (a process started after the stop began).
WAITER = """import os, pathlib, signal, subprocess, sys, time
me, marks = sys.argv[1], pathlib.Path("marks")
marks.mkdir(exist_ok=True)
def interrupted(signum, frame):
    (marks / (me + ".interrupted")).touch()
    sys.exit(1)
def start_late(signum, frame):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    subprocess.Popen([sys.executable, "waiter.py", "late"])
stubborn = len(sys.argv) > 2 and sys.argv[2] == "stubborn"
signal.signal(signal.SIGINT, start_late if stubborn else interrupted)
(marks / (me + ".tmp")).write_text(str(os.getpid()))
os.replace(marks / (me + ".tmp"), marks / (me + ".pid"))
end = time.monotonic() + 300
while not pathlib.Path("go").exists():
    time.sleep(0.05)
    if time.monotonic() > end:
        sys.exit(4)
pathlib.Path("out").mkdir(exist_ok=True)
pathlib.Path("out", me).write_text(me)
"""


def pid_once_written(path: Path, within_s: float = 120) -> int:
    end = time.monotonic() + within_s
    while not path.exists():
        assert time.monotonic() < end, f"{path} not written within {within_s} s"
        time.sleep(0.05)
    return int(path.read_text())


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kill_waiters(marks: Path) -> None:
    """After a test: no waiter outlives it, whatever it asserted."""
    for path in marks.glob("*.pid"):
        with contextlib.suppress(psutil.NoSuchProcess, ValueError):
            psutil.Process(int(path.read_text())).kill()


def stop_while_running(tmp_path: Path, monkeypatch, grace_s: float, second_ctrl_c: bool):
    """Run a polite and a stubborn waiter (each a shell running Python, as DVC runs a stage's
    command) side by side in this process and press Ctrl-C (SIGINT to this process) once both
    run, and again once the stubborn one's late process runs if `second_ctrl_c`. Returns the
    KeyboardInterrupt's info and the waiters' pids."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(side_by_side, "STOP_GRACE_S", grace_s)
    (tmp_path / "waiter.py").write_text(WAITER)
    python = shlex.quote(sys.executable)
    steps = [
        Step("polite", ("sh", "-c", f"{python} waiter.py polite; true")),
        Step("stubborn", ("sh", "-c", f"{python} waiter.py stubborn stubborn")),
    ]
    marks, pids = tmp_path / "marks", {}

    def press_ctrl_c() -> None:
        for name in ("polite", "stubborn"):
            pids[name] = pid_once_written(marks / f"{name}.pid")
        os.kill(os.getpid(), signal.SIGINT)  # KeyboardInterrupt in the main thread
        pids["late"] = pid_once_written(marks / "late.pid")
        if second_ctrl_c:
            os.kill(os.getpid(), signal.SIGINT)

    # Ctrl-C raises KeyboardInterrupt, as in a fresh Python, whatever ran in this process before
    # (Lightning ignores SIGINT from a KeyboardInterrupt in `fit` on).
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt) as stopped:
            run_side_by_side(steps, 2, tmp_path / "logs")
        presser.join(30)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    finally:
        signal.signal(signal.SIGINT, before)
        kill_waiters(marks)
    return stopped, pids


def test_ctrl_c_stops_each_step_and_kills_what_is_left_after_the_grace(tmp_path, monkeypatch):
    """The polite step ends on SIGINT; the stubborn one ignores it and starts a process after
    the stop began: both are killed `STOP_GRACE_S` later, the late process included (a step's
    whole process group); SIGINT's handler is Python's again afterwards (stop_while_running)."""
    _, pids = stop_while_running(tmp_path, monkeypatch, grace_s=5.0, second_ctrl_c=False)
    assert (tmp_path / "marks" / "polite.interrupted").exists()
    assert not (tmp_path / "marks" / "stubborn.interrupted").exists()
    assert all(gone(pid) for pid in pids.values()), pids
    assert not (tmp_path / "out").exists()


def test_a_second_ctrl_c_kills_at_once(tmp_path, monkeypatch):
    """With a grace period of 10 minutes, the second Ctrl-C, not the grace, ends the stop."""
    began = time.monotonic()
    _, pids = stop_while_running(tmp_path, monkeypatch, grace_s=600.0, second_ctrl_c=True)
    assert time.monotonic() - began < 300  # half the grace: it did not wait it out
    assert all(gone(pid) for pid in pids.values()), pids


def test_a_stopped_repro_leaves_nothing_running_and_the_next_run_finishes(tmp_path):
    """`python -m pipelines.repro` on a real DVC repository, stopped by SIGTERM while a stage's
    command runs: the command gets Ctrl-C's SIGINT through DVC and is gone when the driver exits,
    and the next run takes DVC's lock, runs the stage and records it."""
    repo = tmp_path / "project"
    repo.mkdir()
    sh(repo, "git", "init", "-q")
    dvc(repo, "init", "-q")
    (repo / "waiter.py").write_text(WAITER)
    stage = {"cmd": shlex.join([sys.executable, "waiter.py", "slow"]), "outs": ["out/slow"]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"slow": stage}}))
    (repo / ".gitignore").write_text("marks/\nlogs/\ngo\n")
    command = [sys.executable, "-m", "pipelines.repro", "--jobs", "1", "--logs", "logs"]
    project = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}  # its code
    env = child_env(repo, **project)
    driver = subprocess.Popen(command, cwd=repo, env=env, stderr=subprocess.PIPE, text=True)
    try:
        pid = pid_once_written(repo / "marks" / "slow.pid")
        driver.send_signal(signal.SIGTERM)
        _, stderr = driver.communicate(timeout=120)
    finally:
        driver.kill()
        kill_waiters(repo / "marks")
    assert driver.returncode == 128 + signal.SIGTERM, stderr
    assert "stopping slow" in stderr and "stopped (SIGTERM). Run again to go on" in stderr
    assert (repo / "marks" / "slow.interrupted").exists() and gone(pid)
    assert not (repo / "dvc.lock").exists()

    (repo / "go").touch()
    again = run_module("pipelines.repro", "--jobs", "1", "--logs", "logs", cwd=repo, env=project)
    assert again.returncode == 0, again.stderr
    assert "Running stage 'slow'" in (repo / "logs" / "slow.log").read_text()
    assert (repo / "out" / "slow").read_text() == "slow"
    assert "slow" in yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
