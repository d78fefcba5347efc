"""The LightningDataModule over the tokenize stage's output (`data/tokenized`).

Training batches come from `TokenBudgetSampler` (length-bucketed, seeded per epoch, sharded
over DDP ranks by the sampler itself: build the Trainer with `use_distributed_sampler=False`);
validation batches are length-sorted and fixed.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import datasets
import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset

from nmt_bottleneck.data.batching import TokenBudgetSampler, check_batch_sizes, collate
from nmt_bottleneck.data.corpus import load_corpus
from nmt_bottleneck.data.encode import token_counts
from nmt_bottleneck.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from nmt_bottleneck.errors import ConfigError, DataError


class Rows(Dataset):
    """A split's `src_ids` and `tgt_ids`, with each row's index, as plain lists."""

    def __init__(self, split: datasets.Dataset) -> None:
        self.split = split.select_columns(["src_ids", "tgt_ids"]).with_format("python")
        self.src_tokens = token_counts(split, "src_ids")  # [rows], no specials
        self.tgt_tokens = token_counts(split, "tgt_ids")

    def __len__(self) -> int:
        return self.split.num_rows

    def __getitem__(self, index: int) -> dict:
        return {**self.split[index], "index": index}

    def longest_source(self) -> int:
        """The longest source in tokens, EOS included (concat_states pads to this)."""
        return int(self.src_tokens.max()) + 1

    def lengths(self) -> list[int]:
        """Per row, the longer side in tokens with its special token (EOS or BOS) added."""
        return (np.maximum(self.src_tokens, self.tgt_tokens) + 1).tolist()


class TranslationDataModule(L.LightningDataModule):
    """Args: data_dir (the tokenize stage's DatasetDict), max_tokens per training batch,
    eval_max_tokens per validation batch, num_workers, seed, bucket_batches and max_sentences
    (training batches; see the sampler)."""

    def __init__(
        self,
        data_dir: str,
        max_tokens: int,
        eval_max_tokens: int,
        num_workers: int,
        seed: int,
        bucket_batches: int,
        max_sentences: int | None = None,
    ) -> None:
        super().__init__()
        if num_workers < 0:
            raise ConfigError(f"data loading num_workers = {num_workers}; it must be >= 0.")
        check_batch_sizes(
            "train",
            "Fix: conf/experiment/ (or `-S train.{key}=...`), then recompose params.yaml "
            "(`make params`).",
            max_tokens=max_tokens,
            eval_max_tokens=eval_max_tokens,
            bucket_batches=bucket_batches,
            max_sentences=max_sentences,
        )
        self.data_dir, self.max_tokens, self.eval_max_tokens = data_dir, max_tokens, eval_max_tokens
        self.num_workers, self.seed, self.bucket_batches = num_workers, seed, bucket_batches
        self.max_sentences = max_sentences
        self.collate = partial(collate, pad_id=PAD_ID, bos_id=BOS_ID, eos_id=EOS_ID)
        self.rows: dict[str, Rows] = {}

    def setup(self, stage: str | None = None) -> None:
        corpus = load_corpus(Path(self.data_dir))
        missing = {"train", "valid"} - set(corpus)
        if missing or "src_ids" not in corpus["train"].column_names:
            raise DataError(
                f"{self.data_dir}: needs encoded train and valid splits (has "
                f"{list(corpus)}). Fix: run `dvc repro tokenize`."
            )
        self.rows = {name: Rows(corpus[name]) for name in ("train", "valid")}

    def loader(self, name: str, training: bool) -> DataLoader:
        """Training: shuffled token-budget batches, equal shares per rank; a run resumed
        mid-epoch (Lightning asks for the loader after restoring the checkpoint) continues that
        epoch's order after the batches it had completed. Evaluation: fixed order, every row."""
        trainer = self.trainer
        sampler = TokenBudgetSampler(
            self.rows[name].lengths(),
            self.max_tokens if training else self.eval_max_tokens,
            shuffle=training,
            seed=self.seed,
            bucket_batches=self.bucket_batches,
            num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
            equal_shares=training,
            max_sentences=self.max_sentences if training else None,
        )
        if training and trainer is not None and trainer.fit_loop.restarting:
            done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
            sampler.resume(trainer.current_epoch, done)
        return DataLoader(
            self.rows[name],
            batch_sampler=sampler,
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", training=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("valid", training=False)
