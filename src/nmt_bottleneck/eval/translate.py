"""Translate raw sentences with a trained variant: encode with the tokenizer, batch sentences of
similar length, search, detokenize. The evaluate stage, the `translate` command and the Hydra
sweep all call `translate`, so a hypothesis is made the same way everywhere.

A variant is loaded from what the train stage wrote to `models/<variant>/`: `config.yaml` (the
arch and the derived sizes) and `model.pt` (a plain state dict, read with `weights_only=True`,
so an untrusted file runs no code).

A context module may accept sources of at most L tokens (its `max_src_len`; concat_states' L,
from the training data); a longer test source is cut to L tokens (its last token replaced by
EOS) and counted as truncated, since that model cannot see further. A module whose
`max_src_len` is None (final_state, attention) reads every source whole.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from tqdm.auto import tqdm

from nmt_bottleneck.config import check_keys
from nmt_bottleneck.data.tokenizer import EOS_ID, PAD_ID, Tokenizers
from nmt_bottleneck.errors import ConfigError, DataError
from nmt_bottleneck.models.build import build_seq2seq
from nmt_bottleneck.models.search import Hypotheses, beam_search, greedy
from nmt_bottleneck.models.seq2seq import Seq2Seq

log = logging.getLogger(__name__)

SEARCHES = ("greedy", "beam")
DECODE_KEYS = ("search", "beam_size", "length_penalty", "max_len_ratio", "max_tokens")


class DecodeSettings(NamedTuple):
    search: Literal["greedy", "beam"]
    beam_size: int  # used by beam search only
    length_penalty: float  # alpha: hypotheses ranked by log p / steps ** alpha (beam only)
    max_len_ratio: float  # output steps <= floor(ratio * source tokens) + 10
    max_tokens: int  # padded source tokens per decoding batch

    @classmethod
    def from_config(cls, node: DictConfig | dict, key: str = "eval.decode") -> DecodeSettings:
        node = node if isinstance(node, DictConfig) else OmegaConf.create(node)
        check_keys(node, DECODE_KEYS, key)
        if node.search not in SEARCHES:
            raise ConfigError(f"{key}.search = {node.search!r}; valid: {', '.join(SEARCHES)}.")
        if node.max_tokens <= 0:
            raise ConfigError(f"{key}.max_tokens must be > 0, got {node.max_tokens}.")
        return cls(**{k: node[k] for k in DECODE_KEYS})


class Translations(NamedTuple):
    hyps: list[str]  # detokenized, one per input sentence, in input order
    tokens: list[list[int]]  # target subword ids, no BOS/EOS
    attention: dict[int, Tensor]  # input index -> [T_out, S_real] weights (attention only)
    truncated: int  # sources cut to the context module's max_src_len


def load_model(model_dir: Path, device: torch.device | str = "cpu") -> tuple[Seq2Seq, dict]:
    """The variant the train stage wrote, in eval mode on `device` (eval/device.py chooses it),
    and its config."""
    model_dir = Path(model_dir)
    config_path, weights = model_dir / "config.yaml", model_dir / "model.pt"
    if not config_path.is_file() or not weights.is_file():
        trained = sorted(str(p.parent) for p in model_dir.parent.glob("*/model.pt"))
        raise DataError(
            f"{model_dir}: no trained model (config.yaml and model.pt); trained models beside "
            f"it: {', '.join(trained) or 'none'}. Fix: give one of those, or train this one: "
            f"`dvc repro train@{model_dir.parent.name}-{model_dir.name}`."
        )
    config = OmegaConf.load(config_path)
    d = config.derived
    model = build_seq2seq(
        config.arch, d.src_vocab, d.tgt_vocab, f"{model_dir}/config.yaml: arch", d.max_src_len
    )
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.to(device).eval(), OmegaConf.to_container(config)


def encode_sources(
    sentences: list[str], tokenizers: Tokenizers, limit: int | None
) -> tuple[list[list[int]], int]:
    """Subword ids + EOS per sentence (as in training), cut to `limit` tokens when given."""
    ids = [[*s, EOS_ID] for s in tokenizers.src.encode(sentences)]
    if limit is None:
        return ids, 0
    cut = [[*s[: limit - 1], EOS_ID] if len(s) > limit else s for s in ids]
    return cut, sum(len(s) > limit for s in ids)


def length_batches(lengths: list[int], max_tokens: int) -> list[list[int]]:
    """Indices sorted by length (longest first), packed so batch size x longest <= max_tokens."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= max_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def translate(
    model: Seq2Seq,
    tokenizers: Tokenizers,
    sentences: list[str],
    settings: DecodeSettings,
    keep_attention: set[int] = frozenset(),
    progress: str | None = "translating",
) -> Translations:
    """Translate `sentences` (raw text) on the device `model` is on; attention weights (on the
    CPU) are kept for `keep_attention`."""
    limit = model.context.max_src_len
    device = next(model.parameters()).device
    ids, truncated = encode_sources(sentences, tokenizers, limit)
    if truncated:
        log.warning(
            "%d sources longer than the model's max_src_len = %d tokens cut", truncated, limit
        )
    tokens: list[list[int]] = [[] for _ in sentences]
    attention: dict[int, Tensor] = {}
    bar = tqdm(total=len(sentences), desc=progress, unit="sent", disable=progress is None)
    for batch in length_batches([len(s) for s in ids], settings.max_tokens):
        src = torch.full((len(batch), len(ids[batch[0]])), PAD_ID, dtype=torch.long)  # [B, S]
        for row, i in enumerate(batch):
            src[row, : len(ids[i])] = torch.tensor(ids[i])
        src_lens = torch.tensor([len(ids[i]) for i in batch])  # [B]
        rows = [row for row, i in enumerate(batch) if i in keep_attention]
        out = search(model, src.to(device), src_lens.to(device), settings, rows)
        for row, i in enumerate(batch):
            tokens[i] = out.tokens[row]
            if i in keep_attention and out.attention is not None:
                attention[i] = out.attention[row]
        bar.update(len(batch))
    bar.close()
    hyps = [tokenizers.tgt.decode(t) for t in tokens]
    return Translations(hyps, tokens, attention, truncated)


def search(
    model: Seq2Seq,
    src: Tensor,
    src_lens: Tensor,
    settings: DecodeSettings,
    keep_attention: list[int],
) -> Hypotheses:
    """One batch by the configured search; attention weights for the rows `keep_attention`."""
    if settings.search == "greedy":
        return greedy(model, src, src_lens, settings.max_len_ratio, keep_attention=keep_attention)
    return beam_search(
        model,
        src,
        src_lens,
        settings.beam_size,
        settings.length_penalty,
        settings.max_len_ratio,
        keep_attention=keep_attention,
    )
