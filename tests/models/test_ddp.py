"""Lightning DDP on CPU: two processes (gloo) train on disjoint batches and end with the same
weights; the train stage runs under `trainer=ddp` and writes its outputs once."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.helpers import ROOT, child_env
from tests.models.train_stage import batches_per_epoch, train


def test_two_cpu_processes_agree_on_the_weights(tmp_path, tokenized):
    data, vocab = tokenized
    env = child_env(ROOT)
    result = subprocess.run(
        [sys.executable, "tests/models/ddp_run.py", data, str(tmp_path), str(vocab)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    weights = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for name in weights[0]:
        assert torch.equal(weights[0][name], weights[1][name]), name
    rows = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert len(rows[0]) == len(rows[1]) == 6  # one batch per step on each rank
    seen = [{i for batch in r for i in batch} for r in rows]
    first_epoch = [{i for batch in r[:2] for i in batch} for r in rows]
    assert not first_epoch[0] & first_epoch[1]  # ranks train on different sentences
    assert seen[0] and seen[1]


@pytest.mark.slow  # 15 s; the default run keeps the two-process agreement test
def test_the_train_stage_runs_under_trainer_ddp(tmp_path, tokenized):
    data, _ = tokenized
    result, out = train(
        tmp_path, tokenized, "final_state", "trainer=ddp", "trainer.accelerator=cpu"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "model.pt"]
    facts = json.loads((tmp_path / "final_state.json").read_text())
    assert facts["steps"] == 8
    # epochs count this rank's share of the batches: half of them each
    assert facts["epochs"] == pytest.approx(8 / batches_per_epoch(tmp_path, data, 2), abs=1e-4)
    assert len(list((tmp_path / "logs" / "wandb").glob("offline-run-*"))) == 1  # rank 0 only
