"""HubSource: the code that streams WMT'14 from the Hugging Face Hub, run here on local json and
parquet files through the same `datasets.load_dataset(..., streaming=True)` call; and the Hub
itself unreachable, which must fail within seconds with a message naming the offline options."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from nmt_bottleneck.data.sources.hub import HubSource
from nmt_bottleneck.errors import DataError
from tests.helpers import run_module


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
    assert corpus.splits["train"]["line"] == list(range(1, 51))
    assert corpus.splits["valid"]["tgt"] == [f"phrase {i}" for i in range(100, 108)]
    assert corpus.provenance["data_files"] == files


@pytest.fixture
def parquet_shards(tmp_path) -> dict[str, list[str]]:
    """Three training shards of 200 rows (the Hub's parquet layout), one validation file."""
    shards = []
    for k in range(3):
        path = tmp_path / f"train-{k:05d}-of-00003.parquet"
        datasets.Dataset.from_list(make_rows(200, 1000 * k)).to_parquet(str(path))
        shards.append(str(path))
    valid = tmp_path / "validation.parquet"
    datasets.Dataset.from_list(make_rows(5)).to_parquet(str(valid))
    return {"train": shards, "validation": [str(valid)]}


def test_subsample_draws_evenly_from_every_shard_and_keeps_its_origin(parquet_shards):
    # a buffer smaller than a shard: a shuffle of the concatenated stream would take only the
    # first shard's rows
    sample = source(parquet_shards, "parquet", train_size=60, shuffle_buffer=50).load()
    train = sample.splits["train"]
    assert train.num_rows == 60
    assert Counter(train["shard"]) == {0: 20, 1: 20, 2: 20}
    files = [pq.read_table(path).to_pylist() for path in parquet_shards["train"]]
    for src, tgt, shard, line in zip(
        train["src"], train["tgt"], train["shard"], train["line"], strict=True
    ):
        assert files[shard][line - 1]["translation"] == {"en": src, "fr": tgt}
    assert len(set(train["src"])) == 60
    assert train["line"] != sorted(train["line"])  # shuffled within shards, not the first rows


def test_subsample_is_fixed_by_the_seed(parquet_shards):
    def sample(seed: int) -> list[str]:
        return (
            source(parquet_shards, "parquet", train_size=90, shuffle_buffer=50, seed=seed)
            .load()
            .splits["train"]["src"]
        )

    assert sample(3) == sample(3)
    assert sample(3) != sample(4)


def test_missing_language_key_is_explained(tmp_path):
    files = {
        "train": [write_json(tmp_path / "t.jsonl", make_rows(3))],
        "validation": [write_json(tmp_path / "v.jsonl", make_rows(3))],
    }
    with pytest.raises(DataError, match=r"translation.*'de'"):
        source(files, tgt_lang="de").load()


@pytest.fixture(params=["refused", "silent"])
def dead_endpoint(request):
    """An endpoint on this machine that refuses connections, or accepts and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        if request.param == "silent":
            server.listen(8)
            yield f"http://127.0.0.1:{port}"
        else:
            server.close()
            yield f"http://127.0.0.1:{port}"


def test_unreachable_hub_fails_fast_and_names_the_offline_options(tmp_path, dead_endpoint):
    params = tmp_path / "params.yaml"
    composed = run_module(
        "pipelines.compose_params",
        "data=wmt14_enfr",
        "data.source.timeout_s=2",
        "--out",
        str(params),
    )
    assert composed.returncode == 0, composed.stderr
    out, manifest = tmp_path / "corpus", tmp_path / "manifest.json"
    started = time.monotonic()
    result = run_module(
        "pipelines.download",
        "--params",
        str(params),
        "--out",
        str(out),
        "--manifest",
        str(manifest),
        env={"HF_ENDPOINT": dead_endpoint},
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 20, f"took {elapsed:.1f}s to give up"
    assert "cannot reach the Hugging Face Hub" in result.stderr
    assert "data=hansard_enfr" in result.stderr and "data.source.data_files" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not manifest.exists()
