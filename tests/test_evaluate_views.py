"""The evaluate stage's `<set>_novel` view on hand-made sentences: what it leaves out, its
buckets when leaving out empties one, and no view when nothing is left."""

from __future__ import annotations

from omegaconf import OmegaConf

from nmt_bottleneck.eval.buckets import make_buckets
from pipelines.evaluate import novel_view

EVAL = OmegaConf.create({"min_bucket": 2, "bootstrap_samples": 10})


def sentence(words: int, k: int) -> str:
    """Sentence k of `words` words; no digits, which the near-duplicate key ignores."""
    return " ".join(f"{'abcdef'[k]}{'abcdefghij'[i]}" for i in range(words))


def test_the_view_leaves_out_repeats_and_merges_a_bucket_left_too_small():
    short = [sentence(3, k) for k in range(3)]  # 1-5 words
    long = [sentence(8, k) for k in range(3)]  # 6+ words
    srcs = short + long
    train = [s.upper() + "." for s in short[:2]]  # two short ones repeat, up to case and a stop
    buckets = make_buckets([5])  # 1-5, 6+
    view = novel_view("test", srcs, srcs, srcs, train, EVAL, buckets)
    assert (view["novel_of"], view["near_duplicates"], view["sentences"]) == ("test", 2, 4)
    # one short sentence is left, under min_bucket 2: merged with the long ones
    assert [(b["lo"], b["hi"], b["n"]) for b in view["buckets"]] == [(1, None, 4)]
    assert view["bleu"] == 100.0  # hypotheses equal to the references


def test_no_view_when_every_sentence_repeats_training():
    srcs = [sentence(3, k) for k in range(3)]
    assert novel_view("test", srcs, srcs, srcs, srcs, EVAL, make_buckets([5])) is None
