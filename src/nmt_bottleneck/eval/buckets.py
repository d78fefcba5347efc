"""Source-length buckets for BLEU by sentence length (Bahdanau et al. 2015, Figure 2).

A bucket holds the sentences whose source has lo..hi words (inclusive; `hi=None` is the open
last bucket, "61+"). Length is `nmt_bottleneck.data.length.word_count` of the raw source;
`source_buckets` computes it for a test set's sources (the evaluate and compare stages both call
it, so their buckets are the same), the other functions only group lengths. Buckets are
contiguous and ascending: the first starts at 1 and also takes empty sources (length 0), the
last is open.

Small buckets give noisy BLEU, so `merge_small` joins buckets under a minimum sentence count:
repeatedly, the under-size bucket with the fewest sentences (ties: the leftmost) merges with the
adjacent bucket that has fewer sentences (ties: the left one). The first bucket can only merge
up and the open last bucket only down, so the result stays contiguous, ascending and open-ended.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import NamedTuple

from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.errors import ConfigError, DataError

EDGES_KEY = "eval.bucket_edges"
EDGES_EXAMPLE = "[10, 20, 30, 40, 50, 60]"


class Bucket(NamedTuple):
    lo: int  # shortest source length in the bucket, in words (inclusive)
    hi: int | None  # longest source length (inclusive); None: no upper bound

    @property
    def label(self) -> str:
        """'1-10' for a closed bucket, '61+' for the open last one."""
        return f"{self.lo}+" if self.hi is None else f"{self.lo}-{self.hi}"


def make_buckets(edges: Sequence[int]) -> list[Bucket]:
    """Inclusive upper bounds -> buckets: [10, 20, 60] -> 1-10, 11-20, 21-60, 61+.

    Raises ConfigError (naming `eval.bucket_edges`) unless the edges are a non-empty, strictly
    increasing list of positive integers.
    """
    if len(edges) == 0:
        raise ConfigError(
            f"{EDGES_KEY} is empty: give the inclusive upper bounds of the length buckets in "
            f"words, e.g. {EDGES_EXAMPLE}"
        )
    for i, edge in enumerate(edges):
        if isinstance(edge, bool) or not isinstance(edge, int):
            problem = "is not an integer"
        elif edge <= 0:
            problem = "is not positive"
        elif i > 0 and edge <= edges[i - 1]:
            problem = f"is not greater than the edge before it, {edges[i - 1]!r}"
        else:
            continue
        raise ConfigError(
            f"{EDGES_KEY}[{i}] = {edge!r} {problem} (edges: {list(edges)}): the edges must be "
            f"positive integers in strictly increasing order, e.g. {EDGES_EXAMPLE}"
        )
    los = [1, *(edge + 1 for edge in edges)]
    his: list[int | None] = [*edges, None]
    return [Bucket(lo, hi) for lo, hi in zip(los, his, strict=True)]


def assign(lengths: Sequence[int], buckets: Sequence[Bucket]) -> list[int]:
    """Bucket index of each source length; 0 (an empty source) goes to the first bucket.

    Raises DataError for a length above a closed last bucket (buckets from `make_buckets` and
    `merge_small` always end open, so this only happens with hand-made buckets).
    """
    last = buckets[-1]
    his = [b.hi for b in buckets[:-1]]  # closed upper bounds, ascending
    out = []
    for i, length in enumerate(lengths):
        if last.hi is not None and length > last.hi:
            raise DataError(
                f"sentence {i}: source length {length} words is above the last bucket "
                f"{last.label}; end the buckets with an open one (hi=None), as make_buckets does"
            )
        out.append(bisect_left(his, length))
    return out


def bucket_counts(lengths: Sequence[int], buckets: Sequence[Bucket]) -> list[int]:
    """Number of sentences in each bucket."""
    counts = [0] * len(buckets)
    for index in assign(lengths, buckets):
        counts[index] += 1
    return counts


def merge_small(buckets: Sequence[Bucket], lengths: Sequence[int], min_count: int) -> list[Bucket]:
    """Merge buckets with fewer than `min_count` sentences into a neighbour (rule: module
    docstring) until none is under size or one bucket is left. Merged buckets span their parts'
    lengths (contiguous lo..hi), so `assign` on the result still places every sentence."""
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 0:
        raise ConfigError(
            f"min_count = {min_count!r}: the minimum bucket size must be an integer >= 0 "
            f"(0 or 1 keeps every non-empty bucket), e.g. 30"
        )
    merged = list(buckets)
    counts = bucket_counts(lengths, merged)
    while len(merged) > 1:
        small = [i for i, c in enumerate(counts) if c < min_count]
        if not small:
            break
        i = min(small, key=lambda j: counts[j])  # fewest sentences; min() keeps the leftmost
        if i == 0:
            left = 0
        elif i == len(merged) - 1:
            left = i - 1
        else:
            left = i - 1 if counts[i - 1] <= counts[i + 1] else i
        merged[left : left + 2] = [Bucket(merged[left].lo, merged[left + 1].hi)]
        counts[left : left + 2] = [counts[left] + counts[left + 1]]
    return merged


def source_buckets(sources: Sequence[str], edges: Sequence[int], min_count: int) -> list[Bucket]:
    """A test set's buckets: `make_buckets(edges)` merged by `merge_small` over the word counts of
    its raw sources (`eval.bucket_edges`, `eval.min_bucket`)."""
    return length_buckets([word_count(s) for s in sources], edges, min_count)


def length_buckets(lengths: Sequence[int], edges: Sequence[int], min_count: int) -> list[Bucket]:
    """`source_buckets` from the sources' word counts, for a caller that needs them too."""
    return merge_small(make_buckets(list(edges)), lengths, min_count)
