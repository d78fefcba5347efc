"""The LightningModule and DataModule under the real Lightning Trainer, on data made by the
pipeline's own code (synthetic source -> word counts -> SentencePiece -> encode)."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import lightning as L
import pytest
import torch

from nmt_bottleneck.data.datamodule import TranslationDataModule
from nmt_bottleneck.data.tokenizer import PAD_ID
from nmt_bottleneck.errors import ConfigError, DataError
from nmt_bottleneck.models.lightning_module import TrainingDivergedError, check_optim
from nmt_bottleneck.training.trainer import training_steps
from tests.models.train_parts import datamodule, make_module, trainer


def test_max_sentences_caps_training_batches_only(tokenized):
    dm = TranslationDataModule(
        tokenized[0], 10**6, 10**6, num_workers=0, seed=0, bucket_batches=10, max_sentences=7
    )
    dm.setup()
    train = [len(batch.index) for batch in dm.train_dataloader()]
    assert max(train) == 7 and sum(train) == len(dm.rows["train"])
    assert max(len(batch.index) for batch in dm.val_dataloader()) > 7


@pytest.mark.parametrize(
    ("key", "value"), [("max_sentences", 0), ("max_tokens", -1), ("bucket_batches", 2.5)]
)
def test_batch_sizes_are_checked_when_the_datamodule_is_built(tokenized, key, value):
    """Before the train stage touches its checkpoints, not when Lightning asks for a loader."""
    sizes = {"max_tokens": 400, "eval_max_tokens": 800, "bucket_batches": 10, key: value}
    with pytest.raises(
        ConfigError,
        match=rf"train\.{key} = {value}: .* Fix: conf/experiment/ \(or `-S train\.{key}=\.\.\.`\)",
    ):
        TranslationDataModule(tokenized[0], **sizes, num_workers=0, seed=0)


@pytest.mark.parametrize("variant", ["final_state", "concat_states", "attention"])
def test_training_lowers_the_validation_loss(tokenized, variant, seeded):
    path, vocab = tokenized
    module = make_module(variant, vocab)
    dm = datamodule(path)
    before = trainer().validate(module, datamodule=dm, verbose=False)[0]["val/loss"]
    fit = trainer()
    fit.fit(module, datamodule=dm)
    after = fit.callback_metrics["val/loss"].item()
    assert after < before - 0.5
    assert fit.callback_metrics["val/ppl"].item() == pytest.approx(math.exp(after), rel=1e-5)
    assert fit.global_step == 40


@pytest.mark.parametrize("variant", ["final_state", "attention"])
def test_bf16_mixed_precision_trains(tokenized, variant, seeded):
    """trainer=gpu's precision, bf16-mixed, here under the CPU's autocast (no GPU in CI): the
    model runs in bfloat16 where autocast puts it, the loss stays finite and falls, and the
    weights stay float32."""
    path, vocab = tokenized
    module = make_module(variant, vocab)
    dm = datamodule(path)
    before = trainer(precision="bf16-mixed").validate(module, datamodule=dm, verbose=False)
    fit = trainer(precision="bf16-mixed")
    seen = []
    hook = module.model.decoder.out.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    fit.fit(module, datamodule=dm)
    hook.remove()
    assert set(seen) == {torch.bfloat16}
    assert fit.callback_metrics["val/loss"].item() < before[0]["val/loss"] - 0.5
    assert all(p.dtype == torch.float32 for p in module.parameters())


def test_validation_loss_is_the_token_weighted_mean(tokenized):
    """val/loss equals the cross-entropy over all validation tokens, computed here directly."""
    path, vocab = tokenized
    module = make_module("attention", vocab).eval()
    dm = datamodule(path)
    logged = trainer().validate(module, datamodule=dm, verbose=False)[0]["val/loss"]
    dm.setup()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for batch in dm.val_dataloader():
            logits = module.model(batch.src, batch.src_lens, batch.tgt_in).logits
            total += torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD_ID, reduction="sum"
            ).item()
            tokens += int((batch.tgt_out != PAD_ID).sum())
    assert tokens == sum(len(r["tgt_ids"]) + 1 for r in dm.rows["valid"].split)
    assert logged == pytest.approx(total / tokens, rel=1e-5)


def test_a_non_finite_loss_stops_with_the_step_and_what_to_try(tokenized):
    path, vocab = tokenized
    module = make_module("final_state", vocab)
    with torch.no_grad():
        module.model.decoder.out.bias.fill_(float("nan"))  # what a diverged update leaves
    with pytest.raises(TrainingDivergedError, match=r"at step 0 .*lower lr.*gradient_clip_val"):
        trainer().fit(module, datamodule=datamodule(path))


def test_parameter_counts_name_the_part_that_differs(tokenized):
    _, vocab = tokenized
    counts = make_module("concat_states", vocab).parameter_counts()
    assert counts["context"] == 40 * 64 * 32 + 32  # L * D * C + C
    assert counts["total"] == counts["encoder"] + counts["context"] + counts["decoder"]


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"optimizer": "sgd"}, "optimizer"),
        ({"scheduler": "cosine"}, "scheduler"),
        ({"lr": 0.0}, "lr"),
    ],
)
def test_bad_options_fail_at_construction(tokenized, changes, key):
    with pytest.raises(ConfigError, match=key):
        make_module("attention", tokenized[1], **changes)


class RecordBatches(L.Callback):
    def __init__(self) -> None:
        self.seen: dict[int, list[list[int]]] = {}

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.seen.setdefault(trainer.current_epoch, []).append(batch.index.tolist())


def test_each_epoch_sees_every_sentence_in_a_new_order(tokenized):
    """Lightning must reach the sampler's set_epoch: else every epoch repeats one order."""
    path, vocab = tokenized
    record = RecordBatches()
    fit = trainer(max_steps=-1, max_epochs=3, limit_val_batches=0, callbacks=[record])
    fit.fit(make_module("final_state", vocab), datamodule=datamodule(path))
    assert sorted(record.seen) == [0, 1, 2]
    for batches in record.seen.values():
        assert sorted(i for b in batches for i in b) == list(range(600))
    assert record.seen[0] != record.seen[1] != record.seen[2]


