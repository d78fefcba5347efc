"""How the decoder sees the source: the one module that differs between the variants.

Every context module keeps one contract, `ContextModule`; the decoder, search, translate and
Seq2Seq talk to it and to nothing else:
- `prepare(enc) -> Memory`, once per batch: what the module reads at every decoder step;
  precomputed tensors (projected keys, the fixed context) live in the Memory, never on `self`;
- `forward(memory, query) -> (c [N, C], weights [N, S] | None)`, the context of one step;
- `size` C (the context), `summary_size` Z (what initialises the decoder), `encoder_size` D
  (the encoder state it reads), `query_size` (the decoder state it needs as the query; None:
  it takes none), `max_src_len` (the longest source it accepts; None: any length);
- `static`: the same context at every step, true exactly for the subclasses of `StaticContext`
  (the one place it is set; they take no query). Then `fixed(memory)` gives that context
  [M, C] and `weights` is None; otherwise `fixed` is None and `weights` [N, S] are the
  attention weights. `fixed` is defined once, from `static`: a subclass cannot override it.
  `fixed` exists for one optimisation: teacher forcing of a static context runs the decoder's
  recurrence over all steps in one call (tests/models check that it equals step by step).

`forward` takes N = M * K queries for a Memory of M rows: queries rK .. rK + K - 1 all read
row r. Training and greedy search have K = 1; beam search has K beams per sentence and keeps
one Memory row per sentence, so its tensors are neither copied K times nor read K times.

The modules:
- `FinalState` (RNNencdec; Cho et al. 2014, Section 2.2): the encoder's final state summarised
  as c = tanh(V h_final); c initialises the decoder and is fed at every step. One fixed vector.
- `ConcatStates`: all encoder states padded to the longest allowed source length L,
  concatenated (L * D values) and projected, c = tanh(W [h_1; ...; h_L]); used like FinalState.
  It sees every state, but its parameters (and memory) grow linearly with L. Not in either
  paper: the "use every state without attention" baseline of this project.
- `BahdanauAttention` (RNNsearch; Bahdanau et al. 2015, Section 3.1 and Appendix A.1.2): at
  each step i, e_ij = v^T tanh(W s_{i-1} + U h_j), a_ij = softmax_j(e_ij) over real tokens only,
  c_i = sum_j a_ij h_j. U h_j does not depend on i, so the keys are projected once per batch.

Deviations from the papers (README, "Deviations from the papers"):
- FinalState: Cho et al.'s c = tanh(V h_N) summarises a unidirectional encoder's last state;
  here h_final is [forward state at the last real token; backward state at the first] (the
  encoder is bidirectional by default, as RNNsearch's), so RNNencdec and RNNsearch share one
  encoder and differ only in this module.
- BahdanauAttention: the query projection W has a bias b, e_ij = v^T tanh(W s_{i-1} + b +
  U h_j), which the paper's e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j) does not show: A more
  parameters that shift every energy's input before the tanh. Kept because the committed models
  were trained with it (dropping it would change every attention model).
- BahdanauAttention's summary (what initialises the decoder) is the encoder's final state
  [forward last; backward first]; the paper's s_0 = tanh(W_s backward h_1) uses the backward
  state only (decoder.py).
- v^T tanh(x) is computed by `additive_energy`, an equal form that is faster on a CPU
  (benchmarks/README.md, "Attention energy"): the same weights, not a different model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nmt_bottleneck.errors import ConfigError, DataError
from nmt_bottleneck.models.encoder import EncoderOutput, check_sizes


class Memory(NamedTuple):
    states: Tensor  # [B, S, D] encoder states
    mask: Tensor  # [B, S] True on real tokens
    summary: Tensor  # [B, Z] what initialises the decoder
    fixed: Tensor | None  # [B, C] the context of static modules, else None
    keys: Tensor | None  # [B, S, A] attention keys U h_j, else None


CPU_PASS_ELEMENTS = 2**22  # additive_energy's [rows, K, S, A] intermediate per pass on a CPU


def per_query(x: Tensor, queries: int) -> Tensor:
    """x [M, ...] -> [queries, ...]: row r repeated K = queries / M times (module docstring)."""
    return x if queries == x.shape[0] else x.repeat_interleave(group_size(x, queries), dim=0)


def group_size(x: Tensor, queries: int) -> int:
    """K = queries / M for a Memory tensor x [M, ...] (1 for an empty batch); a ValueError if
    M does not divide it."""
    rows = x.shape[0]
    if rows == queries:
        return 1
    if rows == 0 or queries % rows:
        raise ValueError(f"{queries} queries for a Memory of {rows} rows: not a multiple.")
    return queries // rows


class ContextModule(nn.Module, ABC):
    """The contract of a context module (module docstring). Subclasses call this constructor
    with their sizes and implement `prepare` and `forward`."""

    def __init__(
        self,
        encoder_size: int,
        size: int,
        summary_size: int,
        query_size: int | None,
        max_src_len: int | None,
    ) -> None:
        super().__init__()
        self.encoder_size = encoder_size  # D, the encoder state size it reads
        self.size = size  # C, the context's size
        self.summary_size = summary_size  # Z, the size of Memory.summary
        self.query_size = query_size  # the query's size (decoder hidden); None: takes no query
        self.max_src_len = max_src_len  # the longest source in tokens; None: any length

    static: ClassVar[bool] = False  # the same context at every step: StaticContext sets it

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "fixed" in vars(cls):
            raise TypeError(
                f"{cls.__name__} overrides ContextModule.fixed: it follows `static` alone. "
                "Fix: subclass StaticContext for a context that is the same at every step."
            )

    @abstractmethod
    def prepare(self, enc: EncoderOutput) -> Memory:
        """The Memory of a batch, once per batch: enc.states [B, S, D] -> Memory rows [B, ...]."""

    @abstractmethod
    def forward(self, memory: Memory, query: Tensor) -> tuple[Tensor, Tensor | None]:
        """query [N, Hq] (s_{i-1}; N = M * K for a Memory of M rows) -> c_i [N, C] and the
        weights [N, S] (None for a static module)."""

    def fixed(self, memory: Memory) -> Tensor | None:
        """A static module's context of every step [M, C]; None otherwise. Equal to
        forward(memory, query)[0] for any query with K = 1."""
        return memory.fixed if self.static else None


class StaticContext(ContextModule):
    """A context computed once per sentence from the encoder output and fed at every step; it
    also initialises the decoder (summary = c). The only static kind of context module."""

    static = True

    def __init__(self, encoder_size: int, size: int, max_src_len: int | None) -> None:
        super().__init__(encoder_size, size, size, None, max_src_len)

    @abstractmethod
    def context(self, enc: EncoderOutput) -> Tensor:
        """enc -> c [B, C]."""

    def prepare(self, enc: EncoderOutput) -> Memory:
        c = self.context(enc)  # [B, C]
        return Memory(enc.states, enc.mask, c, c, None)

    def forward(self, memory: Memory, query: Tensor) -> tuple[Tensor, None]:
        return per_query(memory.fixed, query.shape[0]), None  # [N, C]


class FinalState(StaticContext):
    """c = tanh(V h_final): the whole sentence in one vector of size C (the bottleneck)."""

    def __init__(self, encoder_size: int, context_size: int) -> None:
        check_sizes("model.context", encoder_size=encoder_size, context_size=context_size)
        super().__init__(encoder_size, context_size, None)
        self.proj = nn.Linear(encoder_size, context_size)  # V

    def context(self, enc: EncoderOutput) -> Tensor:
        return torch.tanh(self.proj(enc.final))  # [B, C]


class ConcatStates(StaticContext):
    """c = tanh(W [h_1; ...; h_L]): every state, padded with zeros to L positions."""

    def __init__(self, encoder_size: int, context_size: int, max_src_len: int) -> None:
        check_sizes(
            "model.context",
            encoder_size=encoder_size,
            context_size=context_size,
            max_src_len=max_src_len,
        )
        super().__init__(encoder_size, context_size, max_src_len)
        self.proj = nn.Linear(max_src_len * encoder_size, context_size)  # L * D * C weights

    def context(self, enc: EncoderOutput) -> Tensor:
        batch, src_len, dim = enc.states.shape  # B, S, D
        if src_len > self.max_src_len:
            raise DataError(
                f"a source sentence has {src_len} tokens but this context module was built for "
                f"at most {self.max_src_len} (model.context.max_src_len). Fix: raise "
                "max_src_len or filter longer sources."
            )
        padded = enc.states.new_zeros(batch, self.max_src_len, dim)  # [B, L, D]
        padded[:, :src_len] = enc.states * enc.mask[..., None]  # pads contribute zeros
        return torch.tanh(self.proj(padded.reshape(batch, -1)))  # [B, C]


class BahdanauAttention(ContextModule):
    """Additive attention (module docstring); the context size is the encoder's state size D.
    The decoder is initialised from the encoder's final state (FinalState's input)."""

    def __init__(self, encoder_size: int, query_size: int, attention_size: int) -> None:
        check_sizes(
            "model.context",
            encoder_size=encoder_size,
            query_size=query_size,
            attention_size=attention_size,
        )
        super().__init__(encoder_size, encoder_size, encoder_size, query_size, None)
        self.key_proj = nn.Linear(encoder_size, attention_size, bias=False)  # U
        self.query_proj = nn.Linear(query_size, attention_size)  # W (and a bias: a deviation)
        self.energy = nn.Linear(attention_size, 1, bias=False)  # v

    def prepare(self, enc: EncoderOutput) -> Memory:
        keys = self.key_proj(enc.states)  # [B, S, A] U h_j, once per batch
        return Memory(enc.states, enc.mask, enc.final, None, keys)

    def forward(self, memory: Memory, query: Tensor) -> tuple[Tensor, Tensor]:
        """query: [N, Hq] the previous decoder states s_{i-1}, N = M * K for a Memory of M
        rows (module docstring). Returns c_i [N, D], a_i [N, S]."""
        if query.shape[-1] != self.query_size:
            raise ConfigError(
                f"attention query has size {query.shape[-1]}, built for "
                f"{self.query_size} (model.context.query_size = decoder hidden)."
            )
        queries, (rows, src_len, dim) = query.shape[0], memory.states.shape
        k = group_size(memory.states, queries)  # K queries per Memory row
        w_s = self.query_proj(query).view(rows, k, 1, -1)  # [M, K, 1, A] W s_{i-1} (+ b)
        u_h = memory.keys[:, None]  # [M, 1, S, A] U h_j, projected once per batch
        v = self.energy.weight  # [1, A]
        e = additive_energy(w_s, u_h, v)  # [M, K, S] = readable_energy(w_s, u_h, v)
        # = e_ij = v^T tanh(W s_{i-1} + U h_j) (+ sum(v), a constant the softmax cancels)
        # a_ij = softmax_j(e_ij) over real tokens
        e = e.masked_fill(~memory.mask[:, None], float("-inf"))  # [M, K, S]
        a = torch.softmax(e, dim=-1)  # [M, K, S], exactly 0 on pads
        c = torch.bmm(a, memory.states)  # [M, K, D] c_i = sum_j a_ij h_j
        return c.view(queries, dim), a.view(queries, src_len)


def readable_energy(w_s: Tensor, u_h: Tensor, v: Tensor) -> Tensor:
    """e = v^T tanh(w_s + u_h), as the paper writes it: w_s [M, K, 1, A], u_h [M, 1, S, A],
    v [1, A] -> [M, K, S]. The reference that `additive_energy` is tested and benchmarked
    against (tests/models/test_invariants.py, benchmarks/attention_energy.py)."""
    return F.linear(torch.tanh(w_s + u_h), v).squeeze(-1)  # [M, K, S]


def additive_energy(w_s: Tensor, u_h: Tensor, v: Tensor) -> Tensor:
    """v^T tanh(w_s + u_h) + sum(v), computed as 2 v^T sigmoid(2 (w_s + u_h)).

    w_s [M, K, 1, A], u_h [M, 1, S, A], v [1, A] -> [M, K, S]. tanh(x) = 2 sigmoid(2x) - 1, so
    this is the readable v^T tanh(w_s + u_h) plus sum(v), a constant that the softmax cancels.
    Two optimisations of the readable form, both measured in benchmarks/README.md ("Attention
    energy"), equal to it in tests/models/test_invariants.py: sigmoid instead of tanh, and on a
    CPU the [M, K, S, A] intermediate in parts of at most CPU_PASS_ELEMENTS values (whole rows).
    Scaling by 2 is exact in floating point, so the doubling changes no rounding.
    """
    rows, k, _, size = w_s.shape
    step = rows
    if w_s.is_cpu:
        step = max(1, CPU_PASS_ELEMENTS // (k * u_h.shape[2] * size))
    parts = []
    for i in range(0, rows, step):
        x2 = torch.add(2 * w_s[i : i + step], u_h[i : i + step], alpha=2)  # [m, K, S, A] 2x
        hidden = torch.sigmoid_(x2)  # [m, K, S, A] sigmoid(2x) = (tanh(x) + 1) / 2
        parts.append(F.linear(hidden, 2 * v).squeeze(-1))  # [m, K, S]
    return parts[0] if len(parts) == 1 else torch.cat(parts)
