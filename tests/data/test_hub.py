"""HubSource: the code that streams WMT'14 from the Hugging Face Hub, run here on local json and
parquet files through the same `datasets.load_dataset(..., streaming=True)` call; and the Hub
itself unreachable, which must fail within seconds with a message naming the offline options."""

from __future__ import annotations

import json
import time
from pathlib import Path

import datasets
import pytest

from nmt_bottleneck.data.sources.hub import HubSource
from nmt_bottleneck.errors import DataError
from tests.conftest import ROOT, run_module


def make_rows(n: int, offset: int = 0) -> list[dict]:
    return [
        {"translation": {"en": f"sentence {i}", "fr": f"phrase {i}"}}
        for i in range(offset, offset + n)
    ]


def write_json(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def source(data_files: dict, builder: str = "json", **kw) -> HubSource:
    args = dict(
        path=builder,
        name=None,
        revision=None,
        src_lang="en",
        tgt_lang="fr",
        splits={"train": "train", "valid": "validation"},
        data_files=data_files,
        train_size=None,
        seed=7,
        shuffle_buffer=1000,
        timeout_s=5,
    )
    return HubSource(**{**args, **kw})


def test_local_json_reads_every_split(tmp_path):
    files = {
        "train": [write_json(tmp_path / "train.jsonl", make_rows(50))],
        "validation": [write_json(tmp_path / "valid.jsonl", make_rows(8, 100))],
    }
    corpus = source(files).load()
    assert corpus.splits["train"]["src"] == [f"sentence {i}" for i in range(50)]
    assert corpus.splits["valid"]["tgt"] == [f"phrase {i}" for i in range(100, 108)]
    assert corpus.provenance["data_files"] == files


def test_parquet_shards_and_seeded_subsample(tmp_path):
    shards = []
    for k in range(3):  # three shards, like the Hub's parquet layout
        path = tmp_path / f"train-{k:05d}-of-00003.parquet"
        datasets.Dataset.from_list(make_rows(200, 1000 * k)).to_parquet(str(path))
        shards.append(str(path))
    valid = tmp_path / "validation.parquet"
    datasets.Dataset.from_list(make_rows(5)).to_parquet(str(valid))
    files = {"train": shards, "validation": [str(valid)]}
    everything = {f"sentence {i}" for k in range(3) for i in range(1000 * k, 1000 * k + 200)}

    first = source(files, "parquet", train_size=120).load().splits["train"]
    again = source(files, "parquet", train_size=120).load().splits["train"]
    other = source(files, "parquet", train_size=120, seed=8).load().splits["train"]
    assert first.num_rows == 120
    assert set(first["src"]) <= everything and len(set(first["src"])) == 120
    assert first["src"] == again["src"]  # the seed fixes the sample
    assert first["src"] != other["src"]
    assert [s.replace("sentence", "phrase") for s in first["src"]] == first["tgt"]  # aligned


def test_missing_language_key_is_explained(tmp_path):
    files = {
        "train": [write_json(tmp_path / "t.jsonl", make_rows(3))],
        "validation": [write_json(tmp_path / "v.jsonl", make_rows(3))],
    }
    with pytest.raises(DataError, match=r"translation.*'de'"):
        source(files, tgt_lang="de").load()


def test_unreachable_hub_fails_fast_and_names_the_offline_options(tmp_path):
    params = tmp_path / "params.yaml"
    composed = run_module("pipelines.compose_params", "data=wmt14_enfr", "--out", str(params))
    assert composed.returncode == 0, composed.stderr
    out, manifest = tmp_path / "corpus", tmp_path / "manifest.json"
    started = time.monotonic()
    # A closed port on this machine stands in for an unreachable Hub (no traffic leaves it).
    result = run_module(
        "pipelines.download",
        "--params",
        str(params),
        "--out",
        str(out),
        "--manifest",
        str(manifest),
        env={"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0"},
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert elapsed < 30, f"took {elapsed:.1f}s to give up"
    assert "cannot reach the Hugging Face Hub" in result.stderr
    assert "data=hansard_enfr" in result.stderr and "HF_HUB_OFFLINE=1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not manifest.exists()
    assert (ROOT / "conf" / "data" / "wmt14_enfr.yaml").is_file()
