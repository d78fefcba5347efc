"""Atomic outputs: a stage that is interrupted leaves its previous outputs or none, never half.

Everything is written to a temporary sibling of the final path (same filesystem) and moved into
place with `os.replace`. A directory that already exists is first renamed aside, so at every
moment the final path holds the old complete output, nothing, or the new complete output.
Leftovers of a run killed outright (SIGKILL, power loss: no cleanup runs) are swept away by the
next write of the same output. Outputs get the usual permissions (0666/0777 less the umask), not
the private ones of `tempfile`.
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sweep(final: Path) -> None:
    """Remove temporary siblings that earlier, killed writes of `final` left behind."""
    for stale in final.parent.glob(f".{final.name}.tmp-*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces `final`, on error it vanishes."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _sweep(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if final.exists() or final.is_symlink():
            aside = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-old-", dir=final.parent))
            os.replace(final, aside / final.name)
            os.replace(tmp, final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling path of `final` ending in the same suffix (a writer that picks
    the format by the name, as matplotlib's `savefig`, writes the same format); on success it
    replaces `final`, on error it vanishes."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _sweep(final)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.tmp-", suffix=final.suffix, dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(text: str, path: Path) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file and `os.replace`."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(obj: Any, path: Path) -> None:
    """Write `obj` as indented UTF-8 JSON (key order kept) to `path`, atomically."""
    write_text_atomic(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", path)
