"""Build a variant's Seq2Seq from its config (`variants.<id>` in params.yaml).

Sizes that follow from other sizes are filled in here, not in the config: the vocabulary (from
the trained tokenizer), the encoder's state size D = hidden_size x directions (the context module's
input), the attention query size (decoder_hidden_size), the longest source (max_src_len, the
L of a context module that takes one), and the context module's output and summary sizes (the
decoder's inputs). Only `context` differs between variants; it is built from its `_target_`,
a `ContextModule` (models/context.py), with the derived sizes that its constructor takes.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.config import build, check_keys
from nmt_bottleneck.data.tokenizer import PAD_ID
from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.models.context import ContextModule
from nmt_bottleneck.models.decoder import Decoder
from nmt_bottleneck.models.encoder import Encoder
from nmt_bottleneck.models.initialization import initialize
from nmt_bottleneck.models.seq2seq import Seq2Seq

ARCH_KEYS = (
    "cell",
    "emb_size",
    "hidden_size",
    "decoder_hidden_size",
    "bidirectional",
    "encoder_layers",
    "decoder_layers",
    "dropout",
    "output_size",
    "maxout",
    "tie_embeddings",
    "init",
    "init_range",
    "context",
)


def build_seq2seq(
    arch: DictConfig | dict[str, Any], src_vocab: int, tgt_vocab: int, key: str, max_src_len: int
) -> Seq2Seq:
    """`arch`: the variant's `arch` section; `key`: its dotted path, for error messages;
    `max_src_len`: the longest train/valid source in tokens (EOS included), passed to a context
    module that takes it (concat_states' L)."""
    arch = arch if isinstance(arch, DictConfig) else OmegaConf.create(arch)
    check_keys(arch, ARCH_KEYS, key)
    encoder = Encoder(
        src_vocab,
        arch.emb_size,
        arch.hidden_size,
        arch.cell,
        arch.bidirectional,
        arch.encoder_layers,
        arch.dropout,
        PAD_ID,
    )
    derived = {
        "encoder_size": encoder.out_size,
        "query_size": arch.decoder_hidden_size,
        "max_src_len": max_src_len,
    }
    context = build(arch.context, f"{key}.context", derived)
    if not isinstance(context, ContextModule):
        raise ConfigError(
            f"{key}.context._target_ = {arch.context._target_!r} is not a context module. Fix: "
            "name a subclass of nmt_bottleneck.models.context.ContextModule."
        )
    decoder = Decoder(
        tgt_vocab,
        arch.emb_size,
        arch.decoder_hidden_size,
        arch.cell,
        arch.decoder_layers,
        context.size,
        context.summary_size,
        arch.output_size,
        arch.maxout,
        arch.tie_embeddings,
        arch.dropout,
        PAD_ID,
    )
    model = Seq2Seq(encoder, context, decoder)
    # a model saved before `init` existed was built with PyTorch's defaults (its weights are
    # loaded over these anyway)
    initialize(model, arch.get("init", "pytorch"), arch.get("init_range", 0.1), key)
    return model
