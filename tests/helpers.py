"""Helpers the test modules share (fixtures live in conftest.py): the project root and the
corpora, small real corpus files, and running stage entries, git and DVC in child processes
exactly as DVC runs them, so no test changes the environment of the tests after it."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "data.source.sizes": {"train": 1500, "valid": 100, "test": 200},
    "tokenizer.vocab_size": 600,
    "train.max_steps": 6,
    "train.val_every_steps": 3,
    "logger.every_steps": 3,
}


def find_corpora() -> Path | None:
    """The corpora as `make corpora` links them, or ../shared/corpora beside the checkout."""
    for candidate in (ROOT / "corpora", ROOT.parent / "shared" / "corpora"):
        if (candidate / "hansard_enfr" / "test_unseen.en.gz").is_file():
            return candidate
    return None


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
    `changes`. It keeps WANDB_SERVICE where the test process has one (the `wandb_service`
    fixture): the child then starts as it would from a notebook that runs W&B."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        **changes,
    }


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


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(repo, sys.executable, "-m", "dvc", *args, check=check)


def edit_conf(repo: Path, changes: dict) -> None:
    """Edit the repository's conf/ as a user would (DVC recomposes params.yaml from conf/ on
    every `dvc exp run`, so this, not params.yaml, is where settings live), then recompose.
    Keys: `data.source.*` (conf/data/synthetic.yaml), `train.*`, `sizes.*` and `logger.*` (the
    smoke experiment profile), `judge.claims` (the smoke curves': conf/curves/smoke.yaml, which
    the smoke profile chooses), anything else (conf/config.yaml)."""
    from omegaconf import OmegaConf

    for key, value in changes.items():
        if key.startswith("data.source."):
            path, local = repo / "conf/data/synthetic.yaml", key.removeprefix("data.")
        elif key.startswith(("train.", "sizes.", "logger.")):
            path, local = repo / "conf/experiment/smoke.yaml", key
        elif key.startswith("judge.claims"):
            path, local = repo / "conf/curves/smoke.yaml", key
        else:
            path, local = repo / "conf/config.yaml", key
        directive = path.read_text().splitlines()[0]  # `# @package ...` must survive the save
        cfg = OmegaConf.load(path)
        OmegaConf.update(cfg, local, value, merge=False)
        OmegaConf.save(cfg, path)
        if directive.startswith("# @package"):
            path.write_text(f"{directive}\n{path.read_text()}")
    sh(repo, sys.executable, "-m", "pipelines.compose_params")


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


STOPPER = '''"""Test hook (tests/helpers.py, stop_on_open): a process whose environment names
a pattern stops itself (SIGSTOP) as it opens a matching file for writing, after writing its pid
to the marker file. Installed as sitecustomize, so it reaches the commands DVC starts."""
import fnmatch
import os
import signal
import sys


def _stop_on_open(event, args):
    if event != "open" or not isinstance(args[0], str) or "w" not in (args[1] or ""):
        return
    if fnmatch.fnmatch(os.path.abspath(args[0]), os.environ["NMT_TEST_STOP_ON_OPEN"]):
        marker = os.environ["NMT_TEST_STOPPED"]
        with open(marker + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(marker + ".tmp", marker)  # whole or absent to the test
        os.kill(os.getpid(), signal.SIGSTOP)


if os.environ.get("NMT_TEST_STOP_ON_OPEN"):
    sys.addaudithook(_stop_on_open)
'''


def stop_on_open(root: Path, where: Path, pattern: str) -> tuple[dict[str, str], Path]:
    """The environment for a command run in `root` whose Python processes stop themselves
    (SIGSTOP) at a chosen point: when one opens a file matching `pattern` (absolute, fnmatch)
    for writing. The point is in the process, not in a poll of the test; the marker file
    returned holds the stopped process's id once it has stopped (or is about to)."""
    hook = where / "stop_on_open"
    hook.mkdir(parents=True, exist_ok=True)
    (hook / "sitecustomize.py").write_text(STOPPER)
    marker = where / "stopped.pid"
    env = child_env(root, NMT_TEST_STOP_ON_OPEN=pattern, NMT_TEST_STOPPED=str(marker))
    env["PYTHONPATH"] = os.pathsep.join([str(hook), env["PYTHONPATH"]])
    return env, marker


def process_state(pid: int) -> str:
    """The process's state letter from /proc (R running, S sleeping, T stopped, ...)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]
