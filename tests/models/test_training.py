"""The LightningModule and DataModule under the real Lightning Trainer, on data made by the
pipeline's own code (synthetic source -> word counts -> SentencePiece -> encode)."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from nmt_bottleneck.data.datamodule import TranslationDataModule
from nmt_bottleneck.data.tokenizer import PAD_ID
from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.models.context import BahdanauAttention, ConcatStates, FinalState
from nmt_bottleneck.models.decoder import Decoder
from nmt_bottleneck.models.encoder import Encoder
from nmt_bottleneck.models.lightning_module import (
    Seq2SeqModule,
    TrainingDivergedError,
    check_optim,
)
from nmt_bottleneck.models.seq2seq import Seq2Seq


def make_module(variant: str, vocab: int, **changes) -> Seq2SeqModule:
    encoder = Encoder(vocab, 32, 32, "gru", True, 1, 0.1, PAD_ID)
    context = {
        "final_state": lambda: FinalState(64, 32),
        "concat_states": lambda: ConcatStates(64, 32, 40),
        "attention": lambda: BahdanauAttention(64, 32, 32),
    }[variant]()
    decoder = Decoder(
        vocab, 32, 32, "gru", 1, context.size, context.summary_size, 32, True, False, 0.1, PAD_ID
    )
    args = dict(
        optimizer="adam",
        lr=3e-3,
        weight_decay=0.0,
        scheduler="none",
        warmup_steps=0,
        label_smoothing=0.1,
        pad_id=PAD_ID,
    )
    return Seq2SeqModule(Seq2Seq(encoder, context, decoder), **{**args, **changes})


def trainer(**changes) -> L.Trainer:
    args = dict(
        accelerator="cpu",
        devices=1,
        max_steps=40,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        val_check_interval=20,
        check_val_every_n_epoch=None,
        gradient_clip_val=1.0,
        deterministic=True,
    )
    return L.Trainer(**{**args, **changes})


def datamodule(path: str) -> TranslationDataModule:
    return TranslationDataModule(
        path, max_tokens=400, eval_max_tokens=800, num_workers=0, seed=0, bucket_batches=10
    )


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
def test_training_lowers_the_validation_loss(tokenized, variant):
    path, vocab = tokenized
    L.seed_everything(0, verbose=False)
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
def test_bf16_mixed_precision_trains(tokenized, variant):
    """trainer=gpu's precision, bf16-mixed, here under the CPU's autocast (no GPU in CI): the
    model runs in bfloat16 where autocast puts it, the loss stays finite and falls, and the
    weights stay float32."""
    path, vocab = tokenized
    L.seed_everything(0, verbose=False)
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
    with pytest.raises(ConfigError, match=r"max_steps > optim.warmup_steps .* got max_steps 10"):
        trainer(max_steps=10).fit(module, datamodule=datamodule(path))


OPTIM = {
    "optimizer": "adam",
    "lr": 1e-3,
    "weight_decay": 0.0,
    "scheduler": "linear",
    "warmup_steps": 0,
    "label_smoothing": 0.0,
}


@pytest.mark.parametrize(
    ("changes", "max_steps", "message"),
    [
        ({}, 1, "got max_steps 1 and warmup_steps 0"),  # decays over max_steps - 1 = 0 steps
        ({"warmup_steps": 20}, 20, "got max_steps 20 and warmup_steps 20"),
        ({}, -1, r"got max_steps -1 \(no limit\)"),  # Lightning's default
        ({"schedular": "none"}, 100, "unknown key.*v.optim.schedular.*valid keys of v.optim"),
        ({"warmup_steps": None}, 100, "v.optim is missing warmup_steps"),
    ],
)
def test_optim_settings_are_checked_before_training(changes, max_steps, message):
    optim = {k: v for k, v in {**OPTIM, **changes}.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        check_optim(optim, max_steps, "v.optim")


@pytest.mark.parametrize(
    ("changes", "max_steps"), [({}, 2), ({"warmup_steps": 5}, 6), ({"scheduler": "none"}, -1)]
)
def test_schedules_that_can_run_pass_the_check(changes, max_steps):
    check_optim({**OPTIM, **changes}, max_steps, "v.optim")
