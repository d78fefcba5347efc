"""Search (DESIGN.md, "Tests"): greedy and beam search stop at EOS, respect each sentence's
max length, give the same results batched as one by one, beam size 1 is greedy, the returned
scores are the model's teacher-forced log-probabilities, finished sentences leave the batch,
and the attention weights have one row per decoder step."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from nmt_bottleneck.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.models.search import (
    COMPACT_AT,
    Hypotheses,
    beam_search,
    greedy,
    max_lengths,
)
from nmt_bottleneck.models.seq2seq import Seq2Seq
from tests.models.variants import ALIGNING, CELLS, VARIANTS, V, model_for

KINDS = ["greedy", "beam"]
LENS = (7, 3, 5, 1, 6, 9, 2, 4)  # source lengths, EOS included
RATIO, EXTRA = 1.5, 2
MAX_LENS = [12, 6, 9, 3, 11, 15, 5, 8]  # floor(1.5 * len) + 2


@pytest.fixture(autouse=True)
def one_thread():
    """The models are tiny: more threads only add overhead (and contention on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def sources(seed: int = 0, lens: tuple[int, ...] = LENS) -> tuple[torch.Tensor, torch.Tensor]:
    """Random sources of the given lengths, each ending in EOS as the pipeline makes them."""
    g = torch.Generator().manual_seed(seed)
    src = torch.full((len(lens), max(lens)), PAD_ID)
    for b, n in enumerate(lens):
        src[b, : n - 1] = torch.randint(4, V, (n - 1,), generator=g)
        src[b, n - 1] = EOS_ID
    return src, torch.tensor(lens)


def search(
    kind: str,
    model: Seq2Seq,
    src: torch.Tensor,
    src_lens: torch.Tensor,
    beam_size: int = 3,
    alpha: float = 0.0,
    ratio: float = RATIO,
    extra: int = EXTRA,
) -> Hypotheses:
    if kind == "greedy":
        return greedy(model, src, src_lens, ratio, extra)
    return beam_search(model, src, src_lens, beam_size, alpha, ratio, extra)


def count_steps(model: Seq2Seq, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the batch size (rows) of every decoder step."""
    rows, step = [], model.decoder.step

    def counted(y_prev, state, memory, context):
        rows.append(y_prev.shape[0])
        return step(y_prev, state, memory, context)

    monkeypatch.setattr(model.decoder, "step", counted)
    return rows


def teacher_forced_scores(model: Seq2Seq, src, src_lens, out: Hypotheses) -> list[float]:
    """log p(tokens (+ EOS if ended) | source), each sentence alone, by model(src, tgt_in)."""
    scores = []
    for b, (tokens, ended) in enumerate(zip(out.tokens, out.ended, strict=True)):
        n = int(src_lens[b])
        tgt = [*tokens, EOS_ID] if ended else tokens
        with torch.no_grad():
            tgt_in = torch.tensor([[BOS_ID, *tgt[:-1]]])
            logits = model(src[b : b + 1, :n], src_lens[b : b + 1], tgt_in).logits[0]  # [T, V]
        logp = F.log_softmax(logits, dim=-1)
        scores.append(logp.gather(1, torch.tensor(tgt)[:, None]).sum().item())
    return scores


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_eos_ends_the_search_after_one_step(variant, cell, kind, monkeypatch):
    model = model_for(variant, cell, {EOS_ID: 50.0})
    rows = count_steps(model, monkeypatch)
    src, src_lens = sources()
    out = search(kind, model, src, src_lens)
    assert out.tokens == [[]] * len(LENS) and out.ended == [True] * len(LENS)
    assert all(-1e-3 < s <= 0 for s in out.scores)
    assert len(rows) == 1  # no step after every sentence has ended
    if model.context.static:
        assert out.attention is None
    else:
        assert [tuple(a.shape) for a in out.attention] == [(1, n) for n in LENS]  # the EOS step


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_output_never_holds_pad_bos_or_eos(variant, kind):
    model = model_for(variant, bias={PAD_ID: 50.0, BOS_ID: 50.0, EOS_ID: 1.0})
    out = search(kind, model, *sources(1))
    assert any(out.tokens)
    assert all(t not in (PAD_ID, BOS_ID, EOS_ID) for tokens in out.tokens for t in tokens)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_each_sentence_stops_at_its_own_max_length(variant, cell, kind, monkeypatch):
    model = model_for(variant, cell, {EOS_ID: -50.0})
    rows = count_steps(model, monkeypatch)
    src, src_lens = sources()
    out = search(kind, model, src, src_lens, beam_size=3)
    assert max_lengths(src_lens, RATIO, EXTRA).tolist() == MAX_LENS
    assert [len(t) for t in out.tokens] == MAX_LENS
    assert out.ended == [False] * len(LENS)
    expected = teacher_forced_scores(model, src, src_lens, out)  # truncated: no EOS term
    assert out.scores == pytest.approx(expected, abs=1e-4)
    steps = range(1, max(MAX_LENS) + 1)
    # a sentence leaves the batch (its K rows) after its last step: with this few sentences,
    # one stopped sentence is already 1/COMPACT_AT of greedy's batch
    width = 1 if kind == "greedy" else 3
    assert len(LENS) <= COMPACT_AT
    assert rows == [width * sum(m >= t for m in MAX_LENS) for t in steps]
    if not model.context.static:
        assert [tuple(a.shape) for a in out.attention] == list(zip(MAX_LENS, LENS, strict=True))


def test_max_length_rule():
    lens = torch.tensor([1, 2, 10, 33])
    assert max_lengths(lens, 1.5, 0).tolist() == [1, 3, 15, 49]
    assert max_lengths(lens, 0.2, 0).tolist() == [1, 1, 2, 6]  # at least one step
    assert max_lengths(lens, 1.0, 10).tolist() == [11, 12, 20, 43]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_equals_one_by_one(variant, cell, kind):
    model = model_for(variant, cell, {EOS_ID: 1.0})  # sentences end at different steps
    src, src_lens = sources(2)
    batched = search(kind, model, src, src_lens, beam_size=4, ratio=1.0, extra=3)
    assert len({len(t) for t in batched.tokens}) > 1
    for b, n in enumerate(LENS):
        alone = search(kind, model, src[b : b + 1, :n], src_lens[b : b + 1], 4, 0.0, 1.0, 3)
        assert alone.tokens[0] == batched.tokens[b]
        assert alone.ended[0] == batched.ended[b]
        assert alone.scores[0] == pytest.approx(batched.scores[b], abs=1e-4)
        if not model.context.static:
            torch.testing.assert_close(alone.attention[0], batched.attention[b])


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_greedy_keeps_stopped_sentences_until_they_are_worth_dropping(variant, cell, monkeypatch):
    """40 sentences: one stopping sentence is under 1/COMPACT_AT of the batch, so it stays (fed
    PAD) for some steps and the batch shrinks in groups; every output is still its own."""
    model = model_for(variant, cell, {EOS_ID: 1.0})
    g = torch.Generator().manual_seed(5)
    lens = tuple(int(n) for n in torch.randint(1, 10, (40,), generator=g))
    src, src_lens = sources(4, lens)
    rows = count_steps(model, monkeypatch)
    batched = greedy(model, src, src_lens, 1.0, 3)
    taken = [len(t) + e for t, e in zip(batched.tokens, batched.ended, strict=True)]  # steps
    present, expected, stayed = len(lens), [], False  # the rule, step by step
    for step in range(1, max(taken) + 1):
        expected.append(present)
        alive = sum(n > step for n in taken)  # still stepping after this step
        if alive == 0:
            break
        if (present - alive) * COMPACT_AT >= present:
            present = alive
        stayed |= present > alive
    assert rows == expected
    assert stayed and len(set(rows)) > 2  # stopped sentences stayed a while; several drops
    for b, n in enumerate(lens):
        alone = greedy(model, src[b : b + 1, :n], src_lens[b : b + 1], 1.0, 3)
        assert (alone.tokens[0], alone.ended[0]) == (batched.tokens[b], batched.ended[b])
        assert alone.scores[0] == pytest.approx(batched.scores[b], abs=1e-4)
        if not model.context.static:
            torch.testing.assert_close(alone.attention[0], batched.attention[b])


@pytest.mark.parametrize("alpha", [0.0, 0.8])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_beam_size_one_is_greedy(variant, cell, alpha):
    model = model_for(variant, cell, {EOS_ID: 1.0})
    src, src_lens = sources(3)
    expected = greedy(model, src, src_lens, 1.0, 3)
    got = beam_search(model, src, src_lens, 1, alpha, 1.0, 3)
    assert got.tokens == expected.tokens and got.ended == expected.ended
    assert got.scores == pytest.approx(expected.scores, abs=1e-5)
    if not model.context.static:
        for a, b in zip(got.attention, expected.attention, strict=True):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "kind, alpha", [("greedy", 0.0), ("beam", 0.0), ("beam", 1.0)], ids=["greedy", "beam", "norm"]
)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_scores_are_teacher_forced_log_probs(variant, cell, kind, alpha):
    """Ended hypotheses (their EOS term included) and truncated ones: the EOS bias is the first
    from 3 up in steps of 1 that ends some (truncated ones are also checked with the max
    length)."""
    src, src_lens = sources(4)
    for eos_bias in range(3, 40):
        model = model_for(variant, cell, {EOS_ID: eos_bias})
        out = search(kind, model, src, src_lens, beam_size=4, alpha=alpha)
        if any(out.ended):
            break
    assert any(out.ended)
    expected = teacher_forced_scores(model, src, src_lens, out)
    assert out.scores == pytest.approx(expected, abs=1e-4)


def best_of_all(model: Seq2Seq, src: torch.Tensor, n: int, alpha: float):
    """Enumerate every hypothesis of at most 2 steps for the source src[:n], score each by
    teacher forcing, and return the best-ranked as (tokens, ended, score)."""
    firsts = [t for t in range(V) if t not in (PAD_ID, BOS_ID, EOS_ID)]
    tgt_in = torch.tensor([[BOS_ID, a] for a in firsts])  # [F, 2]
    src_f, lens_f = src[None, :n].expand(len(firsts), -1), torch.full((len(firsts),), n)
    with torch.no_grad():
        logp = F.log_softmax(model(src_f, lens_f, tgt_in).logits, dim=-1).tolist()  # [F, 2, V]
    first = logp[0][0]
    hyps = [([], True, first[EOS_ID])]
    for i, a in enumerate(firsts):
        hyps.append(([a], True, first[a] + logp[i][1][EOS_ID]))
        hyps += [([a, b], False, first[a] + logp[i][1][b]) for b in firsts]
    return max(hyps, key=lambda h: h[2] / (len(h[0]) + h[1]) ** alpha)


def mixed_winners(variant: str, src: torch.Tensor, alpha: float) -> tuple[Seq2Seq, list]:
    """A model of `variant` whose best hypotheses of at most 2 steps (by enumeration) are of
    more than one kind (ended after 0 or 1 tokens, or truncated at 2) over the sources `src`:
    the first EOS bias of a few that gives that; and those best hypotheses."""
    for eos_bias in (0.0, 1.0, 2.0, 4.0, 8.0, 16.0):
        model = model_for(variant, bias={EOS_ID: eos_bias})
        best = [best_of_all(model, src[b], n, alpha) for b, n in enumerate(LENS)]
        if len({(len(tokens), ended) for tokens, ended, _ in best}) > 1:
            return model, best
    pytest.fail(f"{variant}: no EOS bias gives winners of more than one kind")


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_beam_wider_than_all_prefixes_is_exact_search(variant, alpha):
    """Max length 2 and K = V - 2 (every allowed first token): beam search must return the
    best of all hypotheses, so its beams must be distinct and none may be lost."""
    src, src_lens = sources(6)
    model, best = mixed_winners(variant, src, alpha)
    out = beam_search(model, src, src_lens, V - 2, alpha, 0.01, 2)  # 2 steps for every source
    for b, (tokens, ended, score) in enumerate(best):
        assert (out.tokens[b], out.ended[b]) == (tokens, ended)
        assert out.scores[b] == pytest.approx(score, abs=1e-4)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", ALIGNING)
def test_attention_has_one_row_per_step_over_real_tokens(variant, cell, kind):
    model = model_for(variant, cell, {EOS_ID: 1.0})
    src, src_lens = sources(5)
    out = search(kind, model, src, src_lens, beam_size=4)
    for tokens, ended, weights, n in zip(out.tokens, out.ended, out.attention, LENS, strict=True):
        assert weights.shape == (len(tokens) + ended, n)
        torch.testing.assert_close(weights.sum(-1), torch.ones(len(tokens) + ended))
        assert (weights >= 0).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", ALIGNING)
def test_attention_only_for_the_rows_asked(variant, kind):
    """keep_attention: the rows asked get the same weights as when every row is asked, the
    others None; the translations do not change."""
    model = model_for(variant, "gru", {EOS_ID: 1.0})
    src, src_lens = sources(5)

    def run(**keep) -> Hypotheses:
        if kind == "greedy":
            return greedy(model, src, src_lens, RATIO, EXTRA, **keep)
        return beam_search(model, src, src_lens, 4, 0.0, RATIO, EXTRA, **keep)

    every, some, none = run(), run(keep_attention=[6, 1, 6]), run(keep_attention=[])
    assert some.tokens == every.tokens == none.tokens
    assert none.attention == [None] * len(LENS)
    for b, weights in enumerate(some.attention):
        if b in (1, 6):
            torch.testing.assert_close(weights, every.attention[b])
        else:
            assert weights is None
    for bad in ([8], [-1]):
        with pytest.raises(ValueError, match=rf"keep_attention rows \[{bad[0]}\] are not all"):
            run(keep_attention=bad)


@pytest.mark.parametrize("variant", VARIANTS)
def test_beams_share_their_sentence_memory_row(variant, monkeypatch):
    """Beam search steps A * K rows of decoder state against a Memory of A rows: one per
    active sentence, never one per beam."""
    model = model_for(variant)
    src, src_lens = sources(2)
    seen, step = [], model.decoder.step

    def counted(y_prev, state, memory, context):
        seen.append((y_prev.shape[0], memory.states.shape[0]))
        return step(y_prev, state, memory, context)

    monkeypatch.setattr(model.decoder, "step", counted)
    beam_search(model, src, src_lens, 3, 0.0, RATIO, EXTRA)
    assert seen[0] == (3 * len(LENS), len(LENS))
    assert all(rows == 3 * sentences for rows, sentences in seen)
    assert seen[-1][1] < len(LENS)  # done sentences left the Memory too


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"beam_size": 0}, "eval.beam_size"),
        ({"beam_size": 2.0}, "eval.beam_size"),
        ({"max_len_ratio": 0.0}, "eval.max_len_ratio"),
        ({"max_len_ratio": -1.0}, "eval.max_len_ratio"),
        ({"length_penalty": -0.5}, "eval.length_penalty"),
        ({"max_len_extra": -1}, "eval.max_len_extra"),
    ],
)
def test_bad_settings_name_their_key(settings, key):
    model = model_for(VARIANTS[0])
    src, src_lens = sources()
    args = {"beam_size": 2, "length_penalty": 0.0, "max_len_ratio": 1.0, "max_len_extra": 0}
    with pytest.raises(ConfigError, match=key):
        beam_search(model, src, src_lens, **{**args, **settings})
    if "max_len" in key:
        bad = {**args, **settings}
        with pytest.raises(ConfigError, match=key):
            greedy(model, src, src_lens, bad["max_len_ratio"], bad["max_len_extra"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_training_mode_is_refused_and_an_empty_batch_is_empty(variant):
    model = model_for(variant)
    src, src_lens = sources()
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        greedy(model.train(), src, src_lens, 1.0)
    model.eval()
    for kind in KINDS:
        out = search(kind, model, src[:0], src_lens[:0])
        assert out == Hypotheses([], [], None if model.context.static else [], [])
