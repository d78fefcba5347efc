"""Invariants every variant must keep (DESIGN.md, "Tests"): shapes, gradients everywhere, no
NaN, padding invariance, attention weights, the final state at the last real token, the
one-call teacher-forced path equal to step-by-step decoding, overfitting a tiny batch, and the
context modules' contract. Every model is built by build_seq2seq from the variants of conf/
(tests/models/variants.py); a test asks the context module what it is, not which variant."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.nn import functional as F

from nmt_bottleneck.errors import ConfigError, DataError
from nmt_bottleneck.models import context as context_module
from nmt_bottleneck.models.context import (
    ContextModule,
    StaticContext,
    additive_energy,
    readable_energy,
)
from nmt_bottleneck.models.encoder import EncoderOutput
from nmt_bottleneck.models.initialization import INITS
from nmt_bottleneck.models.seq2seq import Seq2Seq
from tests.models.variants import (
    ALIGNING,
    BOS,
    BOUNDED,
    CELLS,
    MAX_SRC,
    PAD,
    VARIANTS,
    V,
    composed,
    make_model,
)


def make_batch(seed: int, batch: int = 4, src_len: int = 9, tgt_len: int = 7):
    """Random sentences with random lengths (one of each side full length), pads after."""
    g = torch.Generator().manual_seed(seed)
    src_lens = torch.randint(1, src_len + 1, (batch,), generator=g)
    src_lens[0] = src_len
    tgt_lens = torch.randint(1, tgt_len + 1, (batch,), generator=g)
    tgt_lens[-1] = tgt_len
    src = torch.randint(4, V, (batch, src_len), generator=g)
    tgt = torch.randint(4, V, (batch, tgt_len), generator=g)
    src[torch.arange(src_len)[None] >= src_lens[:, None]] = PAD
    tgt[torch.arange(tgt_len)[None] >= tgt_lens[:, None]] = PAD
    tgt_in = torch.cat([torch.full((batch, 1), BOS), tgt[:, :-1]], dim=1)
    return src, src_lens, tgt_in, tgt


def loss_of(model: Seq2Seq, src, src_lens, tgt_in, tgt) -> torch.Tensor:
    logits = model(src, src_lens, tgt_in).logits
    return F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=PAD)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_output_shapes(variant, cell):
    src, src_lens, tgt_in, _ = make_batch(0)
    model = make_model(variant, cell)
    out = model(src, src_lens, tgt_in)
    assert out.logits.shape == (4, 7, V)
    if model.context.static:
        assert out.attention is None
    else:
        assert out.attention.shape == (4, 7, 9)


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_parameter_gets_a_finite_gradient(variant, cell, init):
    torch.manual_seed(0)
    model = make_model(variant, cell, layers=2, init=init)
    loss = loss_of(model, *make_batch(1))
    assert torch.isfinite(loss)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} has an all-zero gradient"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_extra_padding_changes_nothing(variant, cell):
    torch.manual_seed(0)
    model = make_model(variant, cell).eval()
    src, src_lens, tgt_in, _ = make_batch(2)
    with torch.no_grad():
        base = model(src, src_lens, tgt_in)
        padded = model(F.pad(src, (0, 4), value=PAD), src_lens, F.pad(tgt_in, (0, 3), value=PAD))
    torch.testing.assert_close(padded.logits[:, :7], base.logits, rtol=1e-5, atol=1e-5)
    if not model.context.static:
        torch.testing.assert_close(padded.attention[:, :7, :9], base.attention)
        assert (padded.attention[:, :, 9:] == 0).all()


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", ALIGNING)
def test_attention_weights_sum_to_one_and_are_zero_on_pads(variant, cell):
    torch.manual_seed(0)
    src, src_lens, tgt_in, _ = make_batch(3)
    weights = make_model(variant, cell)(src, src_lens, tgt_in).attention  # [B, T, S]
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 7))
    pads = torch.arange(9)[None, None] >= src_lens[:, None, None]
    assert (weights[pads.expand_as(weights)] == 0).all()
    assert (weights[~pads.expand_as(weights)] > 0).all()


@pytest.mark.parametrize("variant", ALIGNING)
def test_attention_is_bahdanaus_formula_in_value_and_gradient(variant):
    """e_ij = v^T tanh(W s + b + U h_j), a = softmax over real tokens, c = sum_j a_ij h_j,
    written out here with the module's own parameters."""
    torch.manual_seed(0)
    attn = make_model(variant).context
    states = torch.randn(3, 7, attn.encoder_size, requires_grad=True)
    mask = torch.arange(7)[None] < torch.tensor([7, 4, 1])[:, None]
    query = torch.randn(3, attn.query_size, requires_grad=True)
    context, weights = attn(attn.prepare(EncoderOutput(states, states[:, 0], mask)), query)

    W, b = attn.query_proj.weight, attn.query_proj.bias
    U, v = attn.key_proj.weight, attn.energy.weight  # v: [1, A]
    e = (torch.tanh((query @ W.T + b)[:, None, :] + states @ U.T) @ v.T)[..., 0]  # [B, S]
    expected_w = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=-1)
    expected_c = (expected_w[..., None] * states).sum(1)
    torch.testing.assert_close(weights, expected_w)
    torch.testing.assert_close(context, expected_c)
    params = [states, query, W, b, U, v]
    got = torch.autograd.grad((context**2).sum() + (weights * 3).sum(), params)
    want = torch.autograd.grad((expected_c**2).sum() + (expected_w * 3).sum(), params)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


