"""HubSource: the code that streams WMT'14 from the Hugging Face Hub, run here on local json and
parquet files through the same `datasets.load_dataset(..., streaming=True)` call; and the Hub
itself unreachable, which must fail with a message naming the offline options, after waiting at
most the configured timeout (the setting reaches the request; nothing is timed)."""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from nmt_bottleneck.data.sources.hub import HubSource
from nmt_bottleneck.errors import DataError, HubUnreachableError
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


def test_unreachable_hub_fails_and_names_the_offline_options(tmp_path, dead_endpoint):
    """The download stage, as DVC runs it, against a Hub that refuses or never answers: exit 1,
    the message alone (no traceback) naming the offline options, and no output."""
    params = tmp_path / "params.yaml"
    composed = run_module(
        "pipelines.compose_params",
        "data=wmt14_enfr",
        "data.source.timeout_s=1",  # keeps the silent case short; nothing here is timed
        "--out",
        str(params),
    )
    assert composed.returncode == 0, composed.stderr
    out, manifest = tmp_path / "corpus", tmp_path / "manifest.json"
    result = run_module(
        "pipelines.download",
        *("--params", str(params), "--out", str(out), "--manifest", str(manifest)),
        env={"HF_ENDPOINT": dead_endpoint},
    )
    assert result.returncode == 1, result.stderr
    assert "cannot reach the Hugging Face Hub for 'wmt/wmt14'" in result.stderr
    assert "data=hansard_enfr" in result.stderr and "data.source.data_files" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not manifest.exists()


@pytest.fixture
def hub_requests(monkeypatch) -> Iterator[tuple[str, list]]:
    """A refusing endpoint as the Hub, and the requests `huggingface_hub` sends to it, each
    (url, timeout settings): its real HTTP client, with a request hook added. The client
    factory and the endpoint are put back afterwards."""
    from huggingface_hub import constants, set_client_factory
    from huggingface_hub.utils import _http

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"  # closed below: refused
    sent: list[tuple[str, dict]] = []

    def recording_client():
        client = _http.default_client_factory()
        client.event_hooks["request"].append(
            lambda request: sent.append((str(request.url), request.extensions.get("timeout")))
        )
        return client

    previous = _http._GLOBAL_CLIENT_FACTORY
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    set_client_factory(recording_client)
    yield endpoint, sent
    set_client_factory(previous)


def test_the_configured_timeout_reaches_the_hub_request(hub_requests):
    endpoint, sent = hub_requests
    hub = source(None, "wmt/wmt14", name="fr-en", revision="main", timeout_s=1.25)
    with pytest.raises(HubUnreachableError, match=r"ConnectError.*Fix: use local files"):
        hub.load()
    (timeout,) = [t for url, t in sent if url.startswith(f"{endpoint}/api/datasets/wmt/wmt14")]
    assert timeout == {"connect": 1.25, "read": 1.25, "write": 1.25, "pool": 1.25}
