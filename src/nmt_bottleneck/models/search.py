"""Greedy and beam search, shared by every variant (Sutskever et al. 2014, Section 3.2;
Bahdanau et al. 2015, Section 4.2: "a beam search to find a translation that approximately
maximizes the conditional probability").

Both decode a whole batch with `Decoder.step`, one target token per step, starting from BOS.
`model.eval()` is the caller's job (a model in training mode is refused: dropout would make the
search random); both functions run under `torch.inference_mode` themselves.

Max length: sentence b may take at most
    max_len_b = max(1, floor(max_len_ratio * src_lens[b]) + max_len_extra)
decoder steps, where src_lens counts every real source token as given (the EOS that the data
pipeline appends included). A step emits EOS (the hypothesis ends; EOS is not returned) or a
token, so a hypothesis that did not end by then is truncated (`ended` False) with exactly
max_len_b tokens, and one that ended has at most max_len_b - 1.

PAD and BOS are never emitted: their log-probabilities are set to -inf after the softmax, so
scores stay the model's own log-probabilities, the ones teacher forcing gives.

Scores: `Hypotheses.scores` is log p(y | x), the sum of the chosen tokens' log-probabilities with
EOS included when the hypothesis ended. Beam search ranks hypotheses by
    score / steps ** length_penalty,   steps = len(tokens) + ended >= 1
(length_penalty = alpha >= 0: 0 ranks by the sum, 1 by the mean per step; not GNMT's
((5 + steps) / 6) ** alpha of Wu et al. 2016).

Beam search keeps K beams per sentence, all sentences' beams in one flat batch of A * K rows
(A active sentences); the Memory keeps one row per sentence, which its K beams share (see
models/context.py), so it is neither copied nor read K times. Each step takes every
sentence's 2K best continuations (beam score + log p); the EOS ones among the K best become
finished hypotheses, and the K best non-EOS ones are the next beams (as fairseq does, so
finishing never narrows the beam). A sentence is done when
  - it has K finished hypotheses, or
  - no live beam can beat its best finished one (a live score s <= 0 can at best rank
    s / max_len_b ** alpha, since scores only fall and lengths are at most max_len_b), or
  - it reached max_len_b: its live beams then join its hypotheses as truncated ones.
A done sentence is dropped from the batch: its rows leave the state and the Memory
(`index_select`), so later steps compute only on unfinished sentences. Its best-ranked
hypothesis is returned. With K = 1 this is greedy search, step for step, for any alpha (at the
last step the EOS hypothesis and the truncated one have the same length). With K at least the
number of possible prefixes, it is exact search (tested against enumeration).

Greedy drops stopped sentences from its batch too, in groups (once they are 1/8 of it) so the
copy is amortized. Host syncs: greedy has one per step (how many sentences have stopped); beam
search has a few small ones per step (which hypotheses finished and which sentences are done
are decided on the host).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import NamedTuple

import torch
from torch import Tensor

from nmt_bottleneck.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.models.context import Memory
from nmt_bottleneck.models.decoder import State
from nmt_bottleneck.models.seq2seq import Seq2Seq

BANNED = [PAD_ID, BOS_ID]  # never emitted
DEFAULT_MAX_LEN_EXTRA = 10
COMPACT_AT = 8  # greedy drops stopped sentences once they are 1/8 of its batch


class Hypotheses(NamedTuple):
    """One output per input sentence, in the batch's order."""

    tokens: list[list[int]]  # without BOS and EOS
    scores: list[float]  # log p(tokens (+ EOS if ended) | source), unnormalized
    attention: list[Tensor | None] | None  # per sentence [len(tokens) + ended, S_real] on the
    # CPU, the EOS step's row included; None for sentences not asked for (`keep_attention`), and
    # the whole list None for a static context (it gives no weights: models/context.py)
    ended: list[bool]  # True: ended with EOS; False: truncated at the max length


class Beams(NamedTuple):
    """The active sentences' beams: A sentences, K beams each, t steps taken."""

    rows: list[int]  # [A] each sentence's position in the input batch
    max_len: list[int]  # [A] the most steps each may take
    scores: Tensor  # [A, K] each beam's sum of log-probabilities
    tokens: Tensor  # [A, K, 1 + t] BOS and the tokens so far
    state: State  # [layers, A * K, H] (LSTM: (h, c))
    memory: Memory  # one row per sentence, shared by its K beams: [A, ...]


