"""Atomic outputs: a stage that is interrupted leaves its previous outputs or none, never half.

Everything is written to a temporary sibling of the final path (same filesystem) and moved into
place with `os.replace`, which is atomic for files and for a directory whose target is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces `final`, on error it vanishes.

    A run killed outright (SIGKILL, power loss) cannot clean up, so leftovers of earlier runs for
    the same output are removed first: a restarted stage starts from a clean slate.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        if final.is_symlink() or final.is_file():
            final.unlink()
        elif final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(text: str, path: Path) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json_atomic(obj: Any, path: Path) -> None:
    """Write `obj` as indented UTF-8 JSON (key order kept) to `path`, atomically."""
    write_text_atomic(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", path)
