"""The commit a report is written at, and the files that differ from it, so a report is never
credited to a commit whose code or configuration it did not run."""

from __future__ import annotations

import subprocess
from pathlib import Path


def code_version(results: Path) -> tuple[str, list[str]]:
    """The commit the report is written at, and the files that differ from it: tracked files
    changed and untracked files not ignored, leaving out dvc.lock and `results` (reports/,
    where the stages write what git keeps; every repro rewrites both). A changed conf file or
    params.yaml is listed, so a report is never credited to a commit whose configuration it
    did not run."""
    try:
        root = Path(git("rev-parse", "--show-toplevel")).resolve()
        head = git("rev-parse", "--short", "HEAD")
        status = git("status", "--porcelain", "-z", "--untracked-files=all")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)", []
    skip = [root / "dvc.lock", results.resolve()]
    changed = set()
    entries = iter(status.split("\0"))
    for entry in entries:
        if not entry:
            continue
        paths = [entry[3:]]
        if {"R", "C"} & set(entry[:2]):  # renamed or copied (staged or not): then the old path
            paths.append(next(entries, ""))
        for name in filter(None, paths):
            path = root / name
            if not any(path == s or s in path.parents for s in skip):
                changed.add(name)
    return head, sorted(changed)


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    return result.stdout.strip("\n")