class Continuations(NamedTuple):
    """Each active sentence's 2K best one-token continuations of its beams, best first."""

    scores: Tensor  # [A, 2K] sum of log-probabilities
    beams: Tensor  # [A, 2K] the beam (0..K-1) each extends
    tokens: Tensor  # [A, 2K] the token it adds


class Finished(NamedTuple):
    """A hypothesis out of the search: ended with EOS, or truncated at the max length."""

    rank: float  # score / steps ** alpha
    score: float
    tokens: list[int]
    ended: bool


def check_search_args(
    beam_size: int, length_penalty: float, max_len_ratio: float, max_len_extra: int
) -> None:
    """Raise ConfigError naming the first bad `eval.*` setting."""
    rules = [
        ("beam_size", beam_size, isinstance(beam_size, int) and beam_size >= 1, "an int >= 1"),
        ("length_penalty", length_penalty, length_penalty >= 0, ">= 0 (0: no normalization)"),
        ("max_len_ratio", max_len_ratio, max_len_ratio > 0, "> 0"),
        (
            "max_len_extra",
            max_len_extra,
            isinstance(max_len_extra, int) and max_len_extra >= 0,
            "an int >= 0",
        ),
    ]
    for key, value, ok, want in rules:
        if not ok:
            raise ConfigError(f"eval.{key} = {value!r}; it must be {want}.")


def max_lengths(src_lens: Tensor, max_len_ratio: float, max_len_extra: int) -> Tensor:
    """src_lens [B] -> the most decoder steps per sentence [B]:
    max(1, floor(max_len_ratio * src_len) + max_len_extra), in float64."""
    steps = torch.floor(src_lens.double() * max_len_ratio).long() + max_len_extra
    return steps.clamp(min=1)


def attention_rows(keep_attention: Collection[int] | None, batch: int) -> list[int]:
    """The rows of a batch of `batch` whose attention weights to return, sorted, each once
    (None: all); a ValueError names any row outside the batch."""
    rows = list(range(batch)) if keep_attention is None else sorted(set(keep_attention))
    if rows and (rows[0] < 0 or rows[-1] >= batch):
        raise ValueError(f"keep_attention rows {rows} are not all within 0..{batch - 1}.")
    return rows


def check_eval(model: Seq2Seq) -> None:
    if model.training:
        raise ValueError("search needs model.eval() first: dropout would make it random.")


def log_probs(
    model: Seq2Seq, y_prev: Tensor, state: State, memory: Memory
) -> tuple[Tensor, State, Tensor | None]:
    """One decoder step: y_prev [N] -> log-probabilities [N, V] (PAD and BOS at -inf), the
    new state, attention weights [N, S] (None for static contexts)."""
    logits, state, weights = model.decoder.step(y_prev, state, memory, model.context)
    logp = torch.log_softmax(logits.float(), dim=-1)  # [N, V]
    logp[:, BANNED] = float("-inf")
    return logp, state, weights


def empty(model: Seq2Seq) -> Hypotheses:
    return Hypotheses([], [], None if model.context.static else [], [])


