"""The evaluate stage's scoring on hand-made sentences: the `<set>_novel` view (what it leaves
out, its buckets when leaving out empties one, no view when nothing is left) and how much of
its best bucket's BLEU a curve keeps in its last."""

from __future__ import annotations

from omegaconf import OmegaConf

from nmt_bottleneck.eval.buckets import make_buckets
from pipelines.evaluate import novel_view, score

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


def test_last_over_best_is_the_last_scored_bucket_over_the_best():
    srcs = [sentence(5, k) for k in range(6)] + [sentence(8, k) for k in range(6)]
    refs = list(srcs)
    # the long sentences lose their last three words
    hyps = srcs[:6] + [" ".join(s.split()[:5]) for s in srcs[6:]]
    buckets = make_buckets([5, 20])  # 1-5, 6-20, 21+ (empty)
    _, details = score(hyps, srcs, refs, EVAL, buckets)
    short, long, empty = details["buckets"]
    assert empty["n"] == 0 and short["bleu"] == 100.0 and 0 < long["bleu"] < 100
    fall = details["last_over_best"]
    assert (fall["last"], fall["best"]) == ("6-20", "1-5")  # the empty bucket is not the last
    assert fall["value"] == round(long["bleu"] / short["bleu"], 4)
    assert fall["ci_lo"] <= fall["value"] <= fall["ci_hi"]


def test_no_last_over_best_with_one_scored_bucket():
    srcs = [sentence(3, k) for k in range(3)]
    _, details = score(srcs, srcs, srcs, EVAL, make_buckets([5]))
    assert details["last_over_best"] is None
