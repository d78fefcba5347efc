"""The variants of the real configuration, built as the train stage builds them, for the model,
search and translate tests: the project's curves (conf/config.yaml's `curves`, not the smaller
set experiment=smoke trains) at the smoke sizes, one variant per distinct model (a -30 regime
trains the same `arch` as its -50 sibling), each `arch` given to `build_seq2seq` (the production
wiring), with the vocabulary and the maximum source length that the train stage derives from
the data set here.

The variant ids come from the configuration, and the tests ask a model's context module what it
is (its contract: `static`, `max_src_len`), never which variant it is, so a variant added in
conf/ is tested without a change here."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from nmt_bottleneck.models.build import build_seq2seq
from nmt_bottleneck.models.seq2seq import Seq2Seq

ROOT = Path(__file__).resolve().parents[2]
V = 23  # vocabulary (both sides); small enough to enumerate two-token outputs
MAX_SRC = 14  # the longest source, in tokens, as the train stage derives it from the data
PAD, BOS, EOS = PAD_ID, BOS_ID, EOS_ID
CELLS = ["gru", "lstm"]


@functools.cache
def composed() -> DictConfig:
    """conf/ composed with experiment=smoke and the curves conf/config.yaml chooses (smoke's own
    leave out concat_states); Hydra's global state is restored on exit."""
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        curves = compose(config_name="config", return_hydra_config=True).hydra.runtime.choices
        overrides = ["experiment=smoke", f"curves={curves.curves}"]
        return compose(config_name="config", overrides=overrides)


def distinct_models(variants: DictConfig) -> Iterator[str]:
    """The first variant of each distinct `arch`, in configuration order."""
    seen: list[dict] = []
    for variant, spec in variants.items():
        arch = OmegaConf.to_container(spec.arch, resolve=True)
        if arch not in seen:
            seen.append(arch)
            yield variant


VARIANTS = list(distinct_models(composed().variants))


def make_model(
    variant: str,
    cell: str = "gru",
    bidirectional: bool = True,
    layers: int = 1,
    maxout: bool = True,
    vocab: int = V,
    init: str | None = None,
    max_src_len: int = MAX_SRC,
    **arch_changes: object,
) -> Seq2Seq:
    """`variant`'s model by build_seq2seq from its composed `arch` (smoke sizes), with the
    given settings changed (`init` None: the configured one; `arch_changes`: any other key).
    In training mode, as built."""
    arch = OmegaConf.to_container(composed().variants[variant].arch, resolve=True)
    arch.update(cell=cell, bidirectional=bidirectional, maxout=maxout, **arch_changes)
    arch.update(encoder_layers=layers, decoder_layers=layers)
    if init is not None:
        arch["init"] = init
    return build_seq2seq(arch, vocab, vocab, f"variants.{variant}.arch", max_src_len)


@functools.cache
def kinds() -> dict[str, tuple[bool, int | None]]:
    """variant -> (static, max_src_len), asked of each built model's context module."""
    contexts = {v: make_model(v).context for v in VARIANTS}
    return {v: (c.static, c.max_src_len) for v, c in contexts.items()}


ALIGNING = [v for v in VARIANTS if not kinds()[v][0]]  # give attention weights
BOUNDED = [v for v in VARIANTS if kinds()[v][1] is not None]  # accept at most L source tokens


def model_for(
    variant: str, cell: str = "gru", bias: dict[int, float] | None = None, vocab: int = V
) -> Seq2Seq:
    """A seeded random model for search tests, in eval mode, its weights scaled up so that its
    outputs depend on the source and change from step to step (at initialization they hardly
    do); `bias` adds to the output bias of some tokens. PyTorch's layer defaults
    (`init=pytorch`), scaled: the embeddings' N(0, 1) makes peaked, source-dependent outputs;
    the uniform 0.1 draw, even scaled, gives every sentence the same length and the searches
    nothing to tell apart."""
    torch.manual_seed(0)
    model = make_model(variant, cell, vocab=vocab, init="pytorch").eval()
    with torch.no_grad():
        for p in model.parameters():
            p *= 3.0
        for token, value in (bias or {}).items():
            model.decoder.out.bias[token] += value
    return model
