"""What a variant's context module costs as the longest source it accepts grows: its parameter
count at several maximum source lengths L, for the report's growth table and figure.

The module is built from the variant's config through the production wiring (`build_seq2seq`,
which builds the context from its `_target_` with the derived sizes) with another L, on
PyTorch's `meta` device: parameters have shapes but no memory, so a paper-sized concat_states
at L = 120 (hundreds of millions of weights) costs nothing to count. Whether a module is built
for a bounded L is the context contract's `max_src_len` (an int, or None: any length).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import torch
from omegaconf import DictConfig
from torch import nn

from nmt_bottleneck.models.build import build_seq2seq

GROWTH_L = (10, 30, 50, 80, 120)  # L shown besides the trained one


class Growth(NamedTuple):
    """A bounded context module's parameters at several L, and the L it was trained with."""

    variant: str
    trained_l: int
    rows: list[tuple[int, int]]  # (L, context parameters), ascending L


def context_at(arch: DictConfig, derived: dict[str, Any], key: str, length: int) -> nn.Module:
    """The variant's context module built for sources of at most `length` tokens (meta device);
    `derived`: the train stage's derived sizes (`src_vocab`, `tgt_vocab`)."""
    with torch.device("meta"):
        model = build_seq2seq(arch, derived["src_vocab"], derived["tgt_vocab"], key, length)
    return model.context


def parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def context_growth(
    variant: str,
    arch: DictConfig,
    derived: dict[str, Any],
    lengths: Iterable[int] = GROWTH_L,
) -> Growth | None:
    """The context parameters of `variant` (its `arch` and the train stage's `derived` sizes,
    with `max_src_len`: the trained L) at each of `lengths` and at the trained L; None for a
    module that accepts any length (its parameters do not depend on L)."""
    key = f"variants.{variant}.arch"
    trained = derived["max_src_len"]
    if context_at(arch, derived, key, trained).max_src_len is None:
        return None
    rows = [(n, parameters(context_at(arch, derived, key, n))) for n in sorted({*lengths, trained})]
    return Growth(variant, trained, rows)
