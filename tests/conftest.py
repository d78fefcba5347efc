"""Shared fixtures: the real corpora, a W&B service owned by the test process, and the pipeline
in a temporary repository; and how `make test`'s test processes share the work (pytest-xdist,
below). Helpers shared by test modules live in test utility modules (tests/helpers.py and its
siblings; README, "Layout"), never in a test module."""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SMALL, find_corpora, make_repo, run_module, sh

# The test session's trainings and evaluations register their cores (nmt_bottleneck.cores) in a
# registry of their own, inherited by every stage they run: a test never waits for a job of the
# machine's that is not its own (a real pipeline running beside the tests).
os.environ.setdefault("NMT_JOBS_DIR", tempfile.mkdtemp(prefix="nmt-bottleneck-test-jobs-"))


# `make test` runs the tests in one process per core (pytest-xdist, `-n`), a test module at a
# time per process. The modules built on the one smoke pipeline run (`reproduced`, minutes) go
# to one process together, first, so it is built once while the other processes take the other
# modules. (`--dist loadgroup` with xdist_group marks would say so too, but xdist 3.8 groups by
# rewriting test ids, which pytest 9 no longer reads.)
SMOKE_RUN_MODULES = (
    "tests/test_pipeline_dvc.py",
    "tests/test_fourth_variant.py",
    "tests/test_regimes_and_seeds_dvc.py",
    "tests/test_experiment_dvc.py",
)
SHARES_THE_SMOKE_RUN = {"reproduced", "reproduced_copy"}  # and fixtures built on them
MISPLACED = pytest.StashKey[dict[str, str]]()  # test id -> its module, not in SMOKE_RUN_MODULES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The smoke run's modules first (SMOKE_RUN_MODULES); a test elsewhere that uses the smoke
    run is noted, to fail before its set-up (`pytest_runtest_setup`)."""
    config.stash[MISPLACED] = {
        item.nodeid: module
        for item in items
        if SHARES_THE_SMOKE_RUN & set(getattr(item, "fixturenames", ()))
        and (module := item.nodeid.split("::")[0]) not in SMOKE_RUN_MODULES
    }
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in SMOKE_RUN_MODULES)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test outside SMOKE_RUN_MODULES that uses the smoke run fails with the fix, before the
    run is built (in another process it would be built a second time, unseen)."""
    module = item.config.stash.get(MISPLACED, {}).get(item.nodeid)
    if module is not None:
        message = f"uses the smoke pipeline run: add {module} to SMOKE_RUN_MODULES in {__file__}"
        pytest.fail(message, pytrace=False)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: without xdist, never called
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """For `-n` (xdist's `--dist load`) or `--dist loadscope`: one test module at a time per
    process, the smoke run's modules as one unit, in collection order (theirs first). So
    `pytest tests/one_module.py -n 2` runs in one process. Another `--dist` is left to xdist."""
    if config.getvalue("dist") not in ("load", "loadscope"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SmokeRunTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            return "smoke-run" if module in SMOKE_RUN_MODULES else module

    config.option.loadscopereorder = False  # read when the collection is scheduled, later
    return SmokeRunTogether(config, log)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_per_worker() -> Iterator[None]:
    """With one test process per core, each process's torch gets one thread for the tests that
    run in the process itself (two processes of torch's default two threads on 2 cores spin on
    each other: benchmarks/README.md, "Jobs side by side"). Stages that tests start as child
    processes choose their own (`train.threads`, the core registry)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def corpora() -> Path:
    found = find_corpora()
    if found is None:
        pytest.skip("corpora not found: run `make corpora CORPORA=/path` (README, 'Corpora')")
    return found


@pytest.fixture
def wandb_service(tmp_path_factory, monkeypatch) -> Iterator[str]:
    """A W&B service started by this (the test) process, as a notebook with a W&B run has one:
    WANDB_SERVICE in os.environ, which child commands inherit (child_env). The variable and the
    working directory are restored afterwards (`_restore_shared_state`)."""
    import wandb

    where = tmp_path_factory.mktemp("wandb")
    monkeypatch.chdir(where)  # the service, if this starts it, works from here
    run = wandb.init(project="nmt-bottleneck-test", mode="offline", dir=str(where))
    run.finish()
    assert "WANDB_SERVICE" in os.environ  # the service outlives its run
    yield os.environ["WANDB_SERVICE"]
    wandb.teardown()  # later tests start from a clean W&B state (its settings keep this cwd)


@pytest.fixture(scope="session", autouse=True)
def _allocator_left_alone() -> Iterator[None]:
    """A training or evaluation run in this process would set glibc's malloc for the rest of the
    session (nmt_bottleneck.allocator: per process, no undo), so here it counts as decided and
    stays glibc's default. Stages run as child processes set it themselves (what the stage tests
    and tests/test_allocator.py check)."""
    from nmt_bottleneck import allocator

    allocator._state = "default (left alone in the test process)"
    yield


@pytest.fixture(autouse=True)
def _restore_shared_state() -> Iterator[None]:
    """Whatever a test changes in this process's shared state is put back after it, so no test
    depends on the tests before it: the environment, the working directory, handlers added to
    the root logger and its level (a stage's `logging.basicConfig`), the random generators
    (`seed_everything`; numpy's and torch's where the process has imported them), and the
    handlers of SIGINT and SIGTERM (Lightning ignores SIGINT from a KeyboardInterrupt on)."""
    environ, cwd = dict(os.environ), Path.cwd()
    root = logging.getLogger()
    handlers, level = set(root.handlers), root.level
    states = {name: get() for name, (get, _) in rng_accessors().items()}
    on_signal = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
    yield
    for n, handler in on_signal.items():
        if handler is not None and signal.getsignal(n) != handler:
            signal.signal(n, handler)
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    for handler in [h for h in root.handlers if h not in handlers]:
        if not type(handler).__module__.startswith("_pytest"):  # pytest's own come and go per phase
            root.removeHandler(handler)
    root.setLevel(level)
    for name, (_, set_state) in rng_accessors().items():
        if name in states:
            set_state(states[name])


def rng_accessors() -> dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]]:
    """(get, set) of each random generator state this process has: Python's always, numpy's
    and torch's (CPU) once imported; importing them here would slow every test session."""
    found = {"random": (random.getstate, random.setstate)}
    if "numpy" in sys.modules:
        np = sys.modules["numpy"]
        found["numpy"] = (np.random.get_state, np.random.set_state)
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        found["torch"] = (torch.random.get_rng_state, torch.random.set_rng_state)
    return found


@pytest.fixture
def repo(tmp_path) -> Path:
    """The pipeline in a temporary repository, with small synthetic sizes (conf/ edited)."""
    return make_repo(tmp_path / "project", SMALL)


@pytest.fixture
def full_repo(tmp_path) -> Path:
    """The pipeline in a temporary repository, with the committed configuration unchanged."""
    return make_repo(tmp_path / "project", {})


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory) -> tuple[Path, str]:
    """One run of the small config as `make repro` runs it (pipelines/repro.py: every stage a
    `dvc repro` of its own, two at once), committed to git, and what DVC printed (the stages'
    logs, then the closing `dvc repro`). The tests that start from a reproduced pipeline each
    get their own copy (`reproduced_copy`), so none sees another's changes and the full repro
    runs once for all of them."""
    repo = make_repo(tmp_path_factory.mktemp("reproduced") / "project", SMALL)
    first = run_module("pipelines.repro", "--jobs", "2", "--logs", "logs/repro", cwd=repo)
    assert first.returncode == 0, f"{first.stdout}\n{first.stderr}"
    logs = sorted((repo / "logs/repro").glob("*.log"))
    printed = "".join(log.read_text() for log in logs) + first.stdout
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "first run")
    return repo, printed


@pytest.fixture
def reproduced_copy(reproduced, tmp_path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(reproduced[0], copy, symlinks=True)
    return copy
