"""Steps side by side (nmt_bottleneck/side_by_side.py) and `make repro`'s driver around DVC
(pipelines/repro.py) on a real git + DVC repository. Two steps that can only both finish if
they run at the same time (each waits for the other to have started) show the overlap without
reading a clock: run one after the other, the first gives up and fails."""

from __future__ import annotations

import copy
import os
import shlex
import sys

import pytest
import yaml

from helpers import ROOT, dvc, run_module, sh
from nmt_bottleneck.errors import NmtBottleneckError
from nmt_bottleneck.side_by_side import Step, next_ready, run_side_by_side, times_table

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
