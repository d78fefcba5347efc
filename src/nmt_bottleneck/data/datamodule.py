"""The LightningDataModule over the tokenize stage's output (`data/tokenized`).

The training pairs are those of one training regime: at most `train_max_words` whitespace words
on both sides (the tokenize stage kept the widest regime's; a -30 variant keeps its subset).
Validation is never filtered.

Training batches come from `TokenBudgetSampler` (length-bucketed, seeded per epoch, sharded
over DDP ranks by the sampler itself: build the Trainer with `use_distributed_sampler=False`);
validation batches are length-sorted and fixed.

Resuming: the training sampler's position (epoch, batches trained on) is this DataModule's
`state_dict()`, which Lightning stores in every checkpoint and hands back to `load_state_dict()`
when a run resumes, before it asks for the training loader. Batches are counted as the trainer
consumes them (`on_after_batch_transfer`, in the main process), not as the loader fetches them,
so loader workers and Lightning's prefetching do not shift the count. Under DDP every rank
restores rank 0's position, the same for all: each trains as many batches of its own share.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import datasets
import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset

from nmt_bottleneck.data.batching import Batch, TokenBudgetSampler, check_batch_sizes, collate
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


def within_regime(split: datasets.Dataset, max_words: int | None, where: str) -> datasets.Dataset:
    """The pairs of `split` with at most `max_words` whitespace words on both sides (the
    tokenize stage's `src_words`/`tgt_words`); all of them for None. Row order is kept, so the
    widest regime's subset is the split itself and trains exactly as an unfiltered one."""
    if max_words is None:
        return split
    words = split.with_format("arrow").select_columns(["src_words", "tgt_words"])[:]
    longer = np.maximum(words["src_words"].to_numpy(), words["tgt_words"].to_numpy())
    keep = np.flatnonzero(longer <= max_words)
    if keep.size == 0:
        raise DataError(
            f"{where}: no training pair has at most {max_words} words on both sides. Fix: "
            "raise the variant's max_len (conf/model/)."
        )
    if keep.size == split.num_rows:
        return split
    return split.select(keep)


class TranslationDataModule(L.LightningDataModule):
    """Args: data_dir (the tokenize stage's DatasetDict), max_tokens per training batch,
    eval_max_tokens per validation batch, num_workers, seed, bucket_batches and max_sentences
    (training batches; see the sampler), train_max_words (the training regime: pairs with more
    words on either side are left out; None keeps every pair)."""

    def __init__(
        self,
        data_dir: str,
        max_tokens: int,
        eval_max_tokens: int,
        num_workers: int,
        seed: int,
        bucket_batches: int,
        max_sentences: int | None = None,
        train_max_words: int | None = None,
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
        self.train_max_words = train_max_words
        self.collate = partial(collate, pad_id=PAD_ID, bos_id=BOS_ID, eos_id=EOS_ID)
        self.rows: dict[str, Rows] = {}
        self.train_sampler: TokenBudgetSampler | None = None
        self.restored: dict[str, int] | None = None  # a checkpoint's sampler state, to apply

    def setup(self, stage: str | None = None) -> None:
        corpus = load_corpus(Path(self.data_dir))
        missing = {"train", "valid"} - set(corpus)
        if missing or "src_ids" not in corpus["train"].column_names:
            raise DataError(
                f"{self.data_dir}: needs encoded train and valid splits (has "
                f"{list(corpus)}). Fix: run `dvc repro tokenize`."
            )
        train = within_regime(corpus["train"], self.train_max_words, self.data_dir)
        self.rows = {"train": Rows(train), "valid": Rows(corpus["valid"])}

    def sampler(self, name: str, training: bool, replicas: int, rank: int) -> TokenBudgetSampler:
        """Training: shuffled token-budget batches, equal shares per rank. Evaluation: fixed
        order, every row."""
        return TokenBudgetSampler(
            self.rows[name].lengths(),
            self.max_tokens if training else self.eval_max_tokens,
            shuffle=training,
            seed=self.seed,
            bucket_batches=self.bucket_batches,
            num_replicas=replicas,
            rank=rank,
            equal_shares=training,
            max_sentences=self.max_sentences if training else None,
        )

    def loader(self, name: str, training: bool) -> DataLoader:
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        sampler = self.sampler(name, training, replicas, rank)
        return DataLoader(
            self.rows[name],
            batch_sampler=sampler,
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_batches(self, num_replicas: int) -> int:
        """Training batches per epoch of each of `num_replicas` processes (after setup): epoch
        0's count, every epoch's length (TokenBudgetSampler.__len__)."""
        return len(self.sampler("train", True, num_replicas, 0))

    def train_dataloader(self) -> DataLoader:
        loader = self.loader("train", training=True)
        self.train_sampler = loader.batch_sampler
        if self.restored is not None:
            self.train_sampler.load_state_dict(self.restored)
            self.restored = None
        return loader

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        """Count a training batch as trained on (the module docstring says why here)."""
        if self.trainer is not None and self.trainer.training and self.train_sampler is not None:
            self.train_sampler.advance()
        return batch

    def state_dict(self) -> dict[str, int]:
        """The training sampler's position; a checkpoint holds it."""
        if self.train_sampler is not None:
            return self.train_sampler.state_dict()
        return dict(self.restored or {})

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Continue from a checkpoint's position once the training loader is made."""
        self.restored = dict(state_dict) if state_dict else None

    def val_dataloader(self) -> DataLoader:
        return self.loader("valid", training=False)