@torch.inference_mode()
def greedy(
    model: Seq2Seq,
    src: Tensor,
    src_lens: Tensor,
    max_len_ratio: float,
    max_len_extra: int = DEFAULT_MAX_LEN_EXTRA,
    keep_attention: Collection[int] | None = None,
) -> Hypotheses:
    """The most likely token at every step. src [B, S] (PAD after each sentence), src_lens [B].
    Sentence b stops at EOS or after max_len_b steps (module docstring). Attention weights are
    returned for the rows `keep_attention` of src (None: every row). Stopped sentences
    leave the batch (state and Memory rows) once they are at least 1/COMPACT_AT of it, so a
    long or never-ending sentence does not keep the whole batch stepping; until then they feed
    PAD and their outputs are ignored. One host sync per step: counting the stopped rows (the
    compaction itself needs none)."""
    check_search_args(1, 0.0, max_len_ratio, max_len_extra)
    check_eval(model)
    batch = src.shape[0]
    kept = attention_rows(keep_attention, batch)
    if batch == 0:
        return empty(model)
    device = src.device
    src_lens = src_lens.to(device)
    max_len = max_lengths(src_lens, max_len_ratio, max_len_extra)  # [B]
    limit = int(max_len.max())
    memory = model.encode(src, src_lens)
    state = model.decoder.init_state(memory)
    tokens = torch.full((batch, limit), PAD_ID, dtype=torch.long, device=device)  # [B, T]
    weights = slot = None
    if not model.context.static and kept:
        # [B_kept + 1, T, S]: the kept rows', then one row that the rows not kept overwrite
        weights = memory.mask.new_zeros((len(kept) + 1, limit, src.shape[1]), dtype=torch.float)
        slot = torch.full((batch,), len(kept), dtype=torch.long, device=device)  # [B]
        slot[kept] = torch.arange(len(kept), device=device)  # row b's weights go to slot[b]
    score, steps = torch.zeros(batch, device=device), torch.zeros_like(max_len)  # [B]
    ended = torch.zeros(batch, dtype=torch.bool, device=device)  # [B]
    rows = torch.arange(batch, device=device)  # [N] the present rows' places in the input batch
    y = torch.full((batch,), BOS_ID, dtype=torch.long, device=device)  # [N]
    done = torch.zeros_like(ended)  # [N] stopped but still present
    for t in range(limit):
        logp, state, a = log_probs(model, y, state, memory)
        best, y = logp.max(dim=-1)  # [N], [N]
        live = ~done
        y = y.masked_fill(done, PAD_ID)  # stopped rows feed PAD (zero embedding)
        score.index_add_(0, rows, best.masked_fill(done, 0.0))
        steps.index_add_(0, rows, live.long())
        tokens[rows, t] = y
        if weights is not None:
            weights[slot[rows], t] = a
        hit = y == EOS_ID
        ended.index_copy_(0, rows, ended[rows] | hit)
        done = done | hit | (steps[rows] >= max_len[rows])
        stopped = int(done.sum())  # the step's one host sync
        if stopped == len(rows):
            break
        if stopped * COMPACT_AT >= len(rows):
            keep = done.to(torch.int8).argsort(stable=True)[: len(rows) - stopped]  # [N'] no sync
            rows, y, done = rows[keep], y[keep], done[keep]
            state, memory = select_state(state, keep), select_memory(memory, keep)
    weights = None if weights is None else weights[: len(kept), : t + 1]
    static = model.context.static
    return greedy_output(tokens[:, : t + 1], score, steps, ended, weights, src_lens, kept, static)


def greedy_output(
    tokens: Tensor,
    score: Tensor,
    steps: Tensor,
    ended: Tensor,
    weights: Tensor | None,
    src_lens: Tensor,
    kept: list[int],
    static: bool,
) -> Hypotheses:
    """tokens [B, T] (EOS then PAD after the end), score, steps, ended, src_lens [B],
    weights [len(kept), T, S] for the rows `kept` (None when no row is kept) -> Hypotheses,
    cut to each sentence's own length; attention None for static contexts, else a list with
    None for the rows not kept."""
    steps_, ended_ = steps.tolist(), ended.tolist()
    out = [row[: n - e] for row, n, e in zip(tokens.tolist(), steps_, ended_, strict=True)]
    attention = None if static else [None] * len(out)
    if weights is not None:
        weights, lens = weights.cpu(), src_lens.tolist()
        for i, b in enumerate(kept):
            attention[b] = weights[i, : steps_[b], : lens[b]]
    return Hypotheses(out, score.tolist(), attention, ended_)


