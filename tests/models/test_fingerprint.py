"""The run's fingerprint (training/fit.py run_settings, compared by models/resume.py): it holds
what the weights depend on, and nothing that changes no weight, so an interrupted run resumes
exactly when its result would be the same."""

from __future__ import annotations

import shutil

import datasets
from omegaconf import OmegaConf

from nmt_bottleneck.data.corpus import split_fingerprint
from nmt_bottleneck.training.fit import run_settings
from tests.helpers import ROOT

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


def test_each_split_the_run_reads_is_in_the_fingerprint(tokenized, tmp_path):
    """The validation split picks the best checkpoint and stops training early: another valid
    split (same train split) is another run, and so is another train split. The same bytes
    elsewhere are the same run."""
    data = tokenized[0]
    shutil.copytree(data, tmp_path / "copy")
    assert fingerprint(str(tmp_path / "copy")) == fingerprint(data)
    corpus = datasets.load_from_disk(data)
    for split in ("train", "valid"):  # the folder copied, one split one row shorter
        shutil.copytree(data, tmp_path / split)
        shutil.rmtree(tmp_path / split / split)
        corpus[split].select(range(corpus[split].num_rows - 1)).save_to_disk(
            str(tmp_path / split / split)
        )
        other = "valid" if split == "train" else "train"
        assert split_fingerprint(tmp_path / split, other) == split_fingerprint(data, other)
        assert fingerprint(str(tmp_path / split)) != fingerprint(data), split


def test_a_context_class_in_a_new_module_is_in_the_fingerprint(tokenized, tmp_path):
    """Config builds the context module by name (`_target_`), so no import walk from the stage
    reaches a context class in a file of its own: the run's fingerprint must digest it anyway,
    or a killed run resumes with that file changed."""
    shutil.copytree(
        ROOT / "src" / "nmt_bottleneck",
        tmp_path / "nmt_bottleneck",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    new = tmp_path / "nmt_bottleneck" / "models" / "luong.py"
    new.write_text(
        "from nmt_bottleneck.models.context import BahdanauAttention\n\n\n"
        "class Luong(BahdanauAttention):\n    pass\n"
    )
    roots = {"nmt_bottleneck": tmp_path}
    config = {
        "variant": "luong",
        "arch": {"context": {"_target_": "nmt_bottleneck.models.luong.Luong"}},
    }
    trainer = OmegaConf.create({"accelerator": "cpu", "devices": 1})

    def settings() -> dict:
        return run_settings(config, OmegaConf.create(TRAIN), trainer, 0, tokenized[0], "c", roots)

    before = settings()
    assert settings() == before
    new.write_text(new.read_text() + "\n# changed\n")
    assert settings() != before
