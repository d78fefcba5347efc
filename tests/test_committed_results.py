"""The committed results are exactly what the committed dvc.lock records, for the main run
(reports/ and dvc.lock) and for the second experiment (reports/seeds/ and its dvc.lock): no
stage the pipeline no longer has, no file under reports/ that no stage wrote (a result of an
earlier layout left behind reads as current), every recorded file present with the recorded
checksum, and each recorded folder with the recorded number of files."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("reports/templates/",)  # under reports/ but written by hand: dvc.yaml's plot template


def tracked(under: str) -> list[str]:
    """git's files under `under` (relative to the project root)."""
    done = subprocess.run(
        ["git", "ls-files", "--", under], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def recorded(lock: Path, prefix: str) -> dict[str, dict]:
    """The outputs under reports/ that `lock` records, by the path they have in this checkout
    (`prefix` replaces the leading reports/: reports/seeds/ for the second experiment)."""
    stages = yaml.safe_load(lock.read_text())["stages"]
    outs = {}
    for stage in stages.values():
        for out in stage.get("outs", []):
            if out["path"].startswith("reports/"):
                outs[prefix + out["path"].removeprefix("reports/")] = out
    return outs


def check(lock: Path, prefix: str, skip: tuple[str, ...]) -> None:
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


def test_the_main_run_holds_only_what_its_lock_records():
    lock = ROOT / "dvc.lock"
    names = subprocess.run(
        ["dvc", "stage", "list", "--name-only"], cwd=ROOT, capture_output=True, text=True
    )
    assert names.returncode == 0, names.stderr
    stale = set(yaml.safe_load(lock.read_text())["stages"]) - set(names.stdout.split())
    assert not stale, f"dvc.lock records stages dvc.yaml no longer has: {sorted(stale)}"
    check(lock, "reports/", (*SOURCES, "reports/seeds/"))


@pytest.mark.skipif(not (ROOT / "reports/seeds/dvc.lock").exists(), reason="not committed")
def test_the_seed_experiment_holds_only_what_its_lock_records():
    check(ROOT / "reports/seeds/dvc.lock", "reports/seeds/", ())
