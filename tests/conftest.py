"""Shared fixtures: the project root, the real corpora, and helpers that write small real corpus
files and run stage entries exactly as DVC does."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def find_corpora() -> Path | None:
    """The corpora as `make corpora` links them, or ../shared/corpora beside the checkout."""
    for candidate in (ROOT / "corpora", ROOT.parent / "shared" / "corpora"):
        if (candidate / "hansard_enfr" / "test_unseen.en.gz").is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def corpora() -> Path:
    found = find_corpora()
    if found is None:
        pytest.skip("corpora not found: run `make corpora CORPORA=/path` (README, 'Corpora')")
    return found


def write_lines(path: Path, lines: list[str] | bytes) -> Path:
    """Write a corpus file: a list of lines (UTF-8, newline-terminated) or raw bytes; gzip if the
    name ends in .gz."""
    data = lines if isinstance(lines, bytes) else "".join(f"{s}\n" for s in lines).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def child_env(root: Path, **changes: str) -> dict[str, str]:
    """The environment for a command run in the project checkout `root`: the test process's,
    with root/src and root importable, this Python's bin/ first on PATH (dvc, the stages), and
    `changes`. It keeps WANDB_SERVICE, which an earlier test's in-process W&B run leaves in
    os.environ: the child then starts as it would from a notebook that runs W&B
    (tests/models/test_loggers.py, tests/models/test_resume.py)."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        **changes,
    }


@pytest.fixture
def wandb_service(tmp_path_factory, monkeypatch) -> Iterator[str]:
    """A W&B service started by this (the test) process, as a notebook with a W&B run has one:
    WANDB_SERVICE in os.environ, which child commands inherit (child_env)."""
    import wandb

    where = tmp_path_factory.mktemp("wandb")
    monkeypatch.chdir(where)  # the service, if this starts it, works from here
    run = wandb.init(project="nmt-bottleneck-test", mode="offline", dir=str(where))
    run.finish()
    assert "WANDB_SERVICE" in os.environ  # the service outlives its run
    yield os.environ["WANDB_SERVICE"]
    wandb.teardown()  # later tests start from a clean W&B state (its settings keep this cwd)


def run_module(
    module: str,
    *args: str,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run `python -m module args` as DVC would, with src/ and the project root importable."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=child_env(cwd, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sh(repo: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    env = child_env(repo)
    result = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def edit_conf(repo: Path, changes: dict) -> None:
    """Edit the repository's conf/ as a user would (DVC recomposes params.yaml from conf/ on
    every `dvc exp run`, so this, not params.yaml, is where settings live), then recompose.
    Keys: `data.source.*` (conf/data/synthetic.yaml), `train.*` and `sizes.*` (the smoke
    experiment profile), anything else (conf/config.yaml)."""
    from omegaconf import OmegaConf

    for key, value in changes.items():
        if key.startswith("data.source."):
            path, local = repo / "conf/data/synthetic.yaml", key.removeprefix("data.")
        elif key.startswith(("train.", "sizes.")):
            path, local = repo / "conf/experiment/smoke.yaml", key
        else:
            path, local = repo / "conf/config.yaml", key
        directive = path.read_text().splitlines()[0]  # `# @package ...` must survive the save
        cfg = OmegaConf.load(path)
        OmegaConf.update(cfg, local, value, merge=False)
        OmegaConf.save(cfg, path)
        if directive.startswith("# @package"):
            path.write_text(f"{directive}\n{path.read_text()}")
    sh(repo, sys.executable, "-m", "pipelines.compose_params")


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(repo, sys.executable, "-m", "dvc", *args, check=check)


SMALL = {
    "data.source.sizes": {"train": 1500, "valid": 100, "test": 200},
    "tokenizer.vocab_size": 600,
    "train.max_steps": 6,
    "train.val_every_steps": 3,
    "train.log_every_steps": 3,
}


def make_repo(path: Path, conf_changes: dict) -> Path:
    """A fresh git + DVC repository holding the project's pipeline, conf and code."""
    path.mkdir()
    for name in ("dvc.yaml", ".gitignore", "conf", "pipelines", "src", "reports/templates"):
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, path / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(ROOT / name, path / name)
    config = path / "conf/config.yaml"  # tests start from the synthetic corpus and smoke sizes
    config.write_text(
        re.sub(
            r"- experiment: \w+",
            "- experiment: smoke",
            re.sub(r"- data: \w+", "- data: synthetic", config.read_text()),
        )
    )
    sh(path, "git", "init", "-q")
    sh(path, "git", "config", "user.email", "test@example.com")
    sh(path, "git", "config", "user.name", "test")
    dvc(path, "init", "-q")
    dvc(path, "config", "hydra.enabled", "true")
    edit_conf(path, conf_changes)
    sh(path, "git", "add", "-A")
    sh(path, "git", "commit", "-qm", "pipeline")
    return path


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
    """One `dvc repro` of the small config, committed to git, and what it printed. The tests
    that start from a reproduced pipeline each get their own copy (`reproduced_copy`), so none
    sees another's changes and the full repro runs once for all of them."""
    repo = make_repo(tmp_path_factory.mktemp("reproduced") / "project", SMALL)
    first = dvc(repo, "repro")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "first run")
    return repo, first.stdout


@pytest.fixture
def reproduced_copy(reproduced, tmp_path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(reproduced[0], copy, symlinks=True)
    return copy
