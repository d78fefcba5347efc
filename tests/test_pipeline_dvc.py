"""The real pipeline through real DVC in a temporary git repository: `dvc repro` on a small
synthetic config, again (nothing runs), `dvc exp run -S` (only the affected stage runs), local
Hansard-style files from the conventional `corpora/` folder, and a run killed mid-stage that
restarts cleanly."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import yaml

from tests.conftest import dvc, edit_conf, sh

VARIANTS = ("final_state", "concat_states", "attention")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_repro_then_nothing_then_only_what_changed(repo):
    first = dvc(repo, "repro")
    assert "Running stage 'download'" in first.stdout
    assert "Running stage 'tokenize'" in first.stdout

    manifest = read_json(repo / "reports/data/manifest.json")
    assert {k: v["pairs"] for k, v in manifest["splits"].items()} == {
        "train": 1500,
        "valid": 100,
        "test": 200,
    }
    corpus = datasets.load_from_disk(str(repo / "data/corpus"))
    expected_kept = sum(
        len(s.split()) <= 50 and len(t.split()) <= 50
        for s, t in zip(corpus["train"]["src"], corpus["train"]["tgt"], strict=True)
    )
    stats = read_json(repo / "reports/data/tokenize_stats.json")
    assert stats["splits"]["train"]["pairs"] == expected_kept
    tokenized = datasets.load_from_disk(str(repo / "data/tokenized"))
    assert tokenized["train"].num_rows == expected_kept
    assert tokenized["test"].num_rows == 200  # evaluation splits are never filtered
    assert {"src", "tgt", "line", "src_words", "src_ids", "tgt_ids"} <= set(
        tokenized["test"].column_names
    )

    lock = (repo / "dvc.lock").read_text()
    second = dvc(repo, "repro")
    assert "Running stage" not in second.stdout
    assert "up to date" in second.stdout
    assert (repo / "dvc.lock").read_text() == lock

    metrics = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    assert "reports/data/tokenize_stats.json" in json.dumps(metrics)

    assert all((repo / f"models/{v}/model.pt").is_file() for v in VARIANTS)
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "first run")
    exp = dvc(repo, "exp", "run", "-S", "data.max_len=30")
    assert "Stage 'download' didn't change, skipping" in exp.stdout
    assert "Running stage 'tokenize'" in exp.stdout
    assert yaml.safe_load((repo / "params.yaml").read_text())["data"]["max_len"] == 30
    stats30 = read_json(repo / "reports/data/tokenize_stats.json")
    assert stats30["filter"]["max_len"] == 30
    assert stats30["splits"]["train"]["pairs"] == sum(
        len(s.split()) <= 30 and len(t.split()) <= 30
        for s, t in zip(corpus["train"]["src"], corpus["train"]["tgt"], strict=True)
    )


def test_one_variants_change_reruns_only_that_variant(repo):
    dvc(repo, "repro")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "first run")
    exp = dvc(repo, "exp", "run", "-S", "variants.attention.arch.hidden_size=48")
    ran = sorted(
        line.split("'")[1] for line in exp.stdout.splitlines() if line.startswith("Running stage")
    )
    assert ran == ["train@attention"]
    config = yaml.safe_load((repo / "models/attention/config.yaml").read_text())
    assert config["arch"]["hidden_size"] == 48
    assert (
        yaml.safe_load((repo / "models/final_state/config.yaml").read_text())["arch"]["hidden_size"]
        == 32
    )


def test_local_corpus_from_the_corpora_folder(repo, corpora):
    """`data=hansard_enfr` reads `corpora/hansard_enfr` like a user's set-up; here a real
    2,000-pair slice of the Hansard files stands in for the 934k-pair corpus."""
    target = repo / "corpora" / "hansard_enfr"
    target.mkdir(parents=True)
    written = {}
    for split in ("train", "valid_unseen", "test_unseen"):
        for lang in ("en", "fr"):
            with gzip.open(corpora / "hansard_enfr" / f"{split}.{lang}.gz", "rt") as f:
                written[split, lang] = [next(f) for _ in range(2000 if split == "train" else 300)]
            with gzip.open(target / f"{split}.{lang}.gz", "wt") as f:
                f.writelines(written[split, lang])
    exp = dvc(
        repo, "exp", "run", "-S", "data=hansard_enfr", "-S", "tokenizer.vocab_size=1000", "tokenize"
    )
    assert "Running stage 'download'" in exp.stdout
    manifest = read_json(repo / "reports/data/manifest.json")
    assert manifest["data"] == "hansard_enfr" and manifest["src_lang"] == "en"
    for split, stem in (("train", "train"), ("test", "test_unseen")):
        pairs = zip(written[stem, "en"], written[stem, "fr"], strict=True)
        assert manifest["splits"][split]["pairs"] == sum(
            bool(s.strip()) and bool(t.strip()) for s, t in pairs
        )
    stats = read_json(repo / "reports/data/tokenize_stats.json")
    assert stats["splits"]["test"]["pairs_in"] == manifest["splits"]["test"]["pairs"]
    (target / "test_unseen.fr.gz").unlink()  # the corpus dir is a dependency: DVC sees this
    status = dvc(repo, "status").stdout
    assert "changed deps" in status and "corpora/hansard_enfr" in status


def test_a_killed_run_restarts_cleanly(repo):
    """Kill `dvc repro` (SIGKILL: no cleanup runs) while the tokenizer is being written, then
    run it again: it restarts the stage, sweeps the leftovers and finishes."""
    edit_conf(repo, {"data.source.sizes": {"train": 60000, "valid": 100, "test": 200}})
    log = repo.parent / "repro.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo / "src"), str(repo)]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dvc", "repro", "tokenize"],
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 300
    while not list((repo / "data").glob(".tokenizer.tmp-*")):
        assert proc.poll() is None, f"finished before it could be killed:\n{log.read_text()}"
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list((repo / "data").glob(".tokenizer.tmp-*"))  # killed mid-write: leftovers stay
    assert not (repo / "data/tokenizer").exists()
    assert not (repo / "data/tokenized").exists()

    again = dvc(repo, "repro", "tokenize")
    assert "Running stage 'tokenize'" in again.stdout
    assert not list((repo / "data").glob(".*tmp-*"))  # the restarted stage swept them
    assert "tokenize" not in dvc(repo, "status", "tokenize").stdout  # nothing left to run
    tokenized = datasets.load_from_disk(str(repo / "data/tokenized"))
    stats = read_json(repo / "reports/data/tokenize_stats.json")
    assert tokenized["train"].num_rows == stats["splits"]["train"]["pairs"]
