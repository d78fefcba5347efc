"""The source encoder: embeddings and a (bi)directional GRU or LSTM over packed sequences.

RNNencdec and RNNsearch of Bahdanau et al. (2015) share this encoder; RNNsearch's annotations
h_j = [forward h_j; backward h_j] (Section 3.2, Appendix A.2.1) are `states`. Packing means no
computation on pads: a sentence's final forward state is its last real token's, never a pad's.

Deviations from the papers (README, "Deviations from the papers"):
- RNNencdec's encoder (Cho et al. 2014) is unidirectional; here every variant shares the
  bidirectional encoder by default (`arch.bidirectional`), so the variants differ only in the
  context module, and the final state is [forward at the last token; backward at the first].
- The recurrence is PyTorch's GRU: its candidate state applies the reset gate after the
  recurrent matrix, r * (U h + b), where the papers' gated unit applies it before, U (r * h);
  and it has biases, which the papers' equations do not show. An LSTM (`arch.cell=lstm`) is an
  option the papers do not have.
- Dropout on the embeddings (`dropout`): not in the papers' description.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nmt_bottleneck.errors import ConfigError

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


class EncoderOutput(NamedTuple):
    states: Tensor  # [B, S, D] every position's state (D = H * directions), zeros on pads
    final: Tensor  # [B, D] forward's state at the last real token; backward's at the first
    mask: Tensor  # [B, S] True on real tokens


def check_sizes(where: str, **sizes: int) -> None:
    """Raise ConfigError naming every size that is not a positive integer."""
    bad = {k: v for k, v in sizes.items() if not isinstance(v, int) or v <= 0}
    if bad:
        raise ConfigError(
            f"{where}: sizes must be positive integers, got "
            + ", ".join(f"{k}={v!r}" for k, v in bad.items())
            + "."
        )


def rnn_class(cell: str, where: str) -> type[nn.RNNBase]:
    if cell not in CELLS:
        raise ConfigError(f"{where}.cell = {cell!r}; valid options: {', '.join(CELLS)}.")
    return CELLS[cell]


def check_dropout(dropout: float, where: str) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"{where}.dropout = {dropout}; it must be in [0, 1).")


class Encoder(nn.Module):
    """Embeds the source and runs the RNN over it; returns all states, the final state and the
    mask. Args: vocab_size V, emb_size E, hidden_size H per direction, cell "gru" | "lstm",
    bidirectional, layers, dropout (on embeddings and between layers), pad_id."""

    def __init__(
        self,
        vocab_size: int,
        emb_size: int,
        hidden_size: int,
        cell: Literal["gru", "lstm"],
        bidirectional: bool,
        layers: int,
        dropout: float,
        pad_id: int,
    ) -> None:
        super().__init__()
        check_sizes(
            "model.encoder",
            vocab_size=vocab_size,
            emb_size=emb_size,
            hidden_size=hidden_size,
            layers=layers,
        )
        check_dropout(dropout, "model.encoder")
        self.embed = nn.Embedding(vocab_size, emb_size, padding_idx=pad_id)
        self.rnn = rnn_class(cell, "model.encoder")(
            emb_size,
            hidden_size,
            num_layers=layers,
            bidirectional=bidirectional,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.directions = 2 if bidirectional else 1
        self.layers, self.hidden_size = layers, hidden_size

    @property
    def out_size(self) -> int:
        """D, the size of each state: H times the number of directions."""
        return self.hidden_size * self.directions

    def forward(self, src: Tensor, src_lens: Tensor) -> EncoderOutput:
        """src: [B, S] token ids; src_lens: [B] real lengths (>= 1)."""
        batch, src_len = src.shape  # B, S
        emb = self.dropout(self.embed(src))  # [B, S, E]
        packed = pack_padded_sequence(emb, src_lens.cpu(), batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)
        if isinstance(h_n, tuple):  # LSTM: (h, c); the state passed on is h
            h_n = h_n[0]
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=src_len)  # [B, S, D]
        top = h_n.view(self.layers, self.directions, batch, self.hidden_size)[-1]  # [dirs, B, H]
        final = top.transpose(0, 1).reshape(batch, self.out_size)  # [B, D]
        mask = torch.arange(src_len, device=src.device)[None, :] < src_lens.to(src.device)[:, None]
        return EncoderOutput(states, final, mask)
