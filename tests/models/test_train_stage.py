"""The `train` stage entry as DVC runs it: models/<variant>/ with weights that load under
torch.load(weights_only=True) and the config (nothing that depends on the run), the facts in the
metrics file, and a real offline W&B run that holds the metrics."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar

from nmt_bottleneck.machine import cpu_model
from nmt_bottleneck.models.build import build_seq2seq
from nmt_bottleneck.training.trainer import progress_bar
from tests.helpers import run_module
from tests.models.train_stage import batches_per_epoch, stage_args, train
from tests.wandb_log import summarize


def test_train_writes_the_model_and_a_finished_offline_wandb_run(tmp_path, tokenized):
    # Small batches, so the 8 steps are part of an epoch (Lightning's current_epoch reads 1).
    result, out = train(tmp_path, tokenized, "attention", "train.max_tokens=300")
    assert result.returncode == 0, result.stderr[-3000:]
    # stdout is a pipe, as under `dvc queue logs`: the bar is drawn as training goes, every
    # logger.every_steps (2) steps, not once at the end.
    assert {"2", "4", "6", "8"} <= set(re.findall(r"\b(\d)/8\b", result.stdout))
    # run.json sits in the checkpoint folder from the start; Lightning's not-empty warning is
    # silenced because prepare_run decides what that folder holds (warned there before)
    assert "Checkpoint directory" not in result.stderr
    # the model folder (a DVC output other stages depend on) holds nothing run-dependent: a
    # byte-identical retrain leaves it byte-identical; the facts are the metrics file's
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "model.pt"]
    facts = json.loads((tmp_path / "attention.json").read_text())
    assert facts["steps"] == 8
    machine = facts["machine"]  # whose seconds wall_time_s are
    assert (machine["cpu"], machine["torch"]) == (cpu_model(), torch.__version__)
    assert machine["processes"] == 1 and "gpu" not in machine and machine["cores"] >= 1
    # the stage keeps freed memory (allocator.py)
    if platform.libc_ver()[0] == "glibc" and os.environ.get("NMT_KEEP_FREED") != "0":
        assert machine["allocator"].startswith("glibc: freed memory kept")
    per_epoch = batches_per_epoch(tmp_path, tokenized[0])
    assert per_epoch > 8
    assert facts["epochs"] == pytest.approx(8 / per_epoch, abs=1e-4)

    config = yaml.safe_load((out / "config.yaml").read_text())
    derived = config["derived"]
    model = build_seq2seq(
        config["arch"], derived["src_vocab"], derived["tgt_vocab"], "arch", derived["max_src_len"]
    )
    weights = torch.load(out / "model.pt", weights_only=True)
    model.load_state_dict(weights, strict=True)
    assert sum(p.numel() for p in model.parameters()) == facts["parameters"]["total"]

    runs = list((tmp_path / "logs" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    run = summarize(runs[0])
    seed = yaml.safe_load((tmp_path / "params.yaml").read_text())["seeds"][0]
    # the one id of a (variant, seed) run, as in train@attention-<seed>
    assert (run["name"], run["group"], run["exit_code"]) == (
        f"attention-{seed}",
        "synthetic-smoke",
        0,
    )
    val_losses = [row["val/loss"] for row in run["history"] if "val/loss" in row]
    assert len(val_losses) == 2  # validated at steps 4 and 8
    assert (
        min(val_losses) == facts["best_val_loss"]
        or abs(min(val_losses) - facts["best_val_loss"]) < 1e-4
    )
    assert any("train/loss" in row for row in run["history"])
    assert run["summary"]["params/total"] == facts["parameters"]["total"]
    assert run["config"]["variant"] == "attention"


def test_a_terminal_gets_richs_bar_and_anything_else_tqdms(monkeypatch):
    _, terminal = os.openpty()
    with os.fdopen(terminal, "w") as tty:
        monkeypatch.setattr(sys, "stdout", tty)
        assert isinstance(progress_bar(5), RichProgressBar)
    _, write_end = os.pipe()
    with os.fdopen(write_end, "w") as pipe:
        monkeypatch.setattr(sys, "stdout", pipe)
        bar = progress_bar(5)
        assert type(bar) is TQDMProgressBar
        assert bar.refresh_rate == 5


def test_an_unknown_variant_lists_the_valid_ones(tmp_path, tokenized):
    result, _ = train(tmp_path, tokenized, "luong")
    assert result.returncode == 1
    assert "unknown variant 'luong'" in result.stderr
    variants = yaml.safe_load((tmp_path / "params.yaml").read_text())["variants"]
    assert f"valid: {', '.join(variants)}." in result.stderr


def test_a_seed_not_in_the_config_is_refused_with_the_fix(tmp_path, tokenized):
    args = stage_args(tmp_path, tokenized[0], "attention", "seeds=[3,4]")
    args[args.index("--seed") + 1] = "5"
    result = run_module("pipelines.train", *args)
    assert result.returncode == 1
    assert "--seed 5 is not among seeds = [3, 4]" in result.stderr
    assert not (tmp_path / "models").exists()


def test_a_regime_wider_than_the_tokenized_data_is_refused_before_any_data_work(tmp_path):
    args = stage_args(
        tmp_path,
        str(tmp_path / "not-tokenized"),
        "attention",
        "data.max_len=30",
        "variants.attention.max_len=40",
    )
    result = run_module("pipelines.train", *args)
    assert result.returncode == 1
    assert "variants.attention.max_len = 40 exceeds data.max_len = 30" in result.stderr
    assert "Fix:" in result.stderr and "not-tokenized" not in result.stderr


def test_a_linear_schedule_shorter_than_its_warmup_fails_before_any_data_work(tmp_path):
    args = stage_args(tmp_path, str(tmp_path / "not-tokenized"), "attention", "train.max_steps=4")
    result = run_module("pipelines.train", *args)
    assert result.returncode == 1
    assert "scheduler 'linear' (train.scheduler)" in result.stderr
    assert "got 4 steps" in result.stderr and "warmup_steps 5" in result.stderr  # smoke's
    assert "not-tokenized" not in result.stderr  # failed before reading the data
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize(
    ("max_steps", "val_every", "validated_at"),
    [  # the second case (10 s) with the slow tests
        pytest.param(6, 10, [6], id="shorter-than-one-interval"),
        pytest.param(7, 4, [4, 7], id="not-a-multiple", marks=pytest.mark.slow),
    ],
)
def test_the_last_step_is_validated_when_the_interval_does_not_land_on_it(
    tmp_path, tokenized, max_steps, val_every, validated_at
):
    # Lightning validates every val_check_interval steps only: the steps after the last
    # multiple would be trained and then thrown away, and with no multiple at all the stage
    # had no best checkpoint to write (it failed after training).
    result, _ = train(
        tmp_path,
        tokenized,
        "attention",
        f"train.max_steps={max_steps}",
        f"train.val_every_steps={val_every}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads((tmp_path / "attention.json").read_text())
    assert facts["steps"] == max_steps
    # last.ckpt is saved at every validation (and at the end): it holds the last step
    last = torch.load(tmp_path / "checkpoints" / "attention" / "last.ckpt", weights_only=False)
    assert last["global_step"] == max_steps
    run = summarize(next((tmp_path / "logs" / "wandb").glob("offline-run-*/run-*.wandb")))
    losses = [row["val/loss"] for row in run["history"] if "val/loss" in row]
    assert len(losses) == len(validated_at)
    best = losses.index(min(losses))
    assert facts["best_step"] == validated_at[best]
    assert facts["best_val_loss"] == pytest.approx(losses[best], abs=1e-4)


def test_a_checkpoint_folder_without_a_best_checkpoint_fails_with_the_fix(tmp_path, tokenized):
    # As an interrupted run of the code before the last-step validation could leave it: a
    # last.ckpt at max_steps, not marked complete, and no validated best checkpoint.
    result, out = train(tmp_path, tokenized, "attention")
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoints = tmp_path / "checkpoints" / "attention"
    run = json.loads((checkpoints / "run.json").read_text())
    (checkpoints / "run.json").write_text(json.dumps({**run, "complete": False}))
    (checkpoints / "best.ckpt").unlink()
    shutil.rmtree(out)
    again, _ = train(tmp_path, tokenized, "attention")
    assert again.returncode == 1
    assert f"{checkpoints}: training ended at step 8 with no validated checkpoint" in again.stderr
    assert f"Fix: delete {checkpoints} and run the stage again." in again.stderr
    assert "Traceback" not in again.stderr and not out.exists()


def test_an_epoch_budget_trains_that_many_passes(tmp_path, tokenized):
    """train.max_epochs instead of max_steps: the steps follow from the batches per epoch
    (counted here from the sampler), and the last step is validated."""
    result, _ = train(
        tmp_path, tokenized, "final_state", "train.max_steps=null", "train.max_epochs=2"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads((tmp_path / "final_state.json").read_text())
    per_epoch = batches_per_epoch(tmp_path, tokenized[0])
    assert (facts["steps"], facts["epochs"]) == (2 * per_epoch, 2.0)
    assert facts["best_step"] <= facts["steps"]
    last = torch.load(tmp_path / "checkpoints" / "final_state" / "last.ckpt", weights_only=False)
    assert last["global_step"] == 2 * per_epoch


@pytest.mark.parametrize(("steps", "epochs"), [("null", "null"), ("8", "3")])
def test_the_training_length_is_max_steps_or_max_epochs_not_both(tmp_path, steps, epochs):
    overrides = (f"train.max_steps={steps}", f"train.max_epochs={epochs}")
    args = stage_args(tmp_path, str(tmp_path / "not-tokenized"), "attention", *overrides)
    result = run_module("pipelines.train", *args)
    assert result.returncode == 1
    assert "set exactly one" in result.stderr and "train.max_epochs" in result.stderr


def test_the_stage_prints_no_wandb_anonymous_warning(tmp_path, tokenized):
    """Lightning hands wandb.init `anonymous=None`, which W&B warns about on every run."""
    overrides = ("train.max_steps=2", "train.warmup_steps=0")
    args = stage_args(tmp_path, tokenized[0], "final_state", *overrides)
    result = run_module("pipelines.train", *args)  # W&B not silenced
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wandb" in result.stderr.lower()  # W&B did speak
    assert "anonymous" not in result.stderr