@torch.inference_mode()
def beam_search(
    model: Seq2Seq,
    src: Tensor,
    src_lens: Tensor,
    beam_size: int,
    length_penalty: float,
    max_len_ratio: float,
    max_len_extra: int = DEFAULT_MAX_LEN_EXTRA,
    keep_attention: Collection[int] | None = None,
) -> Hypotheses:
    """Beam search with K = beam_size beams per sentence, all sentences at once (module
    docstring). src [B, S] (PAD after each sentence), src_lens [B]; length_penalty is alpha in
    the ranking score / steps ** alpha. The attention of the chosen hypotheses of the rows
    `keep_attention` (None: every row) is recomputed by one teacher-forced pass over them (the
    decoder is deterministic given the prefix, so these are the weights along the chosen beam
    path); asking for few rows saves most of that pass."""
    check_search_args(beam_size, length_penalty, max_len_ratio, max_len_extra)
    check_eval(model)
    kept = attention_rows(keep_attention, src.shape[0])
    if src.shape[0] == 0:
        return empty(model)
    src_lens = src_lens.to(src.device)
    max_len = max_lengths(src_lens, max_len_ratio, max_len_extra).tolist()
    finished: list[list[Finished]] = [[] for _ in max_len]
    beams = start_beams(model, src, src_lens, beam_size, max_len)
    step = 0
    while beams.rows:
        step += 1
        y_prev = beams.tokens[:, :, -1].reshape(-1)  # [A * K]
        logp, state, _ = log_probs(model, y_prev, beams.state, beams.memory)
        cont = best_continuations(beams.scores, logp, beam_size)
        collect_ended(finished, beams, cont, length_penalty, step)
        beams = advance(beams, cont, state)
        beams = drop_done(finished, beams, length_penalty, step)
    best = [max(hyps, key=lambda h: h.rank) for hyps in finished]
    tokens, ended = [h.tokens for h in best], [h.ended for h in best]
    attention = None
    if not model.context.static:
        attention = [None] * len(best)
        if kept:
            index = torch.tensor(kept, dtype=torch.long, device=src.device)
            chosen = [tokens[b] for b in kept], [ended[b] for b in kept]
            weights = teacher_forced_attention(model, src[index], src_lens[index], *chosen)
            for b, w in zip(kept, weights, strict=True):
                attention[b] = w
    return Hypotheses(tokens, [h.score for h in best], attention, ended)


def start_beams(model: Seq2Seq, src: Tensor, src_lens: Tensor, k: int, max_len: list[int]) -> Beams:
    """Encode src [B, S] once (one Memory row per sentence) and start K beams per sentence
    from its initial decoder state. Only beam 0 is live at first (the others score -inf), so
    the first step does not pick K copies of one token."""
    batch = src.shape[0]
    memory = model.encode(src, src_lens)
    repeat = torch.arange(batch, device=src.device).repeat_interleave(k)  # [B * K]
    state = select_state(model.decoder.init_state(memory), repeat)  # [layers, B * K, H]
    scores = torch.full((batch, k), float("-inf"), device=src.device)  # [B, K]
    scores[:, 0] = 0.0
    tokens = torch.full((batch, k, 1), BOS_ID, dtype=torch.long, device=src.device)
    return Beams(list(range(batch)), max_len, scores, tokens, state, memory)


