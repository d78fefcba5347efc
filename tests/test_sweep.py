"""The Hydra multirun door: two jobs through the same library code as the stages, in a temporary
repository (real Hydra basic launcher, real W&B offline runs); the summary written once by the
callback; the tokenize cache under two processes racing for the same key; the SLURM launcher
config composes."""

from __future__ import annotations

import csv
import fcntl
import json
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest
import yaml
from omegaconf import OmegaConf

from nmt_bottleneck.data.corpus import manifest_of, save_corpus
from nmt_bottleneck.data.sources.synthetic import SyntheticSource
from nmt_bottleneck.data.tokenizer import load_tokenizers
from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.sweep.summary import SweepSummary
from nmt_bottleneck.sweep.tokenized_cache import cache_key
from tests.helpers import ROOT, child_env, dvc, run_module, sh
from tests.wandb_log import summarize


def cache_entries(repo: Path) -> list[Path]:
    """The tokenized data in the sweep cache (not the lock files beside it)."""
    return [p for p in (repo / "data/sweep").iterdir() if p.is_dir()]


def test_a_multirun_trains_evaluates_and_summarizes_every_job_a_failed_one_included(repo):
    """Four jobs: each variant at 6 steps, and at 5 steps, which the schedule (5 warm-up steps)
    cannot run: those two fail with our error, the others still run, the summary lists all four
    and the sweep exits 1, without a traceback."""
    dvc(repo, "repro", "download")
    sweep = repo / "multirun/test"
    ran = sh(
        repo,
        sys.executable,
        "-m",
        "pipelines.sweep",
        "-m",
        "model=final_state,attention",
        "train.max_steps=6,5",
        f"hydra.sweep.dir={sweep}",
        check=False,
    )
    assert ran.returncode == 1, ran.stderr
    assert "Traceback" not in ran.stderr
    jobs = sorted(p.parent for p in sweep.glob("*/eval.json"))
    assert [j.name for j in jobs] == ["0", "2"]
    for job, variant in zip(jobs, ["final_state", "attention"], strict=True):
        params = (job / "params.yaml").read_text()
        assert f"variants:\n  {variant}:" in params
        assert (job / f"models/{variant}/model.pt").is_file()
        assert (job / "evaluations/test.hyp").is_file()
        facts = json.loads((job / "train.json").read_text())
        assert facts["steps"] == 6
        (run,) = (job / "logs/wandb").glob("offline-run-*/run-*.wandb")
        logged = summarize(run)  # named <id>-<seed>, as the train stage's runs
        assert (logged["name"], logged["group"]) == (f"{variant}-{facts['seed']}", "sweep-test")
    for failed in ("1", "3"):
        error = (sweep / failed / "error.txt").read_text()
        assert "scheduler 'linear' (train.scheduler)" in error
        assert not (sweep / failed / "train.json").exists()
    assert len(cache_entries(repo)) == 1  # tokenized once, shared
    # the summary: written once, by the callback at the end of the multirun, with every job
    assert (ran.stdout + ran.stderr).count("sweep summary: 4 jobs in") == 1
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["overrides"] for r in rows] == [
        f"model={m} train.max_steps={n}" for m in ("final_state", "attention") for n in (6, 5)
    ]
    assert [r["status"] for r in rows] == ["ok", "failed", "ok", "failed"]
    assert rows[1]["error"] == (sweep / "1" / "error.txt").read_text().splitlines()[0]
    scored = [json.loads((job / "eval.json").read_text())["test"]["bleu"] for job in jobs]
    assert [float(rows[i]["test_bleu"]) for i in (0, 2)] == scored
    assert not [f for f in sweep.glob("*/*.log") if "sweep summary" in f.read_text()]  # not jobs
    assert (sweep / "summary.md").read_text().count("\n") == 6  # header, rule, four jobs
    # a job whose data is not what the download stage fetched stops with the fix, no traceback
    other = sh(repo, sys.executable, "-m", "pipelines.sweep", "data=wmt14_enfr", check=False)
    assert other.returncode == 1
    assert "data/corpus holds synthetic" in other.stderr + other.stdout
    assert "Traceback" not in other.stderr
    assert len(cache_entries(repo)) == 1  # nothing tokenized for it
    # so does a job whose schedule cannot run, before it tokenizes for its new data.max_len
    short = ("data.max_len=20", "train.max_steps=5", "train.warmup_steps=5")
    bad = sh(repo, sys.executable, "-m", "pipelines.sweep", *short, check=False)
    assert bad.returncode == 1
    assert "scheduler 'linear' (train.scheduler)" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
    assert len(cache_entries(repo)) == 1


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


