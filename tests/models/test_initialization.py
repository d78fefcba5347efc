"""arch.init: `uniform` draws every parameter from U(-r, r) with the padding embeddings at zero;
`pytorch` keeps each layer's default; bad settings name the key. Models are built by
build_seq2seq from the variants of conf/ (tests/models/variants.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.models.initialization import initialize
from tests.models.variants import PAD, VARIANTS, make_model


@pytest.mark.parametrize("variant", VARIANTS)
def test_uniform_draws_every_parameter_within_the_range(variant):
    torch.manual_seed(0)
    model = make_model(variant, init="pytorch")
    initialize(model, "uniform", 0.05, "variants.x.arch")
    values = torch.cat([p.detach().flatten() for p in model.parameters()])
    pads = [m.weight[PAD] for m in model.modules() if isinstance(m, nn.Embedding)]
    assert len(pads) == 2 and all(bool((row == 0).all()) for row in pads)
    assert float(values.abs().max()) <= 0.05
    # U(-r, r): mean 0, standard deviation r / sqrt(3); the few zero pad rows barely move it
    assert abs(float(values.mean())) < 0.05 * 5 / math.sqrt(values.numel())
    assert float(values.std()) == pytest.approx(0.05 / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize("variant", VARIANTS)
def test_pytorch_keeps_each_layers_default(variant):
    torch.manual_seed(0)
    model = make_model(variant, init="pytorch")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    initialize(model, "pytorch", 0.1, "variants.x.arch")
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    embedding = model.encoder.embed.weight[PAD + 1 :].detach()
    assert float(embedding.std()) == pytest.approx(1.0, rel=0.2)  # N(0, 1), not U(-r, r)


@pytest.mark.parametrize("variant", VARIANTS)
def test_uniform_keeps_tied_embeddings_tied_with_a_zero_pad_row(variant):
    """As build_seq2seq initializes a model with tied output and embedding matrices."""
    torch.manual_seed(0)
    decoder = make_model(variant, init="uniform", init_range=0.1, tie_embeddings=True).decoder
    assert decoder.out.weight is decoder.embed.weight
    assert bool((decoder.embed.weight[PAD] == 0).all())
    assert float(decoder.embed.weight.detach().abs().max()) <= 0.1
    rows = decoder.embed.weight[PAD + 1 :].detach()
    assert float(rows.std()) == pytest.approx(0.1 / math.sqrt(3), rel=0.1)


@pytest.mark.parametrize(
    ("init", "init_range", "message"),
    [
        ("normal", 0.1, r"variants\.x\.arch\.init = 'normal'; valid options: uniform, pytorch"),
        ("uniform", 0.0, r"variants\.x\.arch\.init_range = 0\.0; it must be a number > 0"),
        ("uniform", "0.1", r"variants\.x\.arch\.init_range = '0\.1'; it must be a number > 0"),
    ],
)
def test_bad_settings_name_the_key(init, init_range, message):
    with pytest.raises(ConfigError, match=message):
        initialize(make_model(VARIANTS[0]), init, init_range, "variants.x.arch")