def best_continuations(scores: Tensor, logp: Tensor, k: int) -> Continuations:
    """scores [A, K], logp [A * K, V] -> the 2K best continuations per sentence."""
    active, vocab = scores.shape[0], logp.shape[-1]
    total = scores[:, :, None] + logp.view(active, k, vocab)  # [A, K, V]
    top, flat = total.view(active, k * vocab).topk(min(2 * k, k * vocab), dim=1)  # [A, 2K]
    return Continuations(top, flat // vocab, flat % vocab)


def collect_ended(
    finished: list[list[Finished]], beams: Beams, cont: Continuations, alpha: float, step: int
) -> None:
    """The EOS continuations among each sentence's K best become finished hypotheses."""
    k = beams.scores.shape[1]
    hit = (cont.tokens[:, :k] == EOS_ID) & cont.scores[:, :k].isfinite()  # [A, K]
    sent, pos = hit.nonzero(as_tuple=True)  # row-major: best first within a sentence
    if sent.numel() == 0:
        return
    tokens = beams.tokens[sent, cont.beams[sent, pos], 1:].tolist()  # the beams EOS extends
    for a, score, toks in zip(sent.tolist(), cont.scores[sent, pos].tolist(), tokens, strict=True):
        finished[beams.rows[a]].append(Finished(score / step**alpha, score, toks, True))


def advance(beams: Beams, cont: Continuations, state: State) -> Beams:
    """The K best non-EOS continuations become the beams; state [layers, A * K, H] follows
    them (each row of the new state is its parent beam's)."""
    active, k = beams.scores.shape
    order = (cont.tokens == EOS_ID).int().argsort(dim=1, stable=True)[:, :k]  # [A, K]
    parent = cont.beams.gather(1, order)  # [A, K]
    token = cont.tokens.gather(1, order)  # [A, K]
    sentence = torch.arange(active, device=parent.device)[:, None]  # [A, 1]
    tokens = torch.cat([beams.tokens[sentence, parent], token[..., None]], dim=2)
    rows = (sentence * k + parent).view(-1)  # [A * K] parents' rows in the flat batch
    state = select_state(state, rows)
    return beams._replace(scores=cont.scores.gather(1, order), tokens=tokens, state=state)


def drop_done(finished: list[list[Finished]], beams: Beams, alpha: float, step: int) -> Beams:
    """Decide which sentences are done (module docstring), add the live beams of those at
    their max length as truncated hypotheses, and keep only the other sentences' rows."""
    k = beams.scores.shape[1]
    best_live = beams.scores[:, 0].tolist()  # beams are sorted, best first
    keep, at_max = [], []
    for a, (row, limit, live) in enumerate(zip(beams.rows, beams.max_len, best_live, strict=True)):
        hyps = finished[row]
        if step >= limit:
            at_max.append(a)
        elif len(hyps) < k and max((h.rank for h in hyps), default=-math.inf) < (
            live / limit**alpha  # the best rank a live beam can still reach
        ):
            keep.append(a)
    if at_max:
        collect_truncated(finished, beams, at_max, alpha, step)
    return beams if len(keep) == len(beams.rows) else select_sentences(beams, keep)


def collect_truncated(
    finished: list[list[Finished]], beams: Beams, at_max: list[int], alpha: float, step: int
) -> None:
    """The sentences `at_max` reached their max length: their live beams become truncated
    hypotheses (not ended), ranked with the ended ones."""
    index = torch.tensor(at_max, dtype=torch.long, device=beams.scores.device)
    scores = beams.scores[index].tolist()  # [n, K]
    tokens = beams.tokens[index, :, 1:].tolist()  # [n, K, step]
    for a, row_scores, row_tokens in zip(at_max, scores, tokens, strict=True):
        hyps = finished[beams.rows[a]]
        for score, toks in zip(row_scores, row_tokens, strict=True):
            if math.isfinite(score):
                hyps.append(Finished(score / step**alpha, score, toks, False))


def select_sentences(beams: Beams, keep: list[int]) -> Beams:
    """Keep the sentences `keep` (positions among the A active): their beams, state rows and
    Memory rows; the others leave the batch."""
    k = beams.scores.shape[1]
    index = torch.tensor(keep, dtype=torch.long, device=beams.scores.device)  # [A']
    rows = (index[:, None] * k + torch.arange(k, device=index.device)).view(-1)  # [A' * K]
    return Beams(
        [beams.rows[a] for a in keep],
        [beams.max_len[a] for a in keep],
        beams.scores[index],
        beams.tokens[index],
        select_state(beams.state, rows),
        select_memory(beams.memory, index),
    )


def select_state(state: State, rows: Tensor) -> State:
    """state [layers, N, H] (LSTM: (h, c)) -> the rows `rows` [N'] of the batch."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, rows) for s in state)
    return state.index_select(1, rows)


def select_memory(memory: Memory, rows: Tensor) -> Memory:
    """Every tensor of the Memory ([N, ...]; None fields stay None) -> the rows `rows` [N']."""
    return type(memory)(*(None if x is None else x.index_select(0, rows) for x in memory))


def teacher_forced_attention(
    model: Seq2Seq, src: Tensor, src_lens: Tensor, tokens: list[list[int]], ended: list[bool]
) -> list[Tensor]:
    """Attention weights of given outputs, by one teacher-forced pass: the inputs are BOS and
    the tokens (the last one too when the output ended: its step emitted EOS). src [B, S],
    src_lens [B] -> per sentence [len(tokens) + ended, S_real] on the CPU."""
    steps = [len(t) + e for t, e in zip(tokens, ended, strict=True)]
    width = max(steps)
    tgt_in = [
        [BOS_ID, *t[: n - 1]] + [PAD_ID] * (width - n) for t, n in zip(tokens, steps, strict=True)
    ]
    weights = model(src, src_lens, torch.tensor(tgt_in, device=src.device)).attention.cpu()
    lens = src_lens.tolist()
    return [weights[b, :n, : lens[b]] for b, n in enumerate(steps)]
