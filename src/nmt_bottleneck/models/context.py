"""How the decoder sees the source: the one module that differs between the three variants.

- `FinalState` (RNNencdec; Cho et al. 2014, Section 2.2): the encoder's final state summarised
  as c = tanh(V h_final); c initialises the decoder and is fed at every step. One fixed vector.
- `ConcatStates`: all encoder states padded to the longest allowed source length L,
  concatenated (L * D values) and projected, c = tanh(W [h_1; ...; h_L]); used like FinalState.
  It sees every state, but its parameters (and memory) grow linearly with L.
- `BahdanauAttention` (RNNsearch; Bahdanau et al. 2015, Appendix A.1.2): at each step i,
  e_ij = v^T tanh(W s_{i-1} + U h_j), a_ij = softmax_j(e_ij) over real tokens only,
  c_i = sum_j a_ij h_j. U h_j does not depend on i, so the keys are projected once per batch.
  Computed as v^T tanh(x) = 2 v^T sigmoid(2x) - sum(v): the same weights (softmax ignores the
  constant), and sigmoid costs a third of tanh on CPU (measured: 1.4 vs 4.9 ms for 3M floats),
  where this [B, S, A] pass at every decoder step is attention's main extra cost.

Every module turns the encoder output into a `Memory` once per batch (`prepare`); `forward`
gives the context for one decoder step. `static` modules give the same context at every step,
so the decoder can run over all steps in one call. Precomputed tensors live in the Memory,
never on `self`.

`forward` takes N = M * K queries for a Memory of M rows: queries rK .. rK + K - 1 all read
row r. Training and greedy search have K = 1; beam search has K beams per sentence and keeps
one Memory row per sentence, so the keys are neither copied K times nor read K times.
On a CPU the [M, K, S, A] attention pass runs in parts of at most CPU_PASS_ELEMENTS values:
written and read back whole, beam search's (64 MB at 250 sentences x 5 beams x 25 tokens)
spills out of a 32 MB L3 cache and takes twice as long (measured: 43 ms whole, 20 ms in 16 MB
parts, 18 ms in 8 MB parts). With A = 512 (the reference sizes; experiment=cpu's 256 halves
every pass), training batches of up to 8,000 padded source tokens (experiment=cpu's training and
validation) and greedy batches of 6,000 stay whole:
cutting those smaller only adds calls (4.2 ms whole, 4.6 ms in 8 MB parts). Larger batches
(experiment=paper on a CPU) run in parts; the results are the same either way.
"""

from __future__ import annotations

from typing import NamedTuple

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
    keys: Tensor | None  # [B, S, A] attention keys, doubled: 2 U h_j (see forward); else None


CPU_PASS_ELEMENTS = 2**22  # attention's [rows, K, S, A] intermediate per pass on a CPU: 16 MB


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


class FinalState(nn.Module):
    """c = tanh(V h_final): the whole sentence in one vector of size C (the bottleneck)."""

    static = True

    def __init__(self, encoder_size: int, context_size: int) -> None:
        super().__init__()
        check_sizes("model.context", encoder_size=encoder_size, context_size=context_size)
        self.proj = nn.Linear(encoder_size, context_size)
        self.encoder_size = encoder_size
        self.size = self.summary_size = context_size

    def prepare(self, enc: EncoderOutput) -> Memory:
        c = torch.tanh(self.proj(enc.final))  # [B, C]
        return Memory(enc.states, enc.mask, c, c, None)

    def forward(self, memory: Memory, query: Tensor) -> tuple[Tensor, None]:
        return per_query(memory.fixed, query.shape[0]), None


class ConcatStates(nn.Module):
    """c = tanh(W [h_1; ...; h_L]): every state, padded with zeros to L positions."""

    static = True

    def __init__(self, encoder_size: int, context_size: int, max_src_len: int) -> None:
        super().__init__()
        check_sizes(
            "model.context",
            encoder_size=encoder_size,
            context_size=context_size,
            max_src_len=max_src_len,
        )
        self.max_src_len, self.encoder_size = max_src_len, encoder_size
        self.proj = nn.Linear(max_src_len * encoder_size, context_size)  # L * D * C weights
        self.size = self.summary_size = context_size

    def prepare(self, enc: EncoderOutput) -> Memory:
        batch, src_len, dim = enc.states.shape  # B, S, D
        if src_len > self.max_src_len:
            raise DataError(
                f"a source sentence has {src_len} tokens but concat_states was built for at "
                f"most {self.max_src_len} (model.context.max_src_len). Fix: raise max_src_len "
                "or filter longer sources."
            )
        padded = enc.states.new_zeros(batch, self.max_src_len, dim)  # [B, L, D]
        padded[:, :src_len] = enc.states * enc.mask[..., None]  # pads contribute zeros
        c = torch.tanh(self.proj(padded.reshape(batch, -1)))  # [B, C]
        return Memory(enc.states, enc.mask, c, c, None)

    def forward(self, memory: Memory, query: Tensor) -> tuple[Tensor, None]:
        return per_query(memory.fixed, query.shape[0]), None


class BahdanauAttention(nn.Module):
    """Additive attention; the context size is the encoder's state size D. The decoder is
    initialised from the encoder's final state (as FinalState's summary, before projection)."""

    static = False

    def __init__(self, encoder_size: int, query_size: int, attention_size: int) -> None:
        super().__init__()
        check_sizes(
            "model.context",
            encoder_size=encoder_size,
            query_size=query_size,
            attention_size=attention_size,
        )
        self.key_proj = nn.Linear(encoder_size, attention_size, bias=False)  # U
        self.query_proj = nn.Linear(query_size, attention_size)  # W (and the bias)
        self.energy = nn.Linear(attention_size, 1, bias=False)  # v
        self.size = self.summary_size = self.encoder_size = encoder_size
        self.query_size = query_size

    def prepare(self, enc: EncoderOutput) -> Memory:
        keys = F.linear(enc.states, 2 * self.key_proj.weight)  # [B, S, A] 2 U h_j, once per batch
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
        k = group_size(memory.states, queries)
        query = F.linear(query, 2 * self.query_proj.weight, 2 * self.query_proj.bias)  # [N, A]
        query = query.view(rows, k, 1, -1)  # [M, K, 1, A]
        step = rows
        if query.is_cpu:  # the [M, K, S, A] pass in parts that stay in the CPU's cache
            step = max(1, CPU_PASS_ELEMENTS // (k * src_len * query.shape[-1]))
        parts = [
            self.energies(query[i : i + step], memory.keys[i : i + step])
            for i in range(0, rows, step)
        ]
        scores = parts[0] if len(parts) == 1 else torch.cat(parts)  # [M, K, S] e_ij + sum(v)
        scores = scores.masked_fill(~memory.mask[:, None], float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # [M, K, S], exactly 0 on pads
        context = torch.bmm(weights, memory.states)  # [M, K, D]
        return context.view(queries, dim), weights.view(queries, src_len)

    def energies(self, query: Tensor, keys: Tensor) -> Tensor:
        """query [m, K, 1, A] (2 (W s + b)), keys [m, S, A] (2 U h) -> [m, K, S]:
        2 v^T sigmoid(2x) = v^T tanh(x) + sum(v) (module docstring)."""
        hidden = torch.sigmoid_(query + keys[:, None])  # [m, K, S, A]
        return F.linear(hidden, 2 * self.energy.weight).squeeze(-1)
