"""The run's fingerprint (training/fit.py run_settings, compared by models/resume.py): it holds
what the weights depend on, and nothing that changes no weight, so an interrupted run resumes
exactly when its result would be the same."""

from __future__ import annotations

from omegaconf import OmegaConf

from nmt_bottleneck.training.fit import run_settings

TRAIN = {
    "max_steps": 30,
    "max_epochs": None,
    "lr": 0.003,
    "scheduler": "linear",
    "warmup_steps": 5,
    "max_tokens": 1500,
    "eval_max_tokens": 4000,
    "bucket_batches": 50,
    "max_sentences": None,
    "num_workers": 0,
    "val_every_steps": 10,
    "patience": 5,
}


def fingerprint(data: str, **train) -> dict:
    settings = OmegaConf.create({**TRAIN, **train})
    trainer = OmegaConf.create({"accelerator": "cpu", "devices": 1})
    return run_settings({"variant": "attention"}, settings, trainer, 0, data, "code")


def test_loader_workers_are_not_in_the_fingerprint(tokenized):
    """num_workers changes no weight (batches come in the main process's order): changing it
    must resume the run, not start it anew; a setting that does change them still counts."""
    data = tokenized[0]
    assert fingerprint(data, num_workers=2) == fingerprint(data, num_workers=0)
    assert fingerprint(data, max_tokens=1000) != fingerprint(data)
