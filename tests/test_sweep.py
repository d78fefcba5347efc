"""The Hydra multirun door: two seeds of a variant through the same library code as the stages, in
a temporary repository (real Hydra basic launcher, real W&B offline runs), beside two jobs that
fail; the summary (tables, figure, W&B run) written once by the callback, checked against the
jobs' files and sacrebleu; the tokenize cache under two processes racing for the same key; the
SLURM launcher config composes. The summary's parts on hand-made sweep folders:
tests/test_sweep_summary.py."""

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
from sacrebleu.metrics import BLEU

from nmt_bottleneck.data.corpus import manifest_of, save_corpus
from nmt_bottleneck.data.sources.synthetic import SyntheticSource
from nmt_bottleneck.data.tokenizer import load_tokenizers
from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.sweep.comparison import compare_groups
from nmt_bottleneck.sweep.figure import figure_curves
from nmt_bottleneck.sweep.groups import group_jobs
from nmt_bottleneck.sweep.jobs import read_jobs
from nmt_bottleneck.sweep.tokenized_cache import cache_key
from tests.helpers import ROOT, child_env, dvc, sh
from tests.sweeps import check_summary_run, same
from tests.wandb_eval import check_evaluation_logged


def cache_entries(repo: Path) -> list[Path]:
    """The tokenized data in the sweep cache (not the lock files beside it)."""
    return [p for p in (repo / "data/sweep").iterdir() if p.is_dir()]


def test_a_multirun_trains_evaluates_and_summarizes_every_job_a_failed_one_included(repo):
    """Four jobs: attention trained with seeds 1 and 2 for 6 steps, and for 5 steps, which the
    schedule (5 warm-up steps) cannot run: those two fail with our error, the others still run.
    The summary lists all four (a row per finished job and bucket, equal to its evaluation),
    draws one curve (the two seeds of `train.max_steps=6`; the failed group has none) whose
    mean is sacrebleu's on the hypotheses, logs it to W&B as the run `sweep-summary`, and the
    sweep exits 1, without a traceback."""
    dvc(repo, "repro", "download")
    sweep = repo / "multirun/test"
    ran = sh(
        repo,
        sys.executable,
        "-m",
        "pipelines.sweep",
        "-m",
        "model=attention",
        "seed=1,2",
        "train.max_steps=6,5",
        f"hydra.sweep.dir={sweep}",
        check=False,
    )
    assert ran.returncode == 1, ran.stderr
    assert "Traceback" not in ran.stderr
    jobs = sorted(p.parent for p in sweep.glob("*/eval.json"))
    assert [j.name for j in jobs] == ["0", "2"]
    for job, seed in zip(jobs, [1, 2], strict=True):
        params = (job / "params.yaml").read_text()
        assert "variants:\n  attention:" in params
        assert (job / "models/attention/model.pt").is_file()
        assert (job / "evaluations/test.hyp").is_file()
        facts = json.loads((job / "train.json").read_text())
        assert (facts["steps"], facts["seed"]) == (6, seed)
        assert OmegaConf.load(job / "params.yaml").seeds == [seed]  # as dvc repro would read
        assert facts["logger_run"]["name"] == f"attention-{seed}"  # as the train stage's runs
        assert facts["logger_run"]["group"] == "sweep-test"
        files = [job / f for f in ("train.json", "eval.json", "eval.details.json")]
        check_evaluation_logged(job / "logs", *files)  # into the training's run
    for failed in ("1", "3"):
        error = (sweep / failed / "error.txt").read_text()
        assert "scheduler 'linear' (train.scheduler)" in error
        assert not (sweep / failed / "train.json").exists()
    assert len(cache_entries(repo)) == 1  # `seed` is training's alone: tokenized once, shared
    # the summary: written once, by the callback at the end of the multirun, with every job
    assert (ran.stdout + ran.stderr).count("sweep summary: 4 jobs in") == 1
    assert not [f for f in sweep.glob("*/*.log") if "sweep summary" in f.read_text()]  # not jobs
    check_summary_rows(sweep, jobs)
    check_summary_curve(repo, sweep, jobs)
    text = (sweep / "summary.md").read_text()
    assert "### Paired comparisons against `train.max_steps=6`" in text
    assert "One group only: nothing to compare it with." in text
    assert "- Left out: `train.max_steps=5`, no job of it finished." in text
    assert len(text.split("## Jobs\n\n")[1].splitlines()) == 6  # header, rule, four jobs
    check_summary_run(sweep)
    # a job whose data is not what the download stage fetched stops with the fix, no traceback
    entries = len(cache_entries(repo))
    other = sh(repo, sys.executable, "-m", "pipelines.sweep", "data=wmt14_enfr", check=False)
    assert other.returncode == 1
    assert "data/corpus holds synthetic" in other.stderr + other.stdout
    assert "Traceback" not in other.stderr
    assert len(cache_entries(repo)) == entries  # nothing tokenized for it
    # so does a job whose schedule cannot run, before it tokenizes for its new data.max_len
    short = ("data.max_len=20", "train.max_steps=5", "train.warmup_steps=5")
    bad = sh(repo, sys.executable, "-m", "pipelines.sweep", *short, check=False)
    assert bad.returncode == 1
    assert "scheduler 'linear' (train.scheduler)" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
    assert len(cache_entries(repo)) == entries


