"""Length buckets: edges and labels, assignment of real source lengths (word_count), bad edges,
and merging of small buckets (sizes, contiguity, the open last bucket)."""

from __future__ import annotations

import itertools
import random

import pytest

from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.errors import ConfigError, DataError
from nmt_bottleneck.eval.buckets import (
    Bucket,
    assign,
    bucket_counts,
    length_buckets,
    make_buckets,
    merge_small,
    source_buckets,
)

EDGES = [10, 20, 30, 40, 50, 60]


def source(n_words: int) -> str:
    return " ".join(f"mot{i}" for i in range(n_words))


def assert_contiguous(buckets: list[Bucket]) -> None:
    assert buckets[0].lo == 1 and buckets[-1].hi is None
    for a, b in itertools.pairwise(buckets):
        assert a.hi is not None and a.hi + 1 == b.lo


def lengths_for(buckets: list[Bucket], counts: list[int]) -> list[int]:
    """Source lengths giving `counts[i]` sentences in bucket i (each at the bucket's lo)."""
    return [b.lo for b, c in zip(buckets, counts, strict=True) for _ in range(c)]


def test_edges_make_contiguous_buckets_with_labels():
    buckets = make_buckets(EDGES)
    labels = [b.label for b in buckets]
    assert labels == ["1-10", "11-20", "21-30", "31-40", "41-50", "51-60", "61+"]
    assert_contiguous(buckets)


@pytest.mark.parametrize(
    ("n_words", "label"), [(0, "1-10"), (1, "1-10"), (10, "1-10"), (11, "11-20"), (60, "51-60"),
                           (61, "61+"), (200, "61+")]
)  # fmt: skip
def test_source_length_lands_in_its_bucket(n_words, label):
    buckets = make_buckets(EDGES)
    length = word_count(source(n_words))
    assert length == n_words
    assert buckets[assign([length], buckets)[0]].label == label


def test_assign_keeps_order_and_counts():
    buckets = make_buckets(EDGES)
    lengths = [5, 61, 11, 0, 10, 25]
    assert assign(lengths, buckets) == [0, 6, 1, 0, 0, 2]
    assert bucket_counts(lengths, buckets) == [3, 1, 1, 0, 0, 0, 1]


@pytest.mark.parametrize(
    ("edges", "bad"), [([], "empty"), ([0, 10], "0"), ([-5], "-5"), ([10, 10], "10"),
                       ([20, 10], "10"), ([10, 2.5], "2.5"), ([True], "True")]
)  # fmt: skip
def test_bad_edges_name_the_key_and_value(edges, bad):
    with pytest.raises(ConfigError) as err:
        make_buckets(edges)
    assert "eval.bucket_edges" in str(err.value) and bad in str(err.value)


def test_length_above_a_closed_last_bucket_is_an_error():
    with pytest.raises(DataError, match="above the last bucket 1-10"):
        assign([3, 12], [Bucket(1, 10)])


def test_merge_worked_example():
    # counts 50 40 30 5 2 1 3, min 10: 51-60 (1) joins its smaller neighbour 41-50 (2) -> 41-60 (3);
    # 41-60 (3, leftmost of the 3s) joins 61+ (3 < 5) -> 41+ (6); 31-40 (5) joins 41+ (6 < 30).
    buckets = make_buckets(EDGES)
    lengths = lengths_for(buckets, [50, 40, 30, 5, 2, 1, 3])
    merged = merge_small(buckets, lengths, min_count=10)
    assert [b.label for b in merged] == ["1-10", "11-20", "21-30", "31+"]
    assert bucket_counts(lengths, merged) == [50, 40, 30, 11]


def test_open_last_bucket_merges_down_and_first_merges_up():
    buckets = make_buckets([10, 20])
    tail = merge_small(buckets, lengths_for(buckets, [50, 40, 2]), min_count=10)
    assert tail == [Bucket(1, 10), Bucket(11, None)]
    head = merge_small(buckets, lengths_for(buckets, [1, 40, 50]), min_count=10)
    assert head == [Bucket(1, 20), Bucket(21, None)]


def test_too_few_sentences_leaves_one_open_bucket():
    buckets = make_buckets(EDGES)
    assert merge_small(buckets, [3, 15, 70], min_count=10) == [Bucket(1, None)]
    assert merge_small(buckets, [], min_count=1) == [Bucket(1, None)]


def test_min_count_zero_keeps_buckets_and_negative_is_an_error():
    buckets = make_buckets(EDGES)
    assert merge_small(buckets, [3], min_count=0) == buckets
    with pytest.raises(ConfigError, match="min_count = -1"):
        merge_small(buckets, [3], min_count=-1)


@pytest.mark.parametrize("seed", range(20))
def test_merge_invariants_on_random_lengths(seed):
    rng = random.Random(seed)
    edges = sorted(rng.sample(range(1, 80), rng.randint(1, 8)))
    lengths = [min(120, int(rng.lognormvariate(2.8, 0.7))) for _ in range(rng.randint(0, 300))]
    min_count = rng.randint(0, 60)
    merged = merge_small(make_buckets(edges), lengths, min_count)
    counts = bucket_counts(lengths, merged)
    assert sum(counts) == len(lengths)
    assert_contiguous(merged)
    assert len(merged) == 1 or min(counts) >= min_count
    assert merge_small(make_buckets(edges), lengths, min_count) == merged  # deterministic


def test_buckets_from_word_counts_are_the_sources_buckets():
    """compare counts the words once and buckets from the counts: the same buckets as from the
    sources."""
    rng = random.Random(5)
    sources = [
        " ".join("w" * rng.randint(1, 3) for _ in range(rng.randint(0, 70))) for _ in range(300)
    ]
    lengths = [word_count(s) for s in sources]
    for edges, min_count in (([10, 20, 30, 40, 50, 60], 20), ([5, 50], 1), ([30], 400)):
        want = source_buckets(sources, edges, min_count)
        assert length_buckets(lengths, edges, min_count) == want
