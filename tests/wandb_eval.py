"""The check that an evaluation went into its model's W&B training run (issue 23): the DVC
pipeline's and the sweep's tests call it with the files their stages or jobs wrote, read here
through the independent `.wandb` reader (tests/wandb_log.py), never through W&B's SDK."""

from __future__ import annotations

import json
from pathlib import Path

from tests.wandb_log import logged_table, offline_runs

BUCKET_KEYS = ("lo", "hi", "n", "bleu", "ci_lo", "ci_hi", "length_ratio")


def check_evaluation_logged(
    logs: Path, facts: Path, metrics: Path, details: Path
) -> dict[str, list[dict]]:
    """The evaluation of the model whose train facts are `facts` (its `logger_run`) went into
    the same W&B run id as its training, a later offline folder of that run: summary BLEU and
    chrF equal the metrics JSON, the signatures the details JSON, and the `<set>/bleu_by_length`
    table rows its non-empty buckets, with a native line plot of them. Returns the table rows
    per test set (and view), for the caller's comparison with the report's CSV."""
    trained = json.loads(Path(facts).read_text())
    scores = json.loads(Path(metrics).read_text())
    sets = json.loads(Path(details).read_text())["test_sets"]
    run_id = trained["logger_run"]["id"]
    runs = [r for r in offline_runs(logs) if r.get("id") == run_id]
    assert len(runs) == 2, [r["dir"].name for r in offline_runs(logs)]  # training, evaluation
    training, evaluation = runs
    assert "test/bleu" not in training["summary"]  # the training alone logged no BLEU
    assert training["name"] == evaluation["name"] == trained["logger_run"]["name"]
    assert training["group"] == evaluation["group"] == trained["logger_run"]["group"]
    assert evaluation["exit_code"] == 0
    summary, (row,) = evaluation["summary"], evaluation["history"]  # one log call
    assert row["trainer/global_step"] == trained["steps"]  # at the end of the loss curves
    tables = {}
    for name, s in sets.items():
        if s.get("novel_of") is None:
            assert summary[f"{name}/bleu"] == scores[name]["bleu"]
            assert summary[f"{name}/chrf"] == scores[name]["chrf"]
        assert summary[f"{name}/bleu_signature"] == s["bleu_signature"]
        assert summary[f"{name}/chrf_signature"] == s["chrf_signature"]
        rows = logged_table(evaluation, row, f"{name}/bleu_by_length")
        expected = [b for b in s["buckets"] if b["n"] > 0]
        assert [
            [r[f"bucket_{k}" if k in ("lo", "hi") else k] for k in BUCKET_KEYS] for r in rows
        ] == [[b[k] for k in BUCKET_KEYS] for b in expected]
        assert {r["seed"] for r in rows} == {trained["seed"]}
        assert {r["variant"] for r in rows} == {trained["variant"]}
        plot = logged_table(evaluation, row, f"{name}/bleu_vs_length_table")  # the line plot's
        assert plot == rows
        panel = evaluation["config"][f"_wandb/visualize/{name}/bleu_vs_length"]["panel_config"]
        assert panel["panelDefId"] == "wandb/line/v0"  # W&B's own line chart
        assert (panel["fieldSettings"]["x"], panel["fieldSettings"]["y"]) == ("bucket_lo", "bleu")
        tables[name] = rows
    return tables