def saved_corpus(tmp_path: Path, corpus_name: str, sentences: list[str]) -> tuple[Path, Path]:
    """A saved corpus and its manifest, as the download stage leaves them."""
    corpus, manifest = tmp_path / corpus_name / "corpus", tmp_path / corpus_name / "manifest.json"
    split = datasets.Dataset.from_dict({"src": sentences, "tgt": sentences})
    datasets.DatasetDict({"train": split, "test": split}).save_to_disk(str(corpus))
    manifest.write_text(json.dumps({"data": corpus_name, "src_lang": "en", "tgt_lang": "fr"}))
    return corpus, manifest


DATA = {"src_lang": "en", "tgt_lang": "fr", "max_len": 50}


def test_the_tokenized_cache_is_keyed_by_the_corpus_too(tmp_path):
    corpus_a, manifest_a = saved_corpus(tmp_path, "a", ["One.", "Two."])
    corpus_b, _ = saved_corpus(tmp_path, "b", ["One.", "Three."])
    data, tokenizer = {"name": "a", **DATA}, {"vocab_size": 100}
    first = cache_key(corpus_a, manifest_a, data, tokenizer)
    assert first == cache_key(corpus_a, manifest_a, data, tokenizer)
    # the same settings over another corpus (its manifest naming the composed data)
    assert cache_key(corpus_b, manifest_a, data, tokenizer) != first
    assert cache_key(corpus_a, manifest_a, {**data, "max_len": 30}, tokenizer) != first
    assert cache_key(corpus_a, manifest_a, data, {"vocab_size": 101}) != first


def test_a_sweep_must_compose_the_data_that_was_downloaded(tmp_path):
    corpus, manifest = saved_corpus(tmp_path, "synthetic", ["One."])
    with pytest.raises(ConfigError, match=r"holds synthetic .* composes data=hansard_enfr"):
        cache_key(corpus, manifest, {"name": "hansard_enfr", **DATA}, {"vocab_size": 100})


RACER = """
import json, sys
from pathlib import Path
from omegaconf import OmegaConf
from nmt_bottleneck.sweep.tokenized_cache import tokenized_cache
cfg = OmegaConf.load(sys.argv[1])
made = tokenized_cache(Path(cfg.cache), cfg.corpus, cfg.manifest, cfg.data, cfg.tokenizer)
print(json.dumps({"path": str(made.path), "made": made.made}))
"""


def waiting_for_lock(lock: Path) -> set[int]:
    """The processes blocked waiting for a `flock` on `lock` (the kernel's /proc/locks lists a
    waiter as `N: -> FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> ...`)."""
    inode = str(lock.stat().st_ino)
    waiters = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if fields[1] == "->" and fields[2] == "FLOCK" and fields[6].split(":")[2] == inode:
            waiters.add(int(fields[5]))
    return waiters


