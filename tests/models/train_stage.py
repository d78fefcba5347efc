"""Helpers for tests that run the train stage as DVC does (a child process): its arguments
with every output under a test folder, and the batches per epoch the composed params give."""

from __future__ import annotations

from pathlib import Path

import yaml

from nmt_bottleneck.data.datamodule import TranslationDataModule
from tests.helpers import run_module

SHORT = ["train.max_steps=8", "train.val_every_steps=4", "logger.every_steps=2"]


def stage_args(tmp_path: Path, data: str, variant: str, *overrides: str) -> list[str]:
    """Compose params.yaml with `overrides` and return the train stage's arguments, with every
    output under tmp_path."""
    params = tmp_path / "params.yaml"
    composed = run_module(
        "pipelines.compose_params",
        "data=synthetic",
        "experiment=smoke",
        *overrides,
        "--out",
        str(params),
    )
    assert composed.returncode == 0, composed.stderr
    seed = yaml.safe_load(params.read_text())["seeds"][0]
    return [
        *("--variant", variant, "--seed", str(seed), "--params", str(params), "--data", data),
        *("--tokenizer", str(Path(data).parent), "--out", str(tmp_path / "models" / variant)),
        *("--metrics", str(tmp_path / f"{variant}.json")),
        *("--checkpoints", str(tmp_path / "checkpoints" / variant)),
        *("--logs", str(tmp_path / "logs")),
    ]


def train(tmp_path: Path, tokenized, variant: str, *overrides: str):
    """Run the stage with SHORT and `overrides`: (the finished process, models/<variant>/)."""
    args = stage_args(tmp_path, tokenized[0], variant, *SHORT, *overrides)
    result = run_module("pipelines.train", *args, env={"WANDB_SILENT": "true"})
    return result, tmp_path / "models" / variant


def batches_per_epoch(tmp_path: Path, data: str, replicas: int = 1) -> int:
    """Counted by iterating (rank 0's) training batches of a datamodule set up as the composed
    params say."""
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    keys = ("max_tokens", "eval_max_tokens", "bucket_batches", "max_sentences")
    sizes = {k: params["train"][k] for k in keys}
    dm = TranslationDataModule(data, **sizes, num_workers=0, seed=params["seeds"][0])
    dm.setup()
    sampler = dm.train_dataloader().batch_sampler
    sampler.num_replicas = replicas
    return sum(1 for _ in sampler)
