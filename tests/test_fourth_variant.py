"""A fourth variant is one config line and one YAML file: a copy of the reproduced smoke
pipeline (tests/conftest.py, `reproduced`) gets `- /model@variants.attention_narrow:
attention_narrow` in conf/curves/smoke.yaml (the curves the smoke experiment trains),
conf/model/attention_narrow.yaml (the attention module with a narrower attention layer, no
display label and no Table 1 numbers) and a claim about it in `judge.claims`, recomposes
params.yaml, and `dvc repro` runs the new variant's stages (one per seed), compare and report
through real DVC. The new variant is trained, evaluated, paired-tested against the baseline,
judged, drawn (under its id, having no label) and written about, with no code changed."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import datasets
import pytest
import yaml

from tests.helpers import dvc, edit_conf, sh

NEW = "attention_narrow"
MODEL = """# A second attention variant: the same module with a narrower attention layer.
defaults: [attention, _self_]
arch:
  context:
    attention_size: 16
label: null   # shown under its id
paper: null   # not a model of the paper's Table 1
"""
SEEDS = (1, 2)  # conf/experiment/smoke.yaml


def add_variant(repo: Path) -> None:
    """The user's edit: one YAML file, one defaults line, one claim; then recompose."""
    (repo / f"conf/model/{NEW}.yaml").write_text(MODEL)
    curves = repo / "conf/curves/smoke.yaml"
    text, n = re.subn(
        r"^( *)- /model@variants\.attention: attention.*\n",
        rf"\g<0>\1- /model@variants.{NEW}: {NEW}\n",
        curves.read_text(),
        flags=re.MULTILINE,
    )
    assert n == 1
    curves.write_text(text)
    claims = yaml.safe_load((repo / "params.yaml").read_text())["judge"]["claims"]
    edit_conf(repo, {"judge.claims": [*claims, {"kind": "holds", "variant": NEW}]})
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", f"variant {NEW}")


@pytest.mark.slow  # a re-run through DVC: 1-1.5 min (README, Tests)
def test_a_fourth_variant_runs_through_the_whole_pipeline(reproduced_copy):
    repo = reproduced_copy
    add_variant(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert list(params["variants"]) == ["final_state", "attention_30", "attention", NEW]
    assert params["variants"][NEW]["arch"]["context"]["attention_size"] == 16
    assert params["variants"][NEW]["label"] is None

    ran = dvc(repo, "repro").stdout
    stages = sorted(x.split("'")[1] for x in ran.splitlines() if x.startswith("Running stage"))
    new = [f"{stage}@{NEW}-{s}" for stage in ("evaluate", "train") for s in SEEDS]
    assert stages == ["compare", *new[:2], "report", *new[2:]]  # nothing else
    test_set = datasets.load_from_disk(str(repo / "data/corpus"))["test"]
    shown = json.dumps(json.loads(dvc(repo, "metrics", "show", "--json").stdout))
    for seed in SEEDS:
        trained = yaml.safe_load((repo / f"models/{NEW}/{seed}/config.yaml").read_text())
        assert trained["arch"]["context"]["attention_size"] == 16
        metrics = json.loads((repo / f"reports/eval/{NEW}/{seed}.json").read_text())
        assert metrics["test"]["sentences"] == test_set.num_rows
        assert f"reports/eval/{NEW}/{seed}.json" in shown

    significance = json.loads((repo / "reports/significance.json").read_text())
    assert significance["baseline"] == params["judge"]["baseline"]
    assert set(significance["test_sets"]["test"]) == {"attention_30", "attention", NEW}

    with open(repo / "reports/bleu_by_length.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["variant"] == NEW]
    details = json.loads((repo / f"reports/eval/{NEW}/1.details.json").read_text())["test_sets"]
    assert len(rows) == sum(len(t["buckets"]) for t in details.values())
    assert {(r["label"], r["seeds"]) for r in rows} == {(NEW, str(len(SEEDS)))}  # no label: id

    svg = (repo / "reports/figures/bleu_vs_length_test.svg").read_text()
    assert f"<!-- {NEW} -->" in svg  # matplotlib writes each legend text as a comment
    assert "<!-- RNNsearch-50 -->" in svg  # the others keep their labels
    assert list((repo / "reports/figures").glob(f"attention_{NEW}_test_*.png"))  # heatmaps

    verdict = json.loads((repo / "reports/verdicts.json").read_text())["test_sets"]["test"]
    assert NEW in verdict["shapes"]
    claim = verdict["results"][-1]
    assert claim["claim"] == {"kind": "holds", "variant": NEW}
    assert claim["shape"]["variant"] == NEW

    report = (repo / "reports/report.md").read_text()
    assert all(f"| {NEW} | {seed} | test |" in report for seed in SEEDS)
    assert f"{NEW} BLEU [95% CI]" in report and f"p {NEW} vs final_state" in report
    assert f"- `{NEW}`: best " in report

    again = dvc(repo, "repro").stdout
    assert "Running stage" not in again  # the new stages are as reproducible as the others


def test_an_unknown_variant_in_a_claim_stops_the_report_with_the_key(reproduced_copy):
    """A claim naming a variant that is not configured fails before anything is drawn."""
    repo = reproduced_copy
    claims = yaml.safe_load((repo / "params.yaml").read_text())["judge"]["claims"]
    edit_conf(repo, {"judge.claims": [*claims, {"kind": "holds", "variant": NEW}]})
    args = ["--train", "t", "--eval", "e", "--evaluations", "v", "--significance", "s.json"]
    args += ["--data-stats", "d.json", "--csv", "c.csv", "--figures", "f", "--out", "r.md"]
    failed = sh(repo, sys.executable, "-m", "pipelines.report", *args, check=False)
    assert failed.returncode == 1
    at = f"judge.claims[{len(claims)}].variant"  # the claim added last
    assert f"{at} = '{NEW}' is not a variant; variants: " in failed.stderr
    assert not (repo / "f").exists() and not (repo / "r.md").exists()
