"""Text to translate: one sentence per line, from a file or stdin, split as the corpus files are
(`sources.local_text.decode_lines`), so output line n translates input line n."""

from __future__ import annotations

import sys
from pathlib import Path

from nmt_bottleneck.data.sources.local_text import decode_lines
from nmt_bottleneck.errors import DataError


def read_input(path: Path | None) -> list[str]:
    """The sentences of `path`, or of stdin, one per line (a U+2028 inside a sentence does not
    split it). Invalid UTF-8 or a missing file is a DataError naming the input and the fix."""
    if path is None:
        return decode_lines(sys.stdin.buffer.read(), "<stdin>")
    if not path.is_file():
        raise DataError(f"{path}: no such file. Fix: give a text file, or use stdin.")
    return decode_lines(path.read_bytes(), path)
