"""Local aligned text files: `<dir>/<split>.<lang>` or `<dir>/<split>.<lang>.gz`, one sentence a
line, line i of the source file translating line i of the target file.

Every file is read in full and checked before anything is written: missing files, unequal line
counts, invalid UTF-8, empty files and absurdly long lines each raise a DataError naming the file,
the line and the fix. Lines empty on one side are dropped and counted (see `corpus.py`).
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import datasets

from nmt_bottleneck.data.corpus import Corpus, pairs_to_split
from nmt_bottleneck.errors import DataError

SETUP_HINT = (
    "Fix: run `make corpora CORPORA=/path/to/corpora` (links ./corpora to your copy; see the "
    "README, 'Corpora'), or set data.source.directory to the folder that holds the files."
)


class LocalTextSource:
    """Aligned `<split>.<lang>[.gz]` files in one directory.

    Args:
        directory: the folder holding the files (relative paths are relative to the project root).
        src_lang: source language code, the file suffix of source files (e.g. "en").
        tgt_lang: target language code (e.g. "fr").
        splits: output split name -> file stem, e.g. {"train": "train", "valid": "valid_unseen"}.
            A stem may contain a relative folder ("../wmt14_newstest_enfr/test").
        max_line_chars: a line longer than this is taken as a broken file (missing newlines,
            binary data) and raises an error; genuinely long sentences are filtered later by words.
    """

    def __init__(
        self,
        directory: str,
        src_lang: str,
        tgt_lang: str,
        splits: dict[str, str],
        max_line_chars: int,
    ) -> None:
        if "train" not in splits:
            raise DataError(
                f"data.source.splits = {dict(splits)} has no `train` split. Fix: map `train` to "
                "the file stem of the training files, e.g. {train: train, test: test}."
            )
        if max_line_chars <= 0:
            raise DataError(f"data.source.max_line_chars must be > 0, got {max_line_chars}.")
        self.directory = Path(directory)
        self.src_lang, self.tgt_lang = src_lang, tgt_lang
        self.splits = dict(splits)
        self.max_line_chars = max_line_chars

    def load(self) -> Corpus:
        if not self.directory.is_dir():
            raise DataError(f"{self.directory}: corpus directory not found. {SETUP_HINT}")
        loaded, dropped, files = {}, {}, {}
        for split, stem in self.splits.items():
            src_path = self.find_file(split, stem, self.src_lang)
            tgt_path = self.find_file(split, stem, self.tgt_lang)
            src = read_lines(src_path, self.max_line_chars)
            tgt = read_lines(tgt_path, self.max_line_chars)
            if len(src) != len(tgt):
                raise DataError(
                    f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}: the files "
                    "are not aligned. Fix: both sides must have one line per sentence pair (line "
                    "i of one translates line i of the other); re-export them from the aligned "
                    "source, or remove the split from data.source.splits."
                )
            where = f"{src_path} + {tgt_path}"
            pairs = pairs_to_split(src, tgt, range(1, len(src) + 1), where)
            loaded[split], dropped[split] = pairs
            files[split] = [file_record(src_path), file_record(tgt_path)]
        provenance = {"type": "local_text", "directory": str(self.directory), "files": files}
        return Corpus(datasets.DatasetDict(loaded), dropped, provenance)

    def find_file(self, split: str, stem: str, lang: str) -> Path:
        """The one file for `stem` (output split `split`) and `lang`: plain or gzipped, not both,
        not neither."""
        plain = self.directory / f"{stem}.{lang}"
        gz = plain.with_name(plain.name + ".gz")
        found = [p for p in (plain, gz) if p.is_file()]
        if len(found) == 2:
            raise DataError(
                f"both {plain} and {gz} exist: which one is the corpus is ambiguous. "
                "Fix: delete or move one of them."
            )
        if not found:
            present = sorted(p.name for p in self.directory.iterdir() if p.is_file())
            raise DataError(
                f"{plain}[.gz]: split file not found (data.source.splits.{split} = {stem!r}, "
                f"language {lang!r}). "
                f"Files in {self.directory}: {', '.join(present) or 'none'}. Fix: add the file, "
                f"map the split to the files' stem (`-S data.source.splits.{split}=<stem>`), or "
                "correct data.src_lang / data.tgt_lang."
            )
        return found[0]


def decode_lines(raw: bytes, name: str | Path) -> list[str]:
    """`raw` as UTF-8 text, split into lines without their ends; `name` (a path, "<stdin>") is
    for the error.

    Only "\\n" ends a line (a trailing "\\r" is removed, as is a leading byte-order mark); Unicode
    separators such as U+2028 stay inside their sentence, so the line numbering matches `wc -l`
    and any editor.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line_no = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        bad = raw[e.start : e.start + 4]
        raise DataError(
            f"{name}: line {line_no}, byte {column} is not valid UTF-8 ({bad!r}). Fix: convert "
            "the text to UTF-8, e.g. `iconv -f latin1 -t utf-8 in > out` if it is Latin-1."
        ) from None
    lines = text.removeprefix("\ufeff").split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_lines(path: Path, max_line_chars: int) -> list[str]:
    """All lines of a UTF-8 text file (gzip if the name ends in .gz), as `decode_lines` splits
    them."""
    lines = decode_lines(read_bytes(path), path)
    if not lines:
        raise DataError(f"{path}: the file is empty. Fix: point the data config at a real corpus.")
    if max(map(len, lines)) > max_line_chars:
        n, line = next((i, s) for i, s in enumerate(lines, 1) if len(s) > max_line_chars)
        raise DataError(
            f"{path}: line {n} has {len(line)} characters (limit data.source.max_line_chars = "
            f"{max_line_chars}); a line this long usually means missing line breaks or binary "
            "data. Fix: check the file's line endings (e.g. `file` / `dos2unix`), or raise "
            "data.source.max_line_chars if the line is genuine."
        )
    return lines


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if it is gzip; a corrupt archive is a DataError."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(
            f"{path}: not a readable gzip file ({e}). Fix: re-download or re-compress it "
            "(`gzip -t` checks an archive)."
        ) from None


def file_record(path: Path) -> dict[str, object]:
    """Provenance of one input file: its path, size and SHA-256 of the stored bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}