def check_summary_rows(sweep: Path, jobs: list[Path]) -> None:
    """summary.csv: a row per finished job and bucket of `test`, its numbers those of the job's
    eval.details.json; a row per failed job, with the first line of its error."""
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["job"] for r in rows if r["status"] == "failed"] == ["1", "3"]
    assert [r["overrides"] for r in rows if r["status"] == "failed"] == [
        f"model=attention seed={s} train.max_steps=5" for s in (1, 2)
    ]
    assert {r["group"] for r in rows} == {"train.max_steps=6", "train.max_steps=5"}
    failed = next(r for r in rows if r["job"] == "1")
    assert failed["error"] == (sweep / "1" / "error.txt").read_text().splitlines()[0]
    for job in jobs:
        scored = json.loads((job / "eval.details.json").read_text())["test_sets"]["test"]
        own = [r for r in rows if r["job"] == job.name]
        assert [r["bucket"] for r in own] == [b["label"] for b in scored["buckets"]]
        for row, bucket in zip(own, scored["buckets"], strict=True):
            assert (row["status"], row["test_set"], row["group"]) == (
                "ok",
                "test",
                "train.max_steps=6",
            )
            assert float(row["set_bleu"]) == scored["bleu"]
            for key in ("lo", "hi", "n", "bleu", "ci_lo", "ci_hi", "length_ratio"):
                column = {"lo": "bucket_lo", "hi": "bucket_hi"}.get(key, key)
                assert same(row[column], bucket[key]), (job.name, key)


def check_summary_curve(repo: Path, sweep: Path, jobs: list[Path]) -> None:
    """The figure's curves, as the summary builds them: one, over the two seeds; in each bucket
    the mean of the two jobs' corpus BLEU and output / reference length (sacrebleu, on their
    hypotheses and the corpus's references). Six training steps leave BLEU near 0; the lengths
    differ by seed (tests/test_sweep_summary.py checks BLEU that differs)."""
    (curve,) = figure_curves(compare_groups(group_jobs(read_jobs(sweep)))["test"])
    assert (curve.label, curve.seeds) == ("train.max_steps=6 (2 seeds)", 2)
    test = datasets.load_from_disk(str(repo / "data/corpus"))["test"]
    refs, lengths = list(test["tgt"]), [len(s.split()) for s in test["src"]]
    hyps = [(job / "evaluations/test.hyp").read_text().split("\n")[:-1] for job in jobs]
    close = {"abs": 5e-5 + 1e-9}  # 4 places
    spread = False
    for k, (lo, hi) in enumerate(zip(curve.los, curve.his, strict=True)):
        rows = [i for i, n in enumerate(lengths) if lo <= max(n, 1) and (hi is None or n <= hi)]
        assert curve.counts[k] == len(rows)
        scored = [
            BLEU().corpus_score([h[i] for i in rows], [[refs[i] for i in rows]]) for h in hyps
        ]
        assert curve.bleu[k] == pytest.approx(sum(s.score for s in scored) / 2, **close)
        ratios = [s.sys_len / s.ref_len for s in scored]
        assert curve.length_ratio[k] == pytest.approx(sum(ratios) / 2, **close)
        spread = spread or ratios[0] != ratios[1]
    assert spread, "the two seeds' outputs are alike in every bucket: the check would prove little"


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
