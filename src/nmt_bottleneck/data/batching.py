"""Batches by token budget with length bucketing: little padding, seeded order, DDP shards.

Sentences of similar length go together, so a batch holds about `max_tokens` real tokens and
little padding. The sampler is a batch sampler: Lightning must not wrap it in its own
DistributedSampler (Trainer `use_distributed_sampler=False`); it shards batches across ranks
itself, and `set_epoch` reshuffles deterministically from (seed, epoch).

A resumable run: the sampler's `state_dict()` is the epoch and how many of its batches were
trained on (`advance()` counts them as the trainer consumes them, not as the loader fetches
them: a loader fetches ahead), and `load_state_dict()` continues that epoch after them.

An epoch's length is fixed: epoch 0's batch count `n` (this rank's share), for every epoch.
Each epoch's plan has its own count (bucketing packs different rows together), but Lightning
reads `len()` once, when the fit starts, and ends an epoch after that many batches. So `len()`
is `n` whichever epoch is loaded, and an epoch serves at most `n` batches of its plan (a plan
with fewer ends early). A run resumed in a later epoch then trains exactly what the
uninterrupted run does, which never sees past `n` either.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from nmt_bottleneck.errors import ConfigError


class Batch(NamedTuple):
    src: Tensor  # [B, S] source ids + EOS, padded
    src_lens: Tensor  # [B]
    tgt_in: Tensor  # [B, T] BOS + target ids, padded
    tgt_out: Tensor  # [B, T] target ids + EOS, padded
    index: Tensor  # [B] row numbers in the split, to trace a batch back to its sentences


def check_batch_sizes(where: str, fix: str = "", **sizes: int | None) -> None:
    """Raise ConfigError naming `<where>.<key>` and the fix (`{key}` in it is the key) for the
    first size that is not a positive int; max_sentences may also be None (no limit)."""
    for key, value in sizes.items():
        nullable = key == "max_sentences"
        if value is None and nullable:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(
                f"{where}.{key} = {value!r}: it must be a positive integer"
                f"{' or null' if nullable else ''}. {fix.format(key=key)}".rstrip()
            )


def collate(examples: Sequence[dict], pad_id: int, bos_id: int, eos_id: int) -> Batch:
    """Examples with `src_ids`, `tgt_ids` (no specials) and `index` -> a padded Batch."""
    src = [torch.tensor([*e["src_ids"], eos_id]) for e in examples]
    tgt_in = [torch.tensor([bos_id, *e["tgt_ids"]]) for e in examples]
    tgt_out = [torch.tensor([*e["tgt_ids"], eos_id]) for e in examples]

    def pad(seqs: list[Tensor]) -> Tensor:
        return torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=pad_id)

    return Batch(
        pad(src),
        torch.tensor([len(s) for s in src]),
        pad(tgt_in),
        pad(tgt_out),
        torch.tensor([e["index"] for e in examples]),
    )


class TokenBudgetSampler:
    """Yields lists of row indices: batches whose padded size (rows x longest sentence, source
    or target, specials included) stays within `max_tokens`, and whose row count stays within
    `max_sentences` when that is given.

    Args:
        lengths: per row, the longer side's length in tokens (specials included).
        max_tokens: padded tokens per batch; a single longer sentence forms its own batch.
        shuffle: shuffle within buckets and the batch order (training); else sorted, fixed.
        seed: with the epoch (`set_epoch`), fixes the order.
        bucket_batches: how many batches' worth of rows are sorted together (locality vs mix).
        num_replicas, rank: DDP sharding.
        equal_shares: training: batch i goes to rank i % num_replicas, and the last batches are
            dropped so every rank gets as many (each step is a collective). Evaluation (False):
            the rows are shared out first and each rank batches its own, so every sentence is
            seen once and every rank gets batches even from a small set.
        max_sentences: at most this many rows per batch (None: no limit). Batches counted in
            sentences, as in the reference configuration: 64 here and a `max_tokens` too
            large to bind.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        max_tokens: int,
        shuffle: bool,
        seed: int,
        bucket_batches: int = 100,
        num_replicas: int = 1,
        rank: int = 0,
        equal_shares: bool = True,
        max_sentences: int | None = None,
    ) -> None:
        check_batch_sizes(
            "batching",
            max_tokens=max_tokens,
            bucket_batches=bucket_batches,
            max_sentences=max_sentences,
        )
        if not 0 <= rank < num_replicas:
            raise ConfigError(f"rank {rank} is outside 0..{num_replicas - 1}.")
        self.lengths, self.max_tokens, self.shuffle = list(lengths), max_tokens, shuffle
        self.max_sentences = max_sentences
        self.seed, self.bucket_batches, self.epoch = seed, bucket_batches, 0
        self.num_replicas, self.rank, self.equal_shares = num_replicas, rank, equal_shares
        self._planned: tuple[int, list[list[int]]] | None = None  # (epoch, its batches)
        self._length: int | None = None  # epoch 0's batch count (this rank's): every epoch's
        self.trained = 0  # batches of the current epoch trained on (this rank's)

    @property
    def sampler(self) -> TokenBudgetSampler:
        """Lightning calls `set_epoch` on `batch_sampler.sampler` (torch's BatchSampler layout)
        at each epoch start, not on the batch sampler itself: point it here."""
        return self

    def set_epoch(self, epoch: int) -> None:
        """Start epoch `epoch`; the same epoch again (a resumed one) keeps its position."""
        if epoch != self.epoch:
            self.epoch, self.trained = epoch, 0

    def advance(self) -> None:
        """One more batch of the current epoch was trained on."""
        self.trained += 1

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "trained": self.trained}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue epoch `state["epoch"]` after its first `state["trained"]` batches."""
        self.epoch, self.trained = int(state["epoch"]), int(state["trained"])

    def batches(self) -> list[list[int]]:
        """The epoch's batches in serving order (for evaluation shards: of this rank's rows)."""
        if self._planned is None or self._planned[0] != self.epoch:
            self._planned = (self.epoch, self.plan(self.epoch))
        return self._planned[1]

    def plan(self, epoch: int) -> list[list[int]]:
        """Epoch `epoch`'s batches, all ranks' (for evaluation shards: this rank's rows)."""
        rng = random.Random(f"{self.seed}/{epoch}")
        order = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(order)
        if not self.equal_shares:
            order = order[self.rank :: self.num_replicas]
        mean = max(1, sum(self.lengths) // max(1, len(self.lengths)))
        rows = self.bucket_batches * self.max_tokens // mean  # bucket_batches batches' worth
        if self.max_sentences is not None:
            rows = min(rows, self.bucket_batches * self.max_sentences)
        bucket = max(1, rows)
        batches: list[list[int]] = []
        for start in range(0, len(order), bucket):
            chunk = sorted(order[start : start + bucket], key=self.lengths.__getitem__)
            batches += self.pack(chunk)
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def pack(self, rows: list[int]) -> list[list[int]]:
        """Greedily cut length-sorted rows into batches within the token (and row) budget."""
        batches, current, longest = [], [], 0
        for row in rows:
            longest_if_added = max(longest, self.lengths[row])
            full = self.max_sentences is not None and len(current) >= self.max_sentences
            if current and (full or longest_if_added * (len(current) + 1) > self.max_tokens):
                batches.append(current)
                current, longest_if_added = [], self.lengths[row]
            current.append(row)
            longest = longest_if_added
        return [*batches, current] if current else batches

    def mine(self) -> list[list[int]]:
        """This rank's batches of the current epoch's plan (all of them; `__iter__` serves at
        most `len(self)`)."""
        return self.share(self.batches())

    def share(self, batches: list[list[int]]) -> list[list[int]]:
        """This rank's batches of a plan."""
        if not self.equal_shares:
            return batches  # already this rank's rows only
        return batches[self.rank :: self.num_replicas][: len(batches) // self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        """The current epoch's batches after the `trained` ones, up to `len(self)` in all."""
        yield from self.mine()[self.trained : len(self)]

    def __len__(self) -> int:
        """Batches per epoch, every epoch: epoch 0's count (the module docstring says why)."""
        if self._length is None:
            first = self.batches() if self.epoch == 0 else self.plan(0)
            self._length = len(self.share(first))
        return self._length