class RecordLr(L.Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_linear_schedule_warms_up_then_decays_to_zero(tokenized):
    path, vocab = tokenized
    record = RecordLr()
    module = make_module("final_state", vocab, scheduler="linear", warmup_steps=4, lr=0.01)
    trainer(max_steps=12, callbacks=[record], val_check_interval=None, limit_val_batches=0).fit(
        module, datamodule=datamodule(path)
    )
    expected = [0.01 * (s + 1) / 4 for s in range(4)] + [
        0.01 * (12 - s) / (12 - 4) for s in range(4, 12)
    ]
    assert record.lrs == pytest.approx(expected)


def test_linear_schedule_needs_more_steps_than_warmup(tokenized):
    path, vocab = tokenized
    module = make_module("final_state", vocab, scheduler="linear", warmup_steps=50)
    with pytest.raises(ConfigError, match=r"more steps than train.warmup_steps .* got 10 steps"):
        trainer(max_steps=10).fit(module, datamodule=datamodule(path))


OPTIM = {"optimizer": "adam", "weight_decay": 0.0, "label_smoothing": 0.0}
TRAIN = {"max_steps": 100, "max_epochs": None, "lr": 1e-3, "scheduler": "linear", "warmup_steps": 0}


@pytest.mark.parametrize(
    ("optim", "train", "message"),
    [
        ({}, {"max_steps": 1}, "got 1 steps .* and warmup_steps 0"),  # decays over 0 steps
        ({}, {"warmup_steps": 20, "max_steps": 20}, "got 20 steps .* and warmup_steps 20"),
        ({}, {"max_steps": -1}, r"got -1 \(no limit\) steps"),  # Lightning's default
        ({"schedular": "none"}, {}, "unknown key.*v.optim.schedular.*valid keys of v.optim"),
        ({"label_smoothing": None}, {}, "v.optim is missing label_smoothing"),
        ({"lr": 0.1}, {}, "unknown key.*v.optim.lr"),  # the schedule is train's alone
    ],
)
def test_optim_settings_are_checked_before_training(optim, train, message):
    optim = {k: v for k, v in {**OPTIM, **optim}.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        check_optim(optim, {**TRAIN, **train}, "v.optim")


@pytest.mark.parametrize(
    "train",
    [
        {"max_steps": 2},
        {"warmup_steps": 5, "max_steps": 6},
        {"scheduler": "none", "max_steps": -1},
        {"max_steps": None, "max_epochs": 1},  # checked when the batches per epoch are known
    ],
)
def test_schedules_that_can_run_pass_the_check(train):
    check_optim(OPTIM, {**TRAIN, **train}, "v.optim")


def test_a_schedule_error_names_the_train_group_it_came_from():
    """The schedule is `train`'s alone (one source of truth): check_optim names `train.*` in
    its errors and takes no other name for that group."""
    with pytest.raises(ConfigError, match=r"train\.max_steps"):
        check_optim(OPTIM, {**TRAIN, "warmup_steps": 20, "max_steps": 20}, "v.optim")
    assert list(inspect.signature(check_optim).parameters) == ["optim", "train", "key"]


@pytest.mark.parametrize("replicas", [1, 2])
def test_an_epoch_budget_is_that_many_times_each_process_batches_per_epoch(tokenized, replicas):
    """train.max_epochs: the steps (where the linear schedule ends) are epochs x the batches
    per epoch each process trains, counted here by iterating rank 0's sampler."""
    dm = datamodule(tokenized[0])
    dm.setup()
    sampler = dm.train_dataloader().batch_sampler
    sampler.num_replicas = replicas
    per_epoch = sum(1 for _ in sampler)
    train = {"max_steps": None, "max_epochs": 3}
    settings = {"accelerator": "cpu", "devices": replicas}
    if replicas > 1:
        settings["strategy"] = "ddp"
    assert training_steps(settings, train, dm.train_batches) == 3 * per_epoch
    assert training_steps(settings, {"max_steps": 7, "max_epochs": None}, dm.train_batches) == 7


class RecordPosition(L.Callback):
    def __init__(self) -> None:
        self.seen: list[tuple[dict, dict]] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        expected = {"epoch": trainer.current_epoch, "trained": batch_idx + 1}
        self.seen.append((trainer.datamodule.state_dict(), expected))


@pytest.mark.parametrize("workers", [0, 2])
def test_the_datamodule_state_counts_batches_trained_not_batches_fetched(tokenized, workers):
    """What a checkpoint stores as the sampler's position: the batches the trainer consumed in
    this epoch, though the loader fetches ahead (Lightning prefetches one batch; workers
    more)."""
    path, vocab = tokenized
    dm = TranslationDataModule(
        path, max_tokens=400, eval_max_tokens=800, num_workers=workers, seed=0, bucket_batches=10
    )
    record = RecordPosition()
    fit = trainer(max_steps=-1, max_epochs=2, limit_val_batches=0, callbacks=[record])
    fit.fit(make_module("final_state", vocab), datamodule=dm)
    assert len(record.seen) == fit.global_step > 2
    assert all(state == expected for state, expected in record.seen)


@pytest.mark.parametrize("max_words", [3, 6])
def test_a_training_regime_keeps_the_pairs_within_it_and_every_validation_pair(
    tokenized, max_words
):
    """A -30 variant trains on the tokenized data's pairs of at most 30 words on both sides,
    counted here from the raw text, in their order; validation is never filtered."""
    from nmt_bottleneck.data.corpus import load_corpus

    corpus = load_corpus(Path(tokenized[0]))
    expected = [
        i
        for i, (s, t) in enumerate(zip(corpus["train"]["src"], corpus["train"]["tgt"], strict=True))
        if len(s.split()) <= max_words and len(t.split()) <= max_words
    ]
    assert 0 < len(expected) < corpus["train"].num_rows  # the filter bites on this data
    sizes = {"max_tokens": 400, "eval_max_tokens": 800, "bucket_batches": 10}
    dm = TranslationDataModule(
        tokenized[0], **sizes, num_workers=0, seed=0, train_max_words=max_words
    )
    dm.setup()
    kept = dm.rows["train"].split
    assert kept["src_ids"] == [corpus["train"][i]["src_ids"] for i in expected]
    assert len(dm.rows["valid"]) == corpus["valid"].num_rows
    wide = TranslationDataModule(
        tokenized[0], **sizes, num_workers=0, seed=0, train_max_words=10**6
    )
    wide.setup()
    assert len(wide.rows["train"]) == corpus["train"].num_rows


def test_a_regime_no_training_pair_fits_names_the_fix(tokenized):
    dm = TranslationDataModule(
        tokenized[0], 400, 800, num_workers=0, seed=0, bucket_batches=10, train_max_words=0
    )
    with pytest.raises(
        DataError, match=r"no training pair has at most 0 words .* Fix: raise the variant's max_len"
    ):
        dm.setup()
