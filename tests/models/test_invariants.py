"""Invariants every variant must keep (DESIGN.md, "Tests"): shapes, gradients everywhere, no
NaN, padding invariance, attention weights, the final state at the last real token, the
one-call teacher-forced path equal to step-by-step decoding, and overfitting a tiny batch."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from nmt_bottleneck.errors import ConfigError, DataError
from nmt_bottleneck.models import context as context_module
from nmt_bottleneck.models.context import BahdanauAttention, ConcatStates, FinalState
from nmt_bottleneck.models.decoder import Decoder
from nmt_bottleneck.models.encoder import Encoder
from nmt_bottleneck.models.initialization import INITS, initialize
from nmt_bottleneck.models.seq2seq import Seq2Seq

V, E, H, PAD, BOS = 23, 16, 24, 0, 2
VARIANTS = ["final_state", "concat_states", "attention"]
CELLS = ["gru", "lstm"]
MAX_SRC = 14


def make_model(
    variant: str,
    cell: str = "gru",
    bidirectional: bool = True,
    layers: int = 1,
    maxout: bool = True,
    vocab: int = V,
    init: str = "uniform",
) -> Seq2Seq:
    """A small model of `variant`, initialized by `init` (the shipped default: uniform 0.1)."""
    encoder = Encoder(vocab, E, H, cell, bidirectional, layers, 0.0, PAD)
    d = encoder.out_size
    context = {
        "final_state": lambda: FinalState(d, 20),
        "concat_states": lambda: ConcatStates(d, 20, MAX_SRC),
        "attention": lambda: BahdanauAttention(d, H, 18),
    }[variant]()
    decoder = Decoder(
        vocab, E, H, cell, layers, context.size, context.summary_size, 14, maxout, False, 0.0, PAD
    )
    model = Seq2Seq(encoder, context, decoder)
    initialize(model, init, 0.1, "arch")
    return model


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
    out = make_model(variant, cell)(src, src_lens, tgt_in)
    assert out.logits.shape == (4, 7, V)
    if variant == "attention":
        assert out.attention.shape == (4, 7, 9)
    else:
        assert out.attention is None


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
    if variant == "attention":
        torch.testing.assert_close(padded.attention[:, :7, :9], base.attention)
        assert (padded.attention[:, :, 9:] == 0).all()


@pytest.mark.parametrize("cell", CELLS)
def test_attention_weights_sum_to_one_and_are_zero_on_pads(cell):
    torch.manual_seed(0)
    src, src_lens, tgt_in, _ = make_batch(3)
    weights = make_model("attention", cell)(src, src_lens, tgt_in).attention  # [B, T, S]
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 7))
    pads = torch.arange(9)[None, None] >= src_lens[:, None, None]
    assert (weights[pads.expand_as(weights)] == 0).all()
    assert (weights[~pads.expand_as(weights)] > 0).all()


def test_attention_is_bahdanaus_formula_in_value_and_gradient():
    """e_ij = v^T tanh(W s + b + U h_j), a = softmax over real tokens, c = sum_j a_ij h_j,
    written out here with the module's own parameters (the module computes it another way)."""
    torch.manual_seed(0)
    attn = BahdanauAttention(encoder_size=6, query_size=5, attention_size=4)
    states = torch.randn(3, 7, 6, requires_grad=True)
    mask = torch.arange(7)[None] < torch.tensor([7, 4, 1])[:, None]
    query = torch.randn(3, 5, requires_grad=True)
    enc = SimpleNamespace(states=states, mask=mask, final=states[:, 0])
    context, weights = attn(attn.prepare(enc), query)

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
    ("elements", "parts"), [(1, 5), (2 * 2 * 9 * 18, 3), (3 * 2 * 9 * 18 + 1, 2)]
)
def test_attention_in_parts_equals_attention_whole(elements, parts, monkeypatch):
    """On a CPU the [M, K, S, A] pass runs in parts of at most CPU_PASS_ELEMENTS values (one
    row per part at the least): the same contexts, weights and gradients as in one pass."""
    torch.manual_seed(0)
    model = make_model("attention")
    src, src_lens, _, _ = make_batch(7, batch=5)  # M = 5 rows, S = 9; K = 2 queries per row
    with torch.no_grad():
        memory = model.encode(src, src_lens)
    memory = memory._replace(
        states=memory.states.requires_grad_(), keys=memory.keys.requires_grad_()
    )
    query = torch.randn(10, H, requires_grad=True)
    attn = model.context
    leaves = [query, memory.states, memory.keys, *attn.query_proj.parameters(), attn.energy.weight]
    whole = model.context(memory, query)
    grads = torch.autograd.grad(whole[0].square().sum() + whole[1].sum(), leaves)
    monkeypatch.setattr(context_module, "CPU_PASS_ELEMENTS", elements)  # 1, 2 or 3 rows a pass
    calls, energies = [], attn.energies
    monkeypatch.setattr(attn, "energies", lambda q, k: calls.append(len(q)) or energies(q, k))
    split = model.context(memory, query)
    assert len(calls) == parts and sum(calls) == 5
    torch.testing.assert_close(split, whole)
    again = torch.autograd.grad(split[0].square().sum() + split[1].sum(), leaves)
    torch.testing.assert_close(again, grads)


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
        query = torch.randn(4 * k, H)
        shared, shared_w = model.context(memory, query)
        copied, copied_w = model.context(copies, query)
    assert shared.shape == (4 * k, model.context.size)
    torch.testing.assert_close(shared, copied)
    if variant == "attention":
        torch.testing.assert_close(shared_w, copied_w)
        for r in range(4 * k):  # row r of the queries read sentence r // k: zeros on its pads
            assert (shared_w[r, int(src_lens[r // k]) :] == 0).all()
    with pytest.raises(ValueError, match="10 queries for a Memory of 4 rows"):
        model.context(memory, query[:10])


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_final_state_is_the_last_real_tokens(cell, bidirectional):
    torch.manual_seed(0)
    encoder = Encoder(V, E, H, cell, bidirectional, 2, 0.0, PAD).eval()
    src, src_lens, _, _ = make_batch(4)
    out = encoder(src, src_lens)
    for b, n in enumerate(src_lens.tolist()):
        # independently: the same RNN on the sentence alone, without padding or packing
        alone, h_n = encoder.rnn(encoder.embed(src[b : b + 1, :n]))
        h_n = h_n[0] if cell == "lstm" else h_n
        top = h_n.view(2, 2 if bidirectional else 1, 1, H)[-1]
        torch.testing.assert_close(out.final[b], top.transpose(0, 1).reshape(-1))
        torch.testing.assert_close(out.final[b, :H], alone[0, n - 1, :H])  # forward: last
        if bidirectional:
            torch.testing.assert_close(out.final[b, H:], alone[0, 0, H:])  # backward: first
        assert (out.states[b, n:] == 0).all() and out.mask[b].sum() == n


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_teacher_forcing_equals_step_by_step(variant, cell):
    """The one-call (static) or looped forward pass equals the step() used by search."""
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
    if variant == "attention":
        torch.testing.assert_close(torch.stack(weights, dim=1), full.attention)


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_overfits_a_tiny_batch(variant, init):
    torch.manual_seed(0)
    model = make_model(variant, init=init)
    batch = make_batch(6)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        loss = loss_of(model, *batch)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


def test_same_seed_same_weights():
    def train() -> dict[str, torch.Tensor]:
        torch.manual_seed(7)
        model = make_model("attention")
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for seed in range(5):
            optimizer.zero_grad()
            loss_of(model, *make_batch(seed)).backward()
            optimizer.step()
        return model.state_dict()

    first, second = train(), train()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_concat_states_parameters_grow_linearly_with_the_maximum_length():
    d, c = 48, 20
    for max_len in (10, 30, 50):
        count = sum(p.numel() for p in ConcatStates(d, c, max_len).parameters())
        assert count == max_len * d * c + c  # the L * D * C projection and its bias
    with pytest.raises(DataError, match="max_src_len"):
        model = make_model("concat_states")
        model.encode(torch.full((1, MAX_SRC + 1), 5), torch.tensor([MAX_SRC + 1]))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Encoder(V, E, H, "rnn", True, 1, 0.0, PAD), "valid options: gru, lstm"),
        (lambda: Encoder(V, E, -4, "gru", True, 1, 0.0, PAD), "hidden_size=-4"),
        (lambda: Encoder(V, E, H, "gru", True, 0, 0.0, PAD), "layers=0"),
        (lambda: Encoder(V, E, H, "gru", True, 1, 1.0, PAD), "dropout"),
        (lambda: FinalState(48, 0), "context_size=0"),
        (lambda: Decoder(V, E, H, "gru", 1, 20, 20, 14, True, True, 0.0, PAD), "tie_embeddings"),
        (
            lambda: Seq2Seq(
                Encoder(V, E, H, "gru", True, 1, 0.0, PAD),
                FinalState(H, 20),
                Decoder(V, E, H, "gru", 1, 20, 20, 14, True, False, 0.0, PAD),
            ),
            "model.context.encoder_size = 24",
        ),
        (
            lambda: Seq2Seq(
                Encoder(V, E, H, "gru", True, 1, 0.0, PAD),
                BahdanauAttention(2 * H, 10, 8),
                Decoder(V, E, H, "gru", 1, 2 * H, 2 * H, 14, True, False, 0.0, PAD),
            ),
            "model.context.query_size",
        ),
    ],
)
def test_bad_sizes_and_options_fail_at_construction(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_tied_embeddings_share_one_matrix():
    decoder = Decoder(V, E, H, "gru", 1, 20, 20, E, True, True, 0.0, PAD)
    assert decoder.out.weight is decoder.embed.weight
    assert isinstance(decoder.out, nn.Linear)
