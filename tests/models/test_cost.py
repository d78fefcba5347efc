"""The report's growth table: a context module's parameters at another L, counted by building
the variant's module through the production wiring on the meta device, equal those of a model
really built at that L; a module whose parameters do not depend on L has no growth."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from nmt_bottleneck.models.build import build_seq2seq
from nmt_bottleneck.models.cost import GROWTH_L, context_growth
from tests.helpers import ROOT

VOCAB = 50


@pytest.fixture(scope="module")
def variants():
    """The committed variants at small sizes (every size 8)."""
    params = OmegaConf.load(ROOT / "params.yaml")
    for spec in params.variants.values():
        for key in ("emb_size", "hidden_size", "decoder_hidden_size", "output_size"):
            spec.arch[key] = 8
        for key in ("context_size", "attention_size"):
            if key in spec.arch.context:
                spec.arch.context[key] = 8
    return params.variants


def real_count(arch, length: int) -> int:
    """Context parameters of a model really built (CPU, with weights) for sources of `length`."""
    context = build_seq2seq(arch, VOCAB, VOCAB, "arch", length).context
    return sum(p.numel() for p in context.parameters())


def test_growth_is_counted_as_a_real_build_at_each_l(variants):
    derived = {"src_vocab": VOCAB, "tgt_vocab": VOCAB, "max_src_len": 7}
    grows = 0
    for v, spec in variants.items():
        growth = context_growth(v, spec.arch, derived)
        if real_count(spec.arch, 7) == real_count(spec.arch, 70):
            assert growth is None, v
            continue
        grows += 1
        assert (growth.variant, growth.trained_l) == (v, 7)
        assert [n for n, _ in growth.rows] == sorted({7, *GROWTH_L})
        assert growth.rows == [(n, real_count(spec.arch, n)) for n, _ in growth.rows]
    assert grows >= 1  # the committed config holds a module built for a bounded L
