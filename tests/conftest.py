"""Shared fixtures: the project root, the real corpora, and helpers that write small real corpus
files and run stage entries exactly as DVC does."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
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


def run_module(
    module: str,
    *args: str,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run `python -m module args` as DVC would, with src/ and the project root importable."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join([str(cwd / "src"), str(cwd)])
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
