"""Each training or evaluation process's share of the machine's cores, whatever launched it side
by side with others (`dvc queue start -j 2`, a Hydra launcher, two shells, SLURM on one node).

Why: torch starts as many intra-op threads as the machine has cores, in every process. Two
trainings at once on 2 cores, each with 2 threads, ran 16 times slower each (threads spinning on
a shared core; benchmarks/README.md, "Jobs side by side").

How: a job registers by holding an exclusive `flock` on a file of its own in a per-user folder
(`$NMT_JOBS_DIR`, else /tmp/nmt-bottleneck-<uid>/jobs); the file says its pid, its threads and
the cores it may run on (its affinity). The kernel drops the lock when the process ends, killed
or not, so a live job is a file whose lock cannot be taken; a file whose lock can be taken is a
dead job's and is removed. Only peers whose cores overlap this job's count (SLURM cpusets and
`taskset` keep jobs apart that do not compete).

The thread count is part of a CPU training's result: 1 and 2 threads trained different weights
from the same seed (20 steps of attention at the cpu sizes differ by up to 0.02 in a weight;
float sums split across threads add in another order; benchmarks/README.md). So the share
never changes a run's thread count behind its back. A setting (`train.threads`,
`eval.threads`, or `$NMT_THREADS`, which wins) is one of:
- an integer n: n threads, always. The job waits before it starts until its peers leave n of
  its cores free (a counting semaphore on cores): side by side jobs queue instead of
  oversubscribing, and the result is the same however they were launched.
- null: torch's default count (the process's, as before this module); waits like an integer.
- "share": max(1, cores // live jobs), re-counted every few steps (a job that ends gives its
  cores back). Fastest when jobs come and go, but the weights depend on what else ran: for
  exploration, not for a committed result.
Every decision is logged, and the count a run used is in its machine facts (machine.describe).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import time
from pathlib import Path
from typing import Literal

import torch

from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.machine import usable_cores

log = logging.getLogger(__name__)

THREADS_ENV = "NMT_THREADS"  # overrides the config's setting: an integer or "share"
JOBS_DIR_ENV = "NMT_JOBS_DIR"  # the registry folder (tests point it at a temporary one)
SHARE = "share"
Setting = int | Literal["share"] | None
POLL_S = 2.0  # how often a waiting job looks again
RECORD = 8192  # bytes of a registration file (JSON padded with spaces, rewritten in place)


def jobs_dir() -> Path:
    """The registry: `$NMT_JOBS_DIR`, else a per-user folder in /tmp (one machine's jobs)."""
    where = os.environ.get(JOBS_DIR_ENV) or f"/tmp/nmt-bottleneck-{os.getuid()}/jobs"
    path = Path(where)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def parse_setting(value: object, key: str) -> Setting:
    """A thread setting from config (`key` names it) or the environment, checked."""
    if value is None or value == SHARE:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{key} = {value!r}: valid are a positive integer (that many threads, waiting for "
            f"free cores), null (torch's default count) or {SHARE!r} (cores // live jobs). "
            f"Fix: e.g. {key}=1, or unset ${THREADS_ENV}."
        )
    return value


def resolve_setting(configured: object, key: str) -> tuple[Setting, str]:
    """`$NMT_THREADS` where set (it wins), else the configured value; and where it came from."""
    env = os.environ.get(THREADS_ENV)
    if env:
        return parse_setting(env, f"${THREADS_ENV}"), f"${THREADS_ENV}"
    return parse_setting(configured, key), key


def read_peers(folder: Path) -> list[dict]:
    """The live jobs registered in `folder` by other processes; dead jobs' files are removed."""
    peers = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # removed meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            with contextlib.suppress(ValueError, OSError):
                facts = json.loads(os.pread(fd, RECORD, 0))  # held: a live job
                if facts["pid"] != os.getpid():
                    peers.append(facts)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # nobody holds it: its job ended
        finally:
            os.close(fd)
    return peers


def share_of(cores: int, jobs: int) -> int:
    """Threads per job when `jobs` share `cores`: at least one."""
    return max(1, cores // max(1, jobs))


def free_cores(mine: set[int], peers: list[dict]) -> int:
    """Cores of `mine` left by the peers whose cores overlap them (each holds its threads)."""
    held = sum(p["threads"] for p in peers if mine & set(p["cores"]))
    return len(mine) - held


class CoreClaim:
    """This process's registration and thread count: `acquire` (waits where the setting says),
    `refresh` (a "share" job re-counts its peers), `release`; a context manager too.

    Args: setting: the configured thread setting (None, an integer, "share"); key: its config
    key, for messages; folder: the registry (default `jobs_dir()`); poll_s: how often a waiting
    job looks again."""

    def __init__(
        self, setting: object, key: str, folder: Path | None = None, poll_s: float = POLL_S
    ) -> None:
        self.setting, self.source = resolve_setting(setting, key)
        self.folder = Path(folder) if folder is not None else jobs_dir()
        self.poll_s = poll_s
        self.cores = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()
        self.cores = self.cores or set(range(usable_cores()))
        self.path: Path | None = None
        self.fd: int | None = None
        self.threads = torch.get_num_threads()

    def acquire(self, wait: bool = True) -> int:
        """Register and set torch's threads; an integer or null setting first waits for its
        threads' worth of free cores, unless `wait` is False (the processes of one distributed
        job must not wait for each other). Returns the thread count."""
        if self.setting == SHARE:
            with self._admission():
                peers = read_peers(self.folder)
                self._register(share_of(len(self.cores), len(self._overlapping(peers)) + 1))
            return self._apply(f"{SHARE}: {len(self._overlapping(peers)) + 1} jobs")
        # null: the count the process has now (torch's default, or what Lightning's DDP set)
        wanted = torch.get_num_threads() if self.setting is None else self.setting
        waited = False
        while True:
            with self._admission():
                peers = self._overlapping(read_peers(self.folder))
                free = free_cores(self.cores, peers)
                if not wait or not peers or free >= min(wanted, len(self.cores)):
                    self._register(wanted)
                    break
            if not waited:
                log.info(
                    "waiting for %d free core(s) of %d: held by pid(s) %s (%s = %s)",
                    *(wanted, len(self.cores), [p["pid"] for p in peers], self.source, wanted),
                )
                waited = True
            time.sleep(self.poll_s)
        return self._apply(f"{self.source} = {self.setting}")

    def refresh(self) -> int:
        """A "share" job's count again (peers may have come or gone); others keep theirs."""
        if self.setting != SHARE or self.fd is None:
            return self.threads
        with self._admission():
            jobs = len(self._overlapping(read_peers(self.folder))) + 1
            threads = share_of(len(self.cores), jobs)
            if threads != self.threads:
                self._write(threads)
                self._apply(f"{SHARE}: {jobs} jobs")
        return self.threads

    def release(self) -> None:
        """Unregister (the process's end does this too, killed or not)."""
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self.fd)
        self.fd = self.path = None

    def __enter__(self) -> CoreClaim:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _overlapping(self, peers: list[dict]) -> list[dict]:
        return [p for p in peers if self.cores & set(p["cores"])]

    @contextlib.contextmanager
    def _admission(self):
        """One job at a time counts and registers, so two starting at once cannot both take
        the same free cores."""
        fd = os.open(self.folder / ".admission", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _register(self, threads: int) -> None:
        """Hold the lock of a new file, then give it its name: a reader never sees it unheld."""
        self.release()
        hidden = self.folder / f".{os.getpid()}-{time.monotonic_ns()}"
        self.fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self._write(threads)
        self.path = hidden.with_name(hidden.name[1:])
        os.rename(hidden, self.path)

    def _write(self, threads: int) -> None:
        self.threads = threads
        facts = {"pid": os.getpid(), "threads": threads, "cores": sorted(self.cores)}
        os.pwrite(self.fd, json.dumps(facts).encode().ljust(RECORD), 0)

    def _apply(self, why: str) -> int:
        torch.set_num_threads(self.threads)
        log.info(
            "torch threads: %d of %d cores (%s; registered in %s)",
            *(self.threads, len(self.cores), why, self.folder),
        )
        return self.threads
