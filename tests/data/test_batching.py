"""Token-budget batching: every sentence once per epoch, within budget, little padding, seeded
order, disjoint DDP shards; collate adds BOS/EOS and pads."""

from __future__ import annotations

import gzip
import itertools
import random

import pytest

from nmt_bottleneck.data.batching import TokenBudgetSampler, collate
from nmt_bottleneck.errors import ConfigError


def hansard_like_lengths(n: int = 5000, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [min(80, max(2, int(rng.lognormvariate(2.8, 0.6)))) for _ in range(n)]


def padding_fraction(batches, lengths) -> float:
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return 1 - sum(lengths) / padded


def test_every_sentence_once_and_within_budget():
    lengths = [*hansard_like_lengths(), 500]  # one sentence over the budget alone
    sampler = TokenBudgetSampler(lengths, max_tokens=400, shuffle=True, seed=1)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 400
    assert len(sampler) == len(batches)


def test_bucketing_pads_far_less_than_random_batches():
    lengths = hansard_like_lengths()
    bucketed = list(TokenBudgetSampler(lengths, max_tokens=600, shuffle=True, seed=2))
    order = list(range(len(lengths)))
    random.Random(2).shuffle(order)
    size = round(len(lengths) / len(bucketed))  # same number of batches, unsorted
    unsorted = [order[i : i + size] for i in range(0, len(order), size)]
    assert padding_fraction(bucketed, lengths) < 0.1
    assert padding_fraction(bucketed, lengths) < padding_fraction(unsorted, lengths) / 3


def test_order_is_fixed_by_seed_and_epoch():
    lengths = hansard_like_lengths(800)

    def plan(seed: int, epoch: int) -> list[list[int]]:
        sampler = TokenBudgetSampler(lengths, max_tokens=300, shuffle=True, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert plan(3, 0) == plan(3, 0)
    assert plan(3, 0) != plan(3, 1)
    assert plan(3, 0) != plan(4, 0)
    fixed = TokenBudgetSampler(lengths, max_tokens=300, shuffle=False, seed=3)
    first = list(fixed)
    fixed.set_epoch(5)
    assert list(fixed) == first


def reference_batches(lengths: list[int], max_tokens: int, seed: int, epoch: int, bucket: int):
    """The token-budget bucketing written out plainly: seeded shuffle; pools of `bucket`
    batches' worth of rows, each sorted by length and cut greedily within the budget; the
    batches shuffled."""
    rng = random.Random(f"{seed}/{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = max(1, bucket * max_tokens // max(1, sum(lengths) // len(lengths)))
    batches = []
    for start in range(0, len(order), pool):
        batch: list[int] = []
        for row in sorted(order[start : start + pool], key=lengths.__getitem__):
            if batch and max(lengths[i] for i in [*batch, row]) * (len(batch) + 1) > max_tokens:
                batches.append(batch)
                batch = []
            batch.append(row)
        batches.append(batch)
    rng.shuffle(batches)
    return batches


@pytest.mark.parametrize(("max_tokens", "bucket"), [(400, 100), (3000, 10), (600, 7)])
def test_batches_match_the_plain_algorithm(max_tokens, bucket):
    """Without max_sentences the sampler is exactly the plain token-budget bucketing."""
    lengths = hansard_like_lengths()
    sampler = TokenBudgetSampler(lengths, max_tokens, True, 7, bucket_batches=bucket)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        assert sampler.mine() == reference_batches(lengths, max_tokens, 7, epoch, bucket)


def test_batches_counted_in_sentences():
    """With `max_sentences` and an unbounded token budget, the batches are the sorted rows cut
    every 64 (one bucket here), the usual fixed-size length bucketing."""
    lengths = hansard_like_lengths(5000)
    batches = list(TokenBudgetSampler(lengths, 10**9, True, 3, max_sentences=64))
    assert sorted(i for b in batches for i in b) == list(range(5000))
    full, rest = divmod(5000, 64)
    assert sorted(len(b) for b in batches) == sorted([64] * full + [rest])
    by_length = sorted(range(5000), key=lengths.__getitem__)
    cut = [sorted(lengths[i] for i in by_length[k : k + 64]) for k in range(0, 5000, 64)]
    assert sorted(sorted(lengths[i] for i in b) for b in batches) == sorted(cut)
    assert padding_fraction(batches, lengths) < 0.05
    # both budgets hold at once: the token budget still splits batches of long sentences
    both = list(TokenBudgetSampler(lengths, 600, True, 3, max_sentences=64))
    assert all(len(b) <= 64 and max(lengths[i] for i in b) * len(b) <= 600 for b in both)
    assert any(len(b) == 64 for b in both) and any(len(b) < 64 for b in both)
    for bad in (0, -64, 6.4, True):
        with pytest.raises(
            ConfigError, match=f"batching.max_sentences = {bad!r}: it must be a positive"
        ):
            TokenBudgetSampler(lengths, 600, True, 3, max_sentences=bad)


def test_ddp_ranks_get_disjoint_equal_shares():
    lengths = hansard_like_lengths(1000)
    shards = [
        list(TokenBudgetSampler(lengths, 300, True, 5, num_replicas=3, rank=r)) for r in range(3)
    ]
    assert len({len(s) for s in shards}) == 1
    rows = [i for s in shards for b in s for i in b]
    assert len(rows) == len(set(rows))
    with pytest.raises(ConfigError, match="rank 3"):
        TokenBudgetSampler(lengths, 300, True, 5, num_replicas=3, rank=3)


def test_collate_adds_specials_and_pads():
    examples = [
        {"src_ids": [5, 6, 7], "tgt_ids": [8], "index": 4},
        {"src_ids": [9], "tgt_ids": [10, 11, 12], "index": 0},
    ]
    batch = collate(examples, pad_id=0, bos_id=2, eos_id=3)
    assert batch.src.tolist() == [[5, 6, 7, 3], [9, 3, 0, 0]]
    assert batch.src_lens.tolist() == [4, 2]
    assert batch.tgt_in.tolist() == [[2, 8, 0, 0], [2, 10, 11, 12]]
    assert batch.tgt_out.tolist() == [[8, 3, 0, 0], [10, 11, 12, 3]]
    assert batch.index.tolist() == [4, 0]


def test_padding_on_real_hansard_lengths(corpora):
    with gzip.open(corpora / "hansard_enfr" / "train.en.gz", "rt") as f:
        lengths = [len(s.split()) + 1 for s in itertools.islice(f, 50_000) if s.strip()]
    batches = list(TokenBudgetSampler(lengths, max_tokens=2000, shuffle=True, seed=0))
    assert padding_fraction(batches, lengths) < 0.05


def test_validation_shards_cover_every_row_and_give_each_rank_batches():
    lengths = hansard_like_lengths(60)  # fits in one batch: batch-level sharding would starve
    shards = [
        list(
            TokenBudgetSampler(lengths, 4000, False, 5, num_replicas=3, rank=r, equal_shares=False)
        )
        for r in range(3)
    ]
    assert all(len(s) >= 1 for s in shards)
    assert sorted(i for s in shards for b in s for i in b) == list(range(60))


@pytest.mark.parametrize("trained", [0, 3, 7])
def test_a_restored_sampler_continues_its_epoch_after_the_trained_batches(trained):
    """state_dict() after `trained` consumed batches of epoch 2, loaded into a new sampler:
    it serves exactly the rest of that epoch, and the next epoch from its start."""
    lengths = hansard_like_lengths(800)
    first = TokenBudgetSampler(lengths, max_tokens=300, shuffle=True, seed=5)
    first.set_epoch(2)
    whole = list(first)
    for _ in range(trained):
        first.advance()
    state = first.state_dict()
    assert state == {"epoch": 2, "trained": trained}
    again = TokenBudgetSampler(lengths, max_tokens=300, shuffle=True, seed=5)
    again.load_state_dict(state)
    again.set_epoch(2)  # what Lightning calls when the resumed epoch starts
    assert list(again) == whole[trained:]
    again.set_epoch(3)
    fresh = TokenBudgetSampler(lengths, max_tokens=300, shuffle=True, seed=5)
    fresh.set_epoch(3)
    assert list(again) == list(fresh)


def epochs_of_other_lengths(lengths: list[int], replicas: int) -> tuple[int, int, int]:
    """A seed, and two later epochs whose plans (this rank's share) hold fewer and more batches
    than epoch 0's: searched, small buckets make the counts vary."""
    for seed in range(100):
        sampler = TokenBudgetSampler(
            lengths, 300, True, seed, bucket_batches=3, num_replicas=replicas
        )
        counts = []
        for epoch in range(30):
            sampler.set_epoch(epoch)
            counts.append(len(sampler.mine()))
        shorter = [e for e, c in enumerate(counts) if c < counts[0]]
        longer = [e for e, c in enumerate(counts) if c > counts[0]]
        if shorter and longer:
            return seed, shorter[0], longer[0]
    raise AssertionError("no seed gives epochs both shorter and longer than epoch 0")


@pytest.mark.parametrize("replicas", [1, 2])
def test_an_epoch_is_epoch_zeros_length_whichever_epoch_is_loaded(replicas):
    """Lightning reads len() once: a sampler restored into a later epoch whose plan has another
    batch count must report the fresh sampler's length, and serve that epoch's plan cut there,
    as the uninterrupted run (whose epochs are that long) does."""
    lengths = hansard_like_lengths(800)
    seed, *epochs = epochs_of_other_lengths(lengths, replicas)

    def sampler() -> TokenBudgetSampler:
        return TokenBudgetSampler(lengths, 300, True, seed, bucket_batches=3, num_replicas=replicas)

    fresh = sampler()
    n = len(fresh)
    assert n == len(fresh.mine()) and list(fresh) == fresh.mine()  # epoch 0: all of its plan
    for epoch in epochs:
        for trained in (0, 2):
            restored = sampler()
            restored.load_state_dict({"epoch": epoch, "trained": trained})
            restored.set_epoch(epoch)
            assert len(restored) == n
            plan = restored.mine()
            assert len(plan) != n
            assert list(restored) == plan[trained:n]
            uninterrupted = sampler()  # the same epoch reached by set_epoch, as a run does
            uninterrupted.set_epoch(epoch)
            assert len(uninterrupted) == n and list(uninterrupted)[trained:] == list(restored)
