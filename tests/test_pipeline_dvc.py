"""The real pipeline through real DVC in a temporary git repository: `dvc repro` on a small
synthetic config, again (nothing runs), `dvc exp run -S` (only the affected stage runs), local
Hansard-style files from the conventional `corpora/` folder, and a run killed mid-stage that
restarts cleanly."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest
import yaml
from tests.conftest import ROOT

SMALL = {
    "data.source.sizes": {"train": 1500, "valid": 100, "test": 200},
    "tokenizer.vocab_size": 600,
}


def sh(repo: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo / "src"), str(repo)]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    result = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def edit_conf(repo: Path, changes: dict) -> None:
    """Edit the repository's conf/ as a user would (DVC recomposes params.yaml from conf/ on
    every `dvc exp run`, so this, not params.yaml, is where settings live), then recompose."""
    from omegaconf import OmegaConf

    files = {"data.source": repo / "conf/data/synthetic.yaml", "": repo / "conf/config.yaml"}
    for key, value in changes.items():
        prefix = "data.source" if key.startswith("data.source") else ""
        cfg = OmegaConf.load(files[prefix])
        local = key.removeprefix("data.").lstrip(".") if prefix else key
        OmegaConf.update(cfg, local, value, merge=False)
        OmegaConf.save(cfg, files[prefix])
    sh(repo, sys.executable, "-m", "pipelines.compose_params")


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(repo, sys.executable, "-m", "dvc", *args, check=check)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A fresh git + DVC repository holding the project's pipeline, conf and code."""
    repo = tmp_path / "project"
    repo.mkdir()
    for name in ("dvc.yaml", ".gitignore", "conf", "pipelines", "src"):
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(ROOT / name, repo / name)
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "config", "user.email", "test@example.com")
    sh(repo, "git", "config", "user.name", "test")
    dvc(repo, "init", "-q")
    dvc(repo, "config", "hydra.enabled", "true")
    edit_conf(repo, SMALL)
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "pipeline")
    return repo


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


def test_local_corpus_from_the_corpora_folder(repo, corpora):
    """`data=hansard_enfr` reads `corpora/hansard_enfr` like a user's set-up; here a real
    2,000-pair slice of the Hansard files stands in for the 934k-pair corpus."""
    target = repo / "corpora" / "hansard_enfr"
    target.mkdir(parents=True)
    for split in ("train", "valid_unseen", "test_unseen"):
        for lang in ("en", "fr"):
            with gzip.open(corpora / "hansard_enfr" / f"{split}.{lang}.gz", "rt") as f:
                lines = [next(f) for _ in range(2000 if split == "train" else 300)]
            with gzip.open(target / f"{split}.{lang}.gz", "wt") as f:
                f.writelines(lines)
    exp = dvc(repo, "exp", "run", "-S", "data=hansard_enfr", "-S", "tokenizer.vocab_size=1000")
    assert "Running stage 'download'" in exp.stdout
    manifest = read_json(repo / "reports/data/manifest.json")
    assert manifest["data"] == "hansard_enfr" and manifest["src_lang"] == "en"
    assert manifest["splits"]["test"]["pairs"] == 300 - sum(
        d for d in manifest["splits"]["test"]["dropped"].values()
    )
    stats = read_json(repo / "reports/data/tokenize_stats.json")
    assert stats["splits"]["test"]["pairs_in"] == manifest["splits"]["test"]["pairs"]
    (target / "test_unseen.fr.gz").unlink()  # the corpus dir is a dependency: DVC sees this
    status = dvc(repo, "status").stdout
    assert "changed deps" in status and "corpora/hansard_enfr" in status


def test_a_killed_run_restarts_cleanly(repo):
    edit_conf(repo, {"data.source.sizes": {"train": 60000, "valid": 100, "test": 200}})
    log = repo.parent / "repro.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo / "src"), str(repo)]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dvc", "repro"],
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 300
    while "encode train" not in log.read_text() and proc.poll() is None:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # like a power cut: no cleanup runs
    proc.wait()
    assert not (repo / "data/tokenized").exists()  # never half-written under its real name

    again = dvc(repo, "repro")
    assert "Running stage 'tokenize'" in again.stdout
    assert not list((repo / "data").glob(".*tmp-*"))  # leftovers of the killed run are gone
    assert dvc(repo, "status").stdout.strip().endswith("up to date.")
    tokenized = datasets.load_from_disk(str(repo / "data/tokenized"))
    assert (
        tokenized["train"].num_rows
        == read_json(repo / "reports/data/tokenize_stats.json")["splits"]["train"]["pairs"]
    )