def test_two_jobs_racing_for_one_key_tokenize_once_and_share_it(tmp_path):
    """Two real processes ask for the same cache key while the test holds the key's lock: both
    must wait for it (blocked in flock, nothing written), and once it is released exactly one
    tokenizes, both get the same complete folder, and nothing temporary is left. Without the
    lock neither would wait, and the test fails."""
    synthetic = SyntheticSource(60, 1, 12, 3, 1.0, {"train": 400, "test": 50}, seed=3).load()
    corpus, manifest = tmp_path / "corpus", tmp_path / "manifest.json"
    save_corpus(synthetic, corpus, manifest_of(synthetic, "synthetic", "src", "tgt"), manifest)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    tokenizer = {**params["tokenizer"], "vocab_size": 300, "num_threads": 1}
    data = {"name": "synthetic", "src_lang": "src", "tgt_lang": "tgt", "min_len": 1, "max_len": 10}
    settings = tmp_path / "settings.yaml"
    cache = tmp_path / "cache"
    OmegaConf.save(
        {"cache": str(cache), "corpus": str(corpus), "manifest": str(manifest)}
        | {"data": data, "tokenizer": tokenizer},
        settings,
    )
    key = cache_key(corpus, manifest, OmegaConf.create(data), OmegaConf.create(tokenizer))
    cache.mkdir()
    lock = cache / f"{key}.lock"
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(settings)],
                env=child_env(ROOT, OMP_NUM_THREADS="1"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        pids = {r.pid for r in racers}
        while waiting_for_lock(lock) != pids:  # both reach the lock (loading takes seconds)
            finished = [r.communicate() for r in racers if r.poll() is not None]
            assert not finished, f"a racer ended without waiting for the lock: {finished}"
            time.sleep(0.05)
        assert all(r.poll() is None for r in racers)
        assert not (cache / key).exists()
        assert sorted(p.name for p in cache.iterdir()) == [lock.name]  # no temporary folder
        fcntl.flock(held, fcntl.LOCK_UN)
    outputs = [r.communicate(timeout=600) for r in racers]
    assert [r.returncode for r in racers] == [0, 0], outputs
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sorted(r["made"] for r in results) == [False, True]
    (where,) = {Path(r["path"]) for r in results}
    assert sorted(p.name for p in cache.iterdir()) == [where.name, f"{where.name}.lock"]
    assert sorted(p.name for p in where.iterdir()) == [
        "hist.csv",
        "stats.json",
        "tokenized",
        "tokenizer",
    ]
    kept = sum(
        len(s.split()) <= 10 and len(t.split()) <= 10
        for s, t in zip(
            synthetic.splits["train"]["src"], synthetic.splits["train"]["tgt"], strict=True
        )
    )
    assert datasets.load_from_disk(str(where / "tokenized"))["train"].num_rows == kept
    assert json.loads((where / "stats.json").read_text())["splits"]["train"]["pairs"] == kept
    assert load_tokenizers(where / "tokenizer").joint == tokenizer["joint"]


def finished_job(sweep: Path, name: str, overrides: list[str], steps: int, bleu: dict) -> None:
    """A job folder as a finished sweep job leaves it (the files the summary reads)."""
    (sweep / name / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(overrides), sweep / name / ".hydra/overrides.yaml")
    train = {"steps": steps, "best_val_loss": 1 / steps}
    (sweep / name / "train.json").write_text(json.dumps(train))
    evals = {test_set: {"bleu": b} for test_set, b in bleu.items()}
    (sweep / name / "eval.json").write_text(json.dumps(evals))


def test_the_summary_callback_tabulates_every_job_once_and_exits_1_if_one_failed(tmp_path):
    sweep = tmp_path / "multirun"
    jobs = {"0": 7, "1": 8, "10": 9, "2": 10}  # job 10 sorts after 2, as Hydra numbers them
    for name, steps in jobs.items():
        finished_job(sweep, name, [f"train.max_steps={steps}"], steps, {"test": steps / 4})
    failed = {"11": "train.warmup_steps = 9: first line\nsecond line", "12": None}
    for name, error in failed.items():  # 11 recorded its error; 12 left nothing (killed)
        (sweep / name / ".hydra").mkdir(parents=True)
        OmegaConf.save(OmegaConf.create([f"seed={name}"]), sweep / name / ".hydra/overrides.yaml")
        if error:
            (sweep / name / "error.txt").write_text(error + "\n")
    with pytest.raises(SystemExit) as exit_:
        SweepSummary().on_multirun_end(
            config=OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}})
        )
    assert exit_.value.code == 1
    order = sorted(jobs, key=int)
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["job"] for r in rows] == [*order, "11", "12"]
    assert [r["status"] for r in rows] == ["ok"] * len(jobs) + ["failed"] * 2
    assert [r["overrides"] for r in rows[: len(jobs)]] == [
        f"train.max_steps={jobs[j]}" for j in order
    ]
    assert [float(r["test_bleu"]) for r in rows[: len(jobs)]] == [jobs[j] / 4 for j in order]
    assert [float(r["best_val_loss"]) for r in rows[: len(jobs)]] == [1 / jobs[j] for j in order]
    assert [r["error"] for r in rows] == [""] * len(jobs) + [
        "train.warmup_steps = 9: first line",
        "no eval.json and no error.txt",
    ]
    table = (sweep / "summary.md").read_text().splitlines()
    assert table[0] == "| job | overrides | status | steps | best_val_loss | test_bleu | error |"
    assert len(table) == 2 + len(jobs) + 2
    assert table[2] == f"| 0 | train.max_steps=7 | ok | 7 | {1 / 7} | 1.75 |  |"
    assert table[-1] == "| 12 | seed=12 | failed |  |  |  | no eval.json and no error.txt |"
    assert sorted(p.name for p in sweep.iterdir() if not p.is_dir()) == [
        "summary.csv",
        "summary.md",
    ]


def test_the_summary_is_written_by_hand_too(tmp_path):
    sweep = tmp_path / "multirun"
    finished_job(sweep, "0", ["seed=1"], 5, {"test": 2.5})
    done = run_module("nmt_bottleneck.sweep.summary", str(sweep))
    assert done.returncode == 0, done.stderr
    assert "sweep summary: 1 jobs in" in done.stderr
    assert [r["test_bleu"] for r in csv.DictReader((sweep / "summary.csv").open())] == ["2.5"]