@pytest.mark.parametrize(
    ("elements", "parts"), [(None, 1), (1, 5), (2 * 2 * 9 * 18, 3), (3 * 2 * 9 * 18 + 1, 2)]
)
def test_additive_energy_equals_the_readable_form(elements, parts, monkeypatch):
    """additive_energy (sigmoid, in parts of at most CPU_PASS_ELEMENTS values on a CPU: one
    Memory row per part at the least) is v^T tanh(w_s + u_h) + sum(v), in value and gradient;
    `parts`: how many passes it makes for M = 5 rows, K = 2, S = 9, A = 18."""
    g = torch.Generator().manual_seed(0)
    w_s = torch.randn(5, 2, 1, 18, generator=g, requires_grad=True)
    u_h = torch.randn(5, 1, 9, 18, generator=g, requires_grad=True)
    v = torch.randn(1, 18, generator=g, requires_grad=True)
    if elements is not None:
        monkeypatch.setattr(context_module, "CPU_PASS_ELEMENTS", elements)
    calls, sigmoid = [], torch.sigmoid_
    monkeypatch.setattr(torch, "sigmoid_", lambda x: calls.append(len(x)) or sigmoid(x))
    fast = additive_energy(w_s, u_h, v)  # [5, 2, 9]
    want = readable_energy(w_s, u_h, v) + v.sum()
    assert len(calls) == parts and sum(calls) == 5
    torch.testing.assert_close(fast, want)
    weights = torch.softmax(fast, dim=-1)  # the constant sum(v) cancels
    torch.testing.assert_close(weights, torch.softmax(readable_energy(w_s, u_h, v), dim=-1))
    probe = torch.randn(fast.shape, generator=g)
    got = torch.autograd.grad((fast * probe).sum() + weights.square().sum(), [w_s, u_h, v])
    expected_w = torch.softmax(want, dim=-1)
    want_g = torch.autograd.grad((want * probe).sum() + expected_w.square().sum(), [w_s, u_h, v])
    for a, b in zip(got, want_g, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_memory_row_shared_by_k_queries_equals_k_copies_of_it(variant):
    """Beam search's K beams read their sentence's one Memory row: the contexts and weights
    equal those from the Memory with each row written out K times; a query count that is not
    a multiple of the rows is refused."""
    torch.manual_seed(0)
    model = make_model(variant).eval()
    src, src_lens, _, _ = make_batch(6)
    k = 3
    with torch.no_grad():
        memory = model.encode(src, src_lens)  # [4, ...]
        copies = type(memory)(*(None if x is None else x.repeat_interleave(k, 0) for x in memory))
        query = torch.randn(4 * k, model.decoder.hidden_size)
        shared, shared_w = model.context(memory, query)
        copied, copied_w = model.context(copies, query)
    assert shared.shape == (4 * k, model.context.size)
    torch.testing.assert_close(shared, copied)
    if not model.context.static:
        torch.testing.assert_close(shared_w, copied_w)
        for r in range(4 * k):  # row r of the queries read sentence r // k: zeros on its pads
            assert (shared_w[r, int(src_lens[r // k]) :] == 0).all()
    with pytest.raises(ValueError, match="10 queries for a Memory of 4 rows"):
        model.context(memory, query[:10])


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_context_module_keeps_its_contract(variant):
    """What the decoder, search and translate rely on: a ContextModule whose sizes fit the
    model; static (no query) exactly when `fixed` gives a context and forward gives no
    weights; `fixed` equals forward's context at every step; weights [N, S] otherwise."""
    torch.manual_seed(0)
    model = make_model(variant).eval()
    ctx = model.context
    assert isinstance(ctx, ContextModule)
    assert ctx.encoder_size == model.encoder.out_size
    assert (ctx.size, ctx.summary_size) == (model.decoder.context_size, model.decoder.summary_size)
    assert ctx.static == isinstance(ctx, StaticContext)
    assert ctx.query_size is None if ctx.static else ctx.query_size is not None
    assert ctx.query_size in (None, model.decoder.hidden_size)
    assert ctx.max_src_len in (None, MAX_SRC)
    src, src_lens, _, _ = make_batch(8)
    with torch.no_grad():
        memory = model.encode(src, src_lens)
        fixed = ctx.fixed(memory)
        assert memory.summary.shape == (4, ctx.summary_size)
        for _ in range(3):  # three different queries: a static context does not move
            c, weights = ctx(memory, torch.randn(4, model.decoder.hidden_size))
            assert c.shape == (4, ctx.size)
            if ctx.static:
                assert weights is None
                torch.testing.assert_close(fixed, c, rtol=0, atol=0)
            else:
                assert fixed is None and weights.shape == (4, 9)


@pytest.mark.parametrize("variant", VARIANTS)
def test_static_is_exactly_a_fixed_context(variant):
    """The decoder's teacher-forcing fast path keys on `fixed(memory)`, search on `static`: for
    every configured variant they say the same."""
    model = make_model(variant).eval()
    src, src_lens, _, _ = make_batch(8)
    with torch.no_grad():
        memory = model.encode(src, src_lens)
    assert model.context.static == (model.context.fixed(memory) is not None)


def test_fixed_cannot_be_overridden_apart_from_static():
    """`fixed` follows `static` alone: a module that overrides it is refused at its definition,
    so the two cannot disagree."""
    with pytest.raises(TypeError, match=r"overrides ContextModule\.fixed.*subclass StaticContext"):

        class Drifting(ContextModule):  # defined to be refused
            def fixed(self, memory):
                return memory.states[:, 0]


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_final_state_is_the_last_real_tokens(cell, bidirectional):
    torch.manual_seed(0)
    encoder = make_model(VARIANTS[0], cell, bidirectional, layers=2).encoder.eval()
    hidden = encoder.hidden_size
    src, src_lens, _, _ = make_batch(4)
    out = encoder(src, src_lens)
    for b, n in enumerate(src_lens.tolist()):
        # independently: the same RNN on the sentence alone, without padding or packing
        alone, h_n = encoder.rnn(encoder.embed(src[b : b + 1, :n]))
        h_n = h_n[0] if cell == "lstm" else h_n
        top = h_n.view(2, 2 if bidirectional else 1, 1, hidden)[-1]
        torch.testing.assert_close(out.final[b], top.transpose(0, 1).reshape(-1))
        torch.testing.assert_close(out.final[b, :hidden], alone[0, n - 1, :hidden])  # last
        if bidirectional:
            torch.testing.assert_close(out.final[b, hidden:], alone[0, 0, hidden:])  # first
        assert (out.states[b, n:] == 0).all() and out.mask[b].sum() == n


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_teacher_forcing_equals_step_by_step(variant, cell):
    """The teacher-forced pass (for a static context the fast path: the recurrence in one call
    over `fixed`; otherwise a loop over forward) equals the step() used by search."""
    torch.manual_seed(0)
    model = make_model(variant, cell).eval()
    src, src_lens, tgt_in, _ = make_batch(5)
    with torch.no_grad():
        full = model(src, src_lens, tgt_in)
        memory = model.encode(src, src_lens)
        state = model.decoder.init_state(memory)
        steps, weights = [], []
        for i in range(tgt_in.shape[1]):
            logits, state, a = model.decoder.step(tgt_in[:, i], state, memory, model.context)
            steps.append(logits)
            weights.append(a)
    torch.testing.assert_close(torch.stack(steps, dim=1), full.logits, rtol=1e-5, atol=1e-5)
    if model.context.static:
        assert full.attention is None and weights == [None] * len(weights)
    else:
        torch.testing.assert_close(torch.stack(weights, dim=1), full.attention)


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_overfits_a_tiny_batch(variant, init):
    """Without dropout (the `cpu` profile's setting; smoke's 0.1 would keep the loss up)."""
    torch.manual_seed(0)
    model = make_model(variant, init=init, dropout=0.0)
    batch = make_batch(6)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        loss = loss_of(model, *batch)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


@pytest.mark.parametrize("variant", ALIGNING)
def test_same_seed_same_weights(variant):
    def train() -> dict[str, torch.Tensor]:
        torch.manual_seed(7)
        model = make_model(variant)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for seed in range(5):
            optimizer.zero_grad()
            loss_of(model, *make_batch(seed)).backward()
            optimizer.step()
        return model.state_dict()

    first, second = train(), train()
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("variant", BOUNDED)
def test_a_bounded_context_grows_linearly_with_its_length_and_refuses_longer_sources(variant):
    """A context module with a max_src_len L (concat_states: parameters L x D x C): its
    parameters grow linearly with L, and a longer source is refused with the key to change."""
    counts = []
    for max_len in (10, 30, 50):
        ctx = make_model(variant, max_src_len=max_len).context
        assert ctx.max_src_len == max_len
        counts.append(sum(p.numel() for p in ctx.parameters()))
    assert counts[2] - counts[1] == counts[1] - counts[0] > 0
    model = make_model(variant)
    with pytest.raises(DataError, match="max_src_len"):
        model.encode(torch.full((1, MAX_SRC + 1), 5), torch.tensor([MAX_SRC + 1]))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"cell": "rnn"}, "valid options: gru, lstm"),
        ({"hidden_size": -4}, "hidden_size=-4"),
        ({"layers": 0}, "layers=0"),
        ({"dropout": 1.0}, "dropout"),
        ({"tie_embeddings": True, "output_size": 20}, "tie_embeddings"),
    ],
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_bad_sizes_and_options_fail_at_construction(variant, changes, message):
    with pytest.raises(ConfigError, match=message):
        make_model(variant, **changes)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_context_size_of_zero_fails_at_construction(variant):
    """build_seq2seq derives the sizes a context module takes; the module checks its own."""
    node = OmegaConf.to_container(composed().variants[variant].arch.context, resolve=True)
    sizes = [k for k in node if k.endswith("_size")]
    assert sizes, "every context module has a size of its own in its config"
    with pytest.raises(ConfigError, match=rf"model\.context: sizes .*{sizes[0]}=0"):
        make_model(variant, context={**node, sizes[0]: 0})


def test_parts_that_do_not_fit_are_refused_by_seq2seq():
    """Seq2Seq checks the parts through the contract's sizes: an encoder of another state size,
    and a decoder whose hidden size is not the attention's query size."""
    small = make_model(VARIANTS[0], hidden_size=16)
    for variant in VARIANTS:
        model = make_model(variant)
        with pytest.raises(ConfigError, match=r"model\.context\.encoder_size = 64"):
            Seq2Seq(small.encoder, model.context, model.decoder)
    for variant in ALIGNING:
        model, other = make_model(variant), make_model(variant, decoder_hidden_size=16)
        with pytest.raises(ConfigError, match=r"model\.context\.query_size = 32"):
            Seq2Seq(model.encoder, model.context, other.decoder)


def test_a_target_that_is_not_a_context_module_is_refused():
    with pytest.raises(
        ConfigError, match=r"context\._target_ = 'torch\.nn\.Dropout'.*ContextModule"
    ):
        make_model(VARIANTS[0], context={"_target_": "torch.nn.Dropout", "p": 0.1})


def test_tied_embeddings_share_one_matrix():
    decoder = make_model(VARIANTS[0], tie_embeddings=True).decoder
    assert decoder.out.weight is decoder.embed.weight
    assert isinstance(decoder.out, nn.Linear)
