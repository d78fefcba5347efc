"""The committed results are exactly what the committed dvc.lock records, for the main run
(reports/ and dvc.lock) and for the second experiment (reports/seeds/ and its dvc.lock): no
stage the pipeline no longer has, no file under reports/ that no stage wrote (a result of an
earlier layout left behind reads as current), every recorded file present with the recorded
checksum, and each recorded folder under reports/, written or read, with the recorded number of
files."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("reports/templates/",)  # under reports/ but written by hand: dvc.yaml's plot template


def tracked(under: str) -> list[str]:
    """git's files under `under` (relative to the project root)."""
    done = subprocess.run(["git", "ls-files", "-z", "--", under], cwd=ROOT, capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"not a git checkout here: {done.stderr.decode(errors='replace').strip()}")
    return [f for f in done.stdout.decode().split("\0") if f]


def recorded(lock: Path, prefix: str, kind: str = "outs") -> dict[str, dict]:
    """The outputs (`kind` "outs") or inputs ("deps") under reports/ that `lock` records, by the
    path they have in this checkout (`prefix` replaces the leading reports/: reports/seeds/ for
    the second experiment)."""
    stages = yaml.safe_load(lock.read_text())["stages"]
    found = {}
    for stage in stages.values():
        for entry in stage.get(kind, []):
            if entry["path"].startswith("reports/"):
                found[prefix + entry["path"].removeprefix("reports/")] = entry
    return found


def check(lock: Path, prefix: str, skip: tuple[str, ...], inputs: bool = True) -> None:
    outs = recorded(lock, prefix)
    files = [
        f for f in tracked(prefix) if not f.startswith(skip) and f != str(lock.relative_to(ROOT))
    ]
    files = [f for f in files if f != prefix + "params.yaml"]
    stray = [f for f in files if not any(f == o or f.startswith(o + "/") for o in outs)]
    assert not stray, f"{lock.relative_to(ROOT)} records no stage writing {stray}"
    for path, out in outs.items():
        if "nfiles" in out:  # a folder
            inside = [f for f in files if f.startswith(path + "/")]
            assert len(inside) == out["nfiles"], (path, len(inside), out["nfiles"])
        else:
            data = (ROOT / path).read_bytes()
            assert hashlib.md5(data).hexdigest() == out["md5"], f"{path} is not what the lock says"
    if not inputs:
        return
    for path, dep in recorded(lock, prefix, "deps").items():  # e.g. report's reports/train
        if "nfiles" in dep:
            inside = [f for f in files if f.startswith(path + "/")]
            assert len(inside) == dep["nfiles"], (
                f"{path}: {len(inside)} files, read {dep['nfiles']}"
            )


def test_the_main_run_holds_only_what_its_lock_records():
    lock = ROOT / "dvc.lock"
    names = subprocess.run(
        [sys.executable, "-m", "dvc", "stage", "list", "--name-only"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert names.returncode == 0, names.stderr
    stale = set(yaml.safe_load(lock.read_text())["stages"]) - set(names.stdout.split())
    assert not stale, f"dvc.lock records stages dvc.yaml no longer has: {sorted(stale)}"
    check(lock, "reports/", (*SOURCES, "reports/seeds/"))


@pytest.mark.skipif(not (ROOT / "reports/seeds/dvc.lock").exists(), reason="not committed")
def test_the_seed_experiment_holds_only_what_its_lock_records():
    # its stages ran in a checkout that held the main run's reports/ too, which its report stage
    # read beside its own (pipelines/experiment.py copies only its own): inputs are not checked
    check(ROOT / "reports/seeds/dvc.lock", "reports/seeds/", (), inputs=False)
