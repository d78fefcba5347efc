"""Training regimes and seeds through real DVC (issue 22, "Done when"), on the reproduced smoke
pipeline (tests/conftest.py, `reproduced`: final_state, attention_30 and attention, seeds 1 and
2): every (variant, seed) trains and is evaluated once; a second `dvc repro` runs nothing;
changing one variant's regime re-runs that variant's stages (both seeds) and the report, and
its model trains on exactly the pairs within the regime, counted here from the raw text;
relabelling a curve re-runs no training. Expected values are computed here from the corpus
DVC wrote, never read back from the stage that is checked."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import datasets
import pytest
import yaml

from tests.helpers import dvc, sh
from tests.wandb_log import summarize

VARIANTS = ("final_state", "attention_30", "attention")  # conf/curves/smoke.yaml
SEEDS = (1, 2)  # conf/experiment/smoke.yaml
RUNS = [(v, s) for v in VARIANTS for s in SEEDS]
REGIMES = {"final_state": 50, "attention_30": 30, "attention": 50}  # conf/model/*.yaml max_len


def stages_run(stdout: str) -> list[str]:
    """Every stage DVC says it ran, sorted (a stage run twice is listed twice)."""
    return sorted(x.split("'")[1] for x in stdout.splitlines() if x.startswith("Running stage"))


def words(text: str) -> int:
    return len(text.split())


def pairs_within(repo: Path, max_words: int) -> int:
    """Training pairs of the raw corpus with data.min_len..min(max_words, data.max_len)
    whitespace words on both sides."""
    data = yaml.safe_load((repo / "params.yaml").read_text())["data"]
    lo, hi = data["min_len"], min(max_words, data["max_len"])
    train = datasets.load_from_disk(str(repo / "data/corpus"))["train"]
    return sum(
        lo <= words(s) <= hi and lo <= words(t) <= hi
        for s, t in zip(train["src"], train["tgt"], strict=True)
    )


def derived(repo: Path, variant: str, seed: int) -> dict:
    return json.loads((repo / f"reports/train/{variant}/{seed}.json").read_text())["derived"]


def test_every_variant_and_seed_trains_and_is_evaluated_once(reproduced, reproduced_copy):
    repo, first = reproduced_copy, reproduced[1]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert (tuple(params["variants"]), tuple(params["seeds"])) == (VARIANTS, SEEDS)
    expected = [f"{stage}@{v}-{s}" for stage in ("train", "evaluate") for v, s in RUNS]
    assert stages_run(first) == sorted(["download", "tokenize", *expected, "compare", "report"])
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    test_set = datasets.load_from_disk(str(repo / "data/corpus"))["test"]
    for v, s in RUNS:
        assert (repo / f"models/{v}/{s}/model.pt").is_file()
        outs = [o["path"] for o in lock[f"train@{v}-{s}"]["outs"]]
        assert outs == [f"models/{v}/{s}", f"reports/train/{v}/{s}.json"]
        assert f"--seed {s}" in lock[f"train@{v}-{s}"]["cmd"]
        metrics = json.loads((repo / f"reports/eval/{v}/{s}.json").read_text())
        assert metrics["test"]["sentences"] == test_set.num_rows
        assert (repo / f"evaluations/{v}/{s}/test.hyp").is_file()
    runs = [summarize(f) for f in (repo / "logs/wandb").glob("offline-run-*/run-*.wandb")]
    trained = sorted({(r["name"], r["id"]) for r in runs if r.get("name") != "report"})
    assert [name for name, _ in trained] == sorted(f"{v}-{s}" for v, s in RUNS)  # one run id each

    again = dvc(repo, "repro")
    assert stages_run(again.stdout) == []
    assert "Data and pipelines are up to date." in again.stdout
    assert sh(repo, "git", "status", "--porcelain").stdout == ""  # dvc.lock unchanged


def test_each_regime_trains_on_exactly_its_pairs_and_evaluates_on_every_sentence(reproduced):
    """derived.train_pairs of each (variant, seed) is the count of raw training pairs within its
    regime; validation is never filtered (the longest source the -30 model was sized for is a
    validation sentence longer than 30 words), nor is the test set."""
    repo = reproduced[0]
    for v, s in RUNS:
        assert derived(repo, v, s)["train_pairs"] == pairs_within(repo, REGIMES[v])
    assert pairs_within(repo, 30) < pairs_within(repo, 50)  # the regimes differ here

    tokenized = datasets.load_from_disk(str(repo / "data/tokenized"))
    train, valid = tokenized["train"], tokenized["valid"]
    corpus = datasets.load_from_disk(str(repo / "data/corpus"))
    assert valid.num_rows == corpus["valid"].num_rows
    kept = [  # source tokens of the -30 regime's training pairs
        len(ids)
        for s, t, ids in zip(train["src"], train["tgt"], train["src_ids"], strict=True)
        if words(s) <= 30 and words(t) <= 30
    ]
    every_valid = max(len(ids) for ids in valid["src_ids"])
    valid_within = max(
        len(ids)
        for s, t, ids in zip(valid["src"], valid["tgt"], valid["src_ids"], strict=True)
        if words(s) <= 30 and words(t) <= 30
    )
    unfiltered, filtered = max(*kept, every_valid) + 1, max(*kept, valid_within) + 1  # + EOS
    assert unfiltered != filtered  # so the number below tells the two apart
    for s in SEEDS:
        assert derived(repo, "attention_30", s)["max_src_len"] == unfiltered
        details = json.loads((repo / f"reports/eval/attention_30/{s}.details.json").read_text())
        buckets = details["test_sets"]["test"]["buckets"]
        last = buckets[-1]
        longer = sum(words(x) >= last["lo"] for x in corpus["test"]["src"])
        assert last["lo"] > 30 and last["n"] == longer > 0  # test sentences past the regime


def set_regime(repo: Path, variant: str, max_len: int) -> None:
    """The user's edit: the variant's file in conf/model/, then `make params`."""
    path = repo / f"conf/model/{variant}.yaml"
    text, n = re.subn(r"^max_len: \d+$", f"max_len: {max_len}", path.read_text(), flags=re.M)
    assert n == 1
    path.write_text(text)
    sh(repo, sys.executable, "-m", "pipelines.compose_params")


@pytest.mark.slow  # a re-run through DVC: 1-1.5 min (README, Tests)
def test_one_regime_change_reruns_only_that_variant(reproduced_copy):
    repo = reproduced_copy
    set_regime(repo, "attention_30", 20)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["variants"]["attention_30"]["max_len"] == 20
    assert params["variants"]["attention"]["max_len"] == 50

    ran = dvc(repo, "repro").stdout
    assert stages_run(ran) == [
        "compare",
        "evaluate@attention_30-1",
        "evaluate@attention_30-2",
        "report",
        "train@attention_30-1",
        "train@attention_30-2",
    ]
    for s in SEEDS:
        assert derived(repo, "attention_30", s)["train_pairs"] == pairs_within(repo, 20)
        config = yaml.safe_load((repo / f"models/attention_30/{s}/config.yaml").read_text())
        assert config["max_len"] == 20
    assert pairs_within(repo, 20) < pairs_within(repo, 30)
    with open(repo / "reports/bleu_by_length.csv", newline="") as f:
        labels = {r["variant"]: r["label"] for r in csv.DictReader(f)}
    assert labels["attention_30"] == "RNNsearch-20"  # the label follows the regime
    assert stages_run(dvc(repo, "repro").stdout) == []


@pytest.mark.slow  # a re-run through DVC: 1-1.5 min (README, Tests)
def test_relabelling_a_curve_reruns_the_report_alone(reproduced_copy):
    repo = reproduced_copy
    exp = dvc(repo, "exp", "run", "-S", "variants.attention.label=Bahdanau-50")
    assert stages_run(exp.stdout) == ["compare", "report"]  # no training, no evaluation
    with open(repo / "reports/bleu_by_length.csv", newline="") as f:
        labels = {r["variant"]: r["label"] for r in csv.DictReader(f)}
    assert labels == {
        "final_state": "RNNencdec-50",
        "attention_30": "RNNsearch-30",
        "attention": "Bahdanau-50",
    }
    svg = (repo / "reports/figures/bleu_vs_length_test.svg").read_text()
    assert "Bahdanau-50" in svg and "RNNsearch-30" in svg
