"""Jobs side by side take their share of the cores (nmt_bottleneck.cores), whatever launched
them: real child processes register in a temporary registry and report their torch threads."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nmt_bottleneck.cores import (
    JOBS_DIR_ENV,
    THREADS_ENV,
    CoreClaim,
    free_cores,
    parse_setting,
    read_peers,
    resolve_setting,
    share_of,
)
from nmt_bottleneck.errors import ConfigError
from tests.helpers import child_env

ROOT = Path(__file__).resolve().parents[1]
CORES = len(os.sched_getaffinity(0))
ANSWER_S = 120  # a generous bound on a child's answer: a hang fails, speed is not measured


class Job:
    """A tests/core_job.py child with `setting`, registered in `registry`."""

    def __init__(self, setting: str, registry: Path) -> None:
        env = child_env(ROOT, **{JOBS_DIR_ENV: str(registry)})
        env.pop(THREADS_ENV, None)
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "core_job.py"), setting],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def line(self, stream) -> str:
        ready, _, _ = select.select([stream], [], [], ANSWER_S)
        assert ready, f"no answer from the job in {ANSWER_S} s"
        return stream.readline()

    def threads(self) -> int:
        return int(self.line(self.proc.stdout))

    def refresh(self) -> int:
        self.proc.stdin.write("refresh\n")
        self.proc.stdin.flush()
        return self.threads()

    def logs_until(self, text: str) -> None:
        while text not in (line := self.line(self.proc.stderr)):
            assert line, f"the job ended without logging {text!r}"

    def exit(self) -> None:
        self.proc.stdin.write("exit\n")
        self.proc.stdin.flush()
        assert self.proc.wait(ANSWER_S) == 0

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(ANSWER_S)


@pytest.fixture
def jobs(tmp_path):
    started: list[Job] = []

    def start(setting: str) -> Job:
        started.append(Job(setting, tmp_path / "jobs"))
        return started[-1]

    yield start
    for job in started:
        if job.proc.poll() is None:
            job.kill()


@pytest.mark.skipif(CORES < 2, reason="sharing needs at least 2 cores")
def test_two_share_jobs_split_the_cores_and_a_killed_one_gives_its_share_back(jobs):
    first = jobs("share")
    assert first.threads() == CORES  # alone
    second = jobs("share")
    assert second.threads() == CORES // 2
    assert first.refresh() == CORES // 2  # re-counted: two jobs now
    second.kill()  # SIGKILL: no clean-up runs, the kernel drops its lock
    assert first.refresh() == CORES


@pytest.mark.skipif(CORES < 2, reason="sharing needs at least 2 cores")
def test_a_fixed_job_waits_for_free_cores_and_starts_when_the_holder_exits(jobs):
    holder = jobs(str(CORES))
    assert holder.threads() == CORES
    waiting = jobs("1")
    waiting.logs_until("waiting for 1 free core(s)")
    holder.exit()
    assert waiting.threads() == 1
    waiting.exit()


@pytest.mark.skipif(CORES < 2, reason="sharing needs at least 2 cores")
def test_fixed_jobs_that_fit_run_side_by_side(jobs):
    one, two = jobs("1"), jobs("1")
    assert (one.threads(), two.threads()) == (1, 1)  # neither waited for the other


def test_a_dead_jobs_file_is_removed_and_not_counted(tmp_path):
    stale = tmp_path / "123-1"
    stale.write_text('{"pid": 123, "threads": 2, "cores": [0]}')  # nobody holds its lock
    assert read_peers(tmp_path) == []
    assert not stale.exists()


def test_own_registration_is_not_a_peer(tmp_path, monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    threads = torch.get_num_threads()
    try:
        with CoreClaim(None, "test.threads", tmp_path) as claim:  # null: the count it has
            assert claim.path.exists() and claim.threads == threads
            assert read_peers(tmp_path) == []
    finally:
        torch.set_num_threads(threads)
    assert list(tmp_path.iterdir()) == [tmp_path / ".admission"]


def test_share_and_free_cores():
    assert [share_of(2, n) for n in (1, 2, 3)] == [2, 1, 1]
    peers = [{"pid": 1, "threads": 1, "cores": [0, 1]}, {"pid": 2, "threads": 4, "cores": [4]}]
    assert free_cores({0, 1}, peers) == 1  # the peer on core 4 does not compete


@pytest.mark.parametrize("value", [0, -1, "two", 1.5, True])
def test_a_bad_setting_names_its_key(value):
    with pytest.raises(ConfigError, match=r"train\.threads"):
        parse_setting(value, "train.threads")


def test_the_environment_overrides_the_config(monkeypatch):
    assert resolve_setting(2, "train.threads") == (2, "train.threads")
    monkeypatch.setenv(THREADS_ENV, "share")
    assert resolve_setting(2, "train.threads") == ("share", f"${THREADS_ENV}")
    monkeypatch.setenv(THREADS_ENV, "3")
    assert resolve_setting(None, "train.threads") == (3, f"${THREADS_ENV}")
