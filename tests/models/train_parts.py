"""Helpers for tests of the LightningModule and DataModule under the real Trainer (and for
ddp_run.py): a small module per variant, a quiet CPU Trainer, the DataModule."""

from __future__ import annotations

import lightning as L

from nmt_bottleneck.data.datamodule import TranslationDataModule
from nmt_bottleneck.data.tokenizer import PAD_ID
from nmt_bottleneck.models.context import BahdanauAttention, ConcatStates, FinalState
from nmt_bottleneck.models.decoder import Decoder
from nmt_bottleneck.models.encoder import Encoder
from nmt_bottleneck.models.lightning_module import Seq2SeqModule
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
