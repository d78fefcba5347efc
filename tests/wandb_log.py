"""Read an offline W&B run's `run-<id>.wandb` file: a LevelDB-style log (32 KiB blocks of
records with a 7-byte header: CRC32, length, type FULL/FIRST/MIDDLE/LAST) of protobuf `Record`s,
after a 7-byte file header (":W&B", magic 0xBEE1, version). This is what `wandb sync` uploads;
reading it shows what the run really holds, with no network and no W&B reader code."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Iterator
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[pb.Record]:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B" and struct.unpack("<H", data[4:6])[0] == 0xBEE1, path
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # block trailer: too short for a record header
            pos += BLOCK - pos % BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind in (FULL, FIRST):
            pending = chunk
        elif kind in (MIDDLE, LAST):
            pending += chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def item_key(item) -> str:
    return item.key or "/".join(item.nested_key)


def summarize(path: Path) -> dict:
    """The run's name, group, id and job type, its history rows, final summary and config keys,
    and its artifacts (name, type, and each file's path -> its MD5 digest, base64, as W&B keeps
    it)."""
    out: dict = {"history": [], "summary": {}, "config": {}, "artifacts": []}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["name"], out["group"] = record.run.display_name, record.run.run_group
            out["id"], out["job_type"] = record.run.run_id, record.run.job_type
        elif kind == "artifact":
            a = record.artifact
            contents = {c.path: c.digest for c in a.manifest.contents}
            out["artifacts"].append({"name": a.name, "type": a.type, "contents": contents})
        elif kind == "history":
            out["history"].append(
                {item_key(i): json.loads(i.value_json) for i in record.history.item}
            )
        elif kind == "summary":
            out["summary"].update(
                {item_key(i): json.loads(i.value_json) for i in record.summary.update}
            )
        elif kind == "config":
            out["config"].update(
                {item_key(i): json.loads(i.value_json) for i in record.config.update}
            )
        elif kind == "exit":
            out["exit_code"] = record.exit.exit_code
    return out


def offline_runs(logs: Path) -> list[dict]:
    """Every offline run under a W&B folder (`<logs>/wandb/offline-run-<time>-<id>/`), oldest
    first, summarized, with its folder as `dir` (a resumed run is one more folder, same id)."""
    files = sorted(
        Path(logs).glob("wandb/offline-run-*/run-*.wandb")
    )  # the name starts with the time
    return [summarize(f) | {"dir": f.parent} for f in files]


def logged_table(run: dict, row: dict, key: str) -> list[dict]:
    """The `wandb.Table` logged under `key` in history row `row` of `run` (offline_runs), as
    dicts: W&B writes the table to a file under the run's `files/` and logs its path."""
    assert row[f"{key}/_type"] == "table-file", row
    stored = json.loads((run["dir"] / "files" / row[f"{key}/path"]).read_text())
    return [dict(zip(stored["columns"], values, strict=True)) for values in stored["data"]]


def md5_base64(path: Path) -> str:
    """A file's digest as a W&B artifact manifest keeps it: MD5, base64."""
    return base64.b64encode(hashlib.md5(Path(path).read_bytes()).digest()).decode()
