"""The Hydra multirun door: two jobs through the same stages' code, in a temporary repository
(real Hydra basic launcher, real W&B offline runs); the SLURM launcher config composes."""

from __future__ import annotations

import csv
import json
import sys

import datasets
import pytest
from omegaconf import OmegaConf

from nmt_bottleneck.errors import ConfigError
from pipelines.sweep import cache_key
from tests.helpers import dvc, sh
from tests.wandb_log import summarize


def test_a_multirun_of_two_jobs_trains_evaluates_and_summarizes(repo):
    dvc(repo, "repro", "download")
    sweep = repo / "multirun/test"
    sh(
        repo,
        sys.executable,
        "-m",
        "pipelines.sweep",
        "-m",
        "model=final_state,attention",
        f"hydra.sweep.dir={sweep}",
    )
    jobs = sorted(p.parent for p in sweep.glob("*/eval.json"))
    assert [j.name for j in jobs] == ["0", "1"]
    for job, variant in zip(jobs, ["final_state", "attention"], strict=True):
        params = (job / "params.yaml").read_text()
        assert f"variants:\n  {variant}:" in params
        assert (job / f"models/{variant}/model.pt").is_file()
        assert (job / "evaluations/test.hyp").is_file()
        assert json.loads((job / "train.json").read_text())["steps"] == 6  # SMALL's max_steps
        (run,) = (job / "logs/wandb").glob("offline-run-*/run-*.wandb")
        logged = summarize(run)
        assert (logged["name"], logged["group"]) == (variant, "sweep-test")
    assert len(list((repo / "data/sweep").iterdir())) == 1  # tokenized once, shared
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["overrides"] for r in rows] == ["model=final_state", "model=attention"]
    assert all(float(r["test_bleu"]) >= 0 for r in rows)
    assert (sweep / "summary.md").read_text().count("\n") == 4  # header, rule, two jobs
    # a job whose data is not what the download stage fetched stops with the fix, no traceback
    other = sh(repo, sys.executable, "-m", "pipelines.sweep", "data=wmt14_enfr", check=False)
    assert other.returncode == 1
    assert "data/corpus holds synthetic" in other.stderr + other.stdout
    assert "Traceback" not in other.stderr
    assert len(list((repo / "data/sweep").iterdir())) == 1  # nothing tokenized for it
    # so does a job whose schedule cannot run, before it tokenizes for its new data.max_len
    short = ("data.max_len=20", "train.max_steps=5", "train.warmup_steps=5")
    bad = sh(repo, sys.executable, "-m", "pipelines.sweep", *short, check=False)
    assert bad.returncode == 1
    assert "scheduler 'linear' (model.optim.scheduler)" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
    assert len(list((repo / "data/sweep").iterdir())) == 1


def test_the_slurm_launcher_config_composes(repo):
    shown = sh(
        repo,
        sys.executable,
        "-m",
        "pipelines.sweep",
        "hydra/launcher=slurm",
        "--cfg",
        "hydra",
        "--package",
        "hydra.launcher",
    ).stdout
    assert "hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in shown
    assert "gpus_per_node: 1" in shown


def sweep_cfg(tmp_path, corpus_name: str, composed_name: str, sentences: list[str]):
    """A saved corpus and its manifest, and the sweep keys that read them."""
    corpus, manifest = tmp_path / corpus_name / "corpus", tmp_path / corpus_name / "manifest.json"
    split = datasets.Dataset.from_dict({"src": sentences, "tgt": sentences})
    datasets.DatasetDict({"train": split, "test": split}).save_to_disk(str(corpus))
    manifest.write_text(json.dumps({"data": corpus_name, "src_lang": "en", "tgt_lang": "fr"}))
    return OmegaConf.create(
        {
            "sweep": {"corpus": str(corpus), "manifest": str(manifest)},
            "data": {"name": composed_name, "src_lang": "en", "tgt_lang": "fr", "max_len": 50},
            "tokenizer": {"vocab_size": 100},
        }
    )


def test_the_tokenized_cache_is_keyed_by_the_corpus_too(tmp_path):
    first = sweep_cfg(tmp_path, "a", "a", ["One.", "Two."])
    assert cache_key(first) == cache_key(first)
    changed = sweep_cfg(tmp_path, "b", "b", ["One.", "Three."])
    changed.data.name = "a"  # the same settings over another corpus
    changed.sweep.manifest = first.sweep.manifest
    assert cache_key(changed) != cache_key(first)


def test_a_sweep_must_compose_the_data_that_was_downloaded(tmp_path):
    cfg = sweep_cfg(tmp_path, "synthetic", "hansard_enfr", ["One."])
    with pytest.raises(ConfigError, match=r"holds synthetic .* composes data=hansard_enfr"):
        cache_key(cfg)
