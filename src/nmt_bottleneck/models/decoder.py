"""The target decoder, shared by all variants (Bahdanau et al. 2015, Appendix A.2.2 and A.1.2).

s_0 = tanh(W_s z), with z the context module's summary of the source;
s_i = RNN([E y_{i-1}; c_i], s_{i-1}), with c_i from the context module (query s_{i-1});
p(y_i) = softmax(W_o t_i), t_i = maxout(U_o [s_i; c_i; E y_{i-1}]) (or tanh without maxout).

The decoder talks to the context module through its contract (models/context.py) only.
Teacher forcing runs the recurrence only: embeddings before, and the output layer after, run
once over all steps. A static context (`context.fixed(memory)` is not None) is the same at every
step, so the recurrence is then one cuDNN/oneDNN call over the whole target, with no Python
loop: an optimisation that gives the same logits as `step` at every step (tested).

Deviations from the papers (README, "Deviations from the papers"):
- The output layer reads s_i, the state after the step's update; the paper's
  t~_i = U_o s_{i-1} + V_o E y_{i-1} + C_o c_i (A.2.2) reads s_{i-1}. Reading s_i puts the
  step's own recurrence between the inputs and the prediction (as Luong et al. 2015 and
  OpenNMT/JoeyNMT do) and lets teacher forcing compute the output layer over all steps at once.
- U_o, W_o and W_s (the bridge) have biases; the paper's equations show none.
- s_0 = tanh(W_s z) with z the context module's summary: for attention the encoder's final
  state [forward last; backward first], where the paper uses backward h_1 alone; for the
  static variants z = c, as in Cho et al. (2014), where c initialises the decoder.
- The recurrence is PyTorch's GRU (or LSTM) cell over the input [E y_{i-1}; c_i]: the paper's
  gated unit computes the same gates from E y_{i-1}, s_{i-1} and c_i through separate matrices
  (W, U, C), which a concatenated input matrix is; PyTorch's GRU differs in applying the reset
  gate after the recurrent matrix (r * (U s + b) rather than U (r * s)) and in having biases.
- Dropout (`dropout`) on the embeddings, the RNN output and t_i: not in the paper's description
  (`experiment=cpu` trains with 0).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.models.context import ContextModule, Memory
from nmt_bottleneck.models.encoder import check_dropout, check_sizes, rnn_class

State = Tensor | tuple[Tensor, Tensor]  # GRU: h [layers, B, H]; LSTM: (h, c)


class DecoderOutput(NamedTuple):
    logits: Tensor  # [B, T, V]
    attention: Tensor | None  # [B, T, S] attention weights, None for static contexts


class Decoder(nn.Module):
    """Args: vocab_size V, emb_size E, hidden_size H, cell "gru" | "lstm", layers,
    context_size C and summary_size Z (from the context module), output_size of t_i, maxout
    (pool pairs of 2 as in the paper), tie_embeddings (output matrix = embedding matrix; needs
    output_size == emb_size), dropout, pad_id."""

    def __init__(
        self,
        vocab_size: int,
        emb_size: int,
        hidden_size: int,
        cell: Literal["gru", "lstm"],
        layers: int,
        context_size: int,
        summary_size: int,
        output_size: int,
        maxout: bool,
        tie_embeddings: bool,
        dropout: float,
        pad_id: int,
    ) -> None:
        super().__init__()
        check_sizes(
            "model.decoder",
            vocab_size=vocab_size,
            emb_size=emb_size,
            hidden_size=hidden_size,
            layers=layers,
            context_size=context_size,
            summary_size=summary_size,
            output_size=output_size,
        )
        check_dropout(dropout, "model.decoder")
        if tie_embeddings and output_size != emb_size:
            raise ConfigError(
                f"model.decoder.tie_embeddings needs output_size == emb_size, got "
                f"{output_size} and {emb_size}."
            )
        self.embed = nn.Embedding(vocab_size, emb_size, padding_idx=pad_id)
        self.bridge = nn.Linear(summary_size, layers * hidden_size)  # W_s
        self.rnn = rnn_class(cell, "model.decoder")(
            emb_size + context_size,
            hidden_size,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.pre_output = nn.Linear(
            hidden_size + context_size + emb_size, output_size * (2 if maxout else 1)
        )  # U_o
        self.out = nn.Linear(output_size, vocab_size)  # W_o
        if tie_embeddings:
            self.out.weight = self.embed.weight
        self.dropout = nn.Dropout(dropout)
        self.lstm, self.maxout = cell == "lstm", maxout
        self.layers, self.hidden_size, self.output_size = layers, hidden_size, output_size
        self.context_size, self.summary_size = context_size, summary_size

    def init_state(self, memory: Memory) -> State:
        """s_0 for each Memory row: [layers, M, H] (beam search repeats it for its K beams)."""
        batch = memory.summary.shape[0]
        h0 = torch.tanh(self.bridge(memory.summary))  # [B, layers * H]
        h0 = h0.view(batch, self.layers, self.hidden_size).transpose(0, 1).contiguous()
        return (h0, torch.zeros_like(h0)) if self.lstm else h0  # [layers, B, H]

    def query(self, state: State) -> Tensor:
        """s_{i-1}, the attention query: the top layer's hidden state, [B, H]."""
        return (state[0] if self.lstm else state)[-1]

    def forward(self, tgt_in: Tensor, memory: Memory, context: ContextModule) -> DecoderOutput:
        """Teacher forcing: tgt_in [B, T] BOS followed by the target without its last token,
        one row per Memory row."""
        emb = self.dropout(self.embed(tgt_in))  # [B, T, E]
        state = self.init_state(memory)
        fixed = context.fixed(memory)  # [B, C] when the context is the same at every step
        if fixed is not None:  # the fast path (module docstring): the recurrence in one call
            ctx = fixed[:, None].expand(-1, tgt_in.shape[1], -1)  # [B, T, C]
            out, _ = self.rnn(torch.cat([emb, ctx], dim=-1), state)  # [B, T, H]
            return DecoderOutput(self.output(out, ctx, emb), None)
        outs, ctxs, weights = [], [], []
        for i in range(tgt_in.shape[1]):
            c, a = context(memory, self.query(state))  # [B, C], [B, S]
            out, state = self.rnn(torch.cat([emb[:, i], c], dim=-1)[:, None], state)
            outs.append(out)
            ctxs.append(c)
            weights.append(a)
        out, ctx = torch.cat(outs, dim=1), torch.stack(ctxs, dim=1)  # [B, T, H], [B, T, C]
        return DecoderOutput(self.output(out, ctx, emb), torch.stack(weights, dim=1))

    def step(
        self, y_prev: Tensor, state: State, memory: Memory, context: ContextModule
    ) -> tuple[Tensor, State, Tensor | None]:
        """One step for search: y_prev [N] -> logits [N, V], the new state [layers, N, H],
        weights [N, S]. N = M * K rows for a Memory of M rows: beam search's K beams of a
        sentence share its row (models/context.py); greedy has K = 1."""
        emb = self.dropout(self.embed(y_prev))  # [B, E]
        c, a = context(memory, self.query(state))  # [B, C]
        out, state = self.rnn(torch.cat([emb, c], dim=-1)[:, None], state)  # [B, 1, H]
        return self.output(out, c[:, None], emb[:, None])[:, 0], state, a

    def output(self, out: Tensor, ctx: Tensor, emb: Tensor) -> Tensor:
        """[B, T, H], [B, T, C], [B, T, E] -> logits [B, T, V], over all steps at once."""
        t = self.pre_output(torch.cat([self.dropout(out), ctx, emb], dim=-1))
        if self.maxout:
            t = t.view(*t.shape[:-1], self.output_size, 2).amax(dim=-1)  # [B, T, output]
        else:
            t = torch.tanh(t)
        return self.out(self.dropout(t))
