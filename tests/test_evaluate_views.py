"""The evaluate stage's scoring on hand-made sentences: the `<set>_novel` view (what it leaves
out, its buckets when leaving out empties one, skipped when it would leave out nothing or
everything), how much of its best bucket's BLEU a curve keeps in its last, the heatmap
sentences, and the details JSON round trip."""

from __future__ import annotations

import json

from omegaconf import OmegaConf

from nmt_bottleneck.eval.buckets import make_buckets
from nmt_bottleneck.eval.evaluate import Skipped, heatmap_sources, novel_view, score
from nmt_bottleneck.eval.results import Details
from nmt_bottleneck.eval.translate import DecodeSettings

EVAL = OmegaConf.create(
    {"min_bucket": 2, "bootstrap_samples": 10, "bootstrap_seed": 3, "bucket_edges": [5]}
)


def sentence(words: int, k: int) -> str:
    """Sentence k of `words` words; no digits, which the near-duplicate key ignores."""
    return " ".join(f"{'abcdef'[k]}{'abcdefghij'[i % 10]}" for i in range(words))


def test_the_view_leaves_out_repeats_and_merges_a_bucket_left_too_small():
    short = [sentence(3, k) for k in range(3)]  # 1-5 words
    long = [sentence(8, k) for k in range(3)]  # 6+ words
    srcs = short + long
    train = [s.upper() + "." for s in short[:2]]  # two short ones repeat, up to case and a stop
    view = novel_view("test", srcs, srcs, srcs, train, EVAL)  # buckets 1-5, 6+
    assert (view.novel_of, view.near_duplicates, view.sentences) == ("test", 2, 4)
    # one short sentence is left, under min_bucket 2: merged with the long ones
    assert [(b.lo, b.hi, b.n) for b in view.buckets] == [(1, None, 4)]
    assert view.bleu == 100.0  # hypotheses equal to the references
    assert list(view.to_json())[:3] == ["novel_of", "near_duplicates", "bleu"]


def test_a_view_that_would_leave_out_nothing_or_everything_is_skipped():
    srcs = [sentence(3, k) for k in range(3)]
    assert novel_view("test", srcs, srcs, srcs, srcs, EVAL) == Skipped("all near-duplicates")
    others = [sentence(4, k) for k in range(3)]  # no training source shares a key with a test one
    assert novel_view("test", srcs, srcs, srcs, others, EVAL) == Skipped("no near-duplicates")


def test_last_over_best_is_the_last_scored_bucket_over_the_best():
    srcs = [sentence(5, k) for k in range(6)] + [sentence(8, k) for k in range(6)]
    refs = list(srcs)
    # the long sentences lose their last three words
    hyps = srcs[:6] + [" ".join(s.split()[:5]) for s in srcs[6:]]
    buckets = make_buckets([5, 20])  # 1-5, 6-20, 21+ (empty)
    scores = score(hyps, srcs, refs, EVAL, buckets)
    short, long, empty = scores.buckets
    assert empty.n == 0 and short.bleu == 100.0 and 0 < long.bleu < 100
    fall = scores.last_over_best
    assert (fall.last, fall.best) == ("6-20", "1-5")  # the empty bucket is not the last
    assert fall.value == round(long.bleu / short.bleu, 4)
    assert fall.ci_lo <= fall.value <= fall.ci_hi
    assert [b.label for b in scores.curve()] == ["1-5", "6-20"]


def test_no_last_over_best_with_one_scored_bucket():
    srcs = [sentence(3, k) for k in range(3)]
    assert score(srcs, srcs, srcs, EVAL, make_buckets([5])).last_over_best is None


def test_the_bootstrap_seed_is_the_configs():
    srcs = [sentence(n, k) for n in (3, 8) for k in range(6)]
    hyps = [" ".join(s.split()[: len(s.split()) - (i % 3)]) for i, s in enumerate(srcs)]
    seeded = [score(hyps, srcs, srcs, EVAL, make_buckets([5])) for _ in range(2)]
    other = score(hyps, srcs, srcs, OmegaConf.merge(EVAL, {"bootstrap_seed": 4}), make_buckets([5]))
    assert seeded[0] == seeded[1]
    assert [b.ci_lo for b in other.buckets] != [b.ci_lo for b in seeded[0].buckets]


def test_heatmaps_fall_back_to_the_longest_sources_to_make_up_the_count():
    lengths = [31, 5, 50, 12, 40, 7, 46, 20]  # two in 30-45 words (0, 4)
    srcs = [sentence(n, 0) for n in lengths]
    assert heatmap_sources(srcs, 2) == {0, 4}
    assert heatmap_sources(srcs, 4) == {0, 4, 2, 6}  # then the longest others: 50, 46 words
    assert heatmap_sources(srcs, 0) == set()
    assert len(heatmap_sources(srcs, 20)) == len(srcs)


def test_details_round_trip_through_json():
    srcs = [sentence(n, k) for n in (3, 8) for k in range(3)]
    whole = score(srcs, srcs, srcs, EVAL, make_buckets([5]), truncated=0)
    view = novel_view("test", srcs, srcs, srcs, srcs[:1], EVAL)
    decode = DecodeSettings("greedy", 5, 1.0, 1.5, 6000)
    details = Details("v", decode, {"cpu": "x"}, {"test": whole, "test_novel": view}, {})
    text = json.dumps(details.to_json())
    assert Details.from_json(json.loads(text)) == details
    assert "skipped_views" not in json.loads(text)  # written only where a view was skipped
    assert details.metrics() == {"test": {**whole.metrics(), "truncated_sources": 0}}
