"""The verdict from numbers: each claim of `judge.claims` against the curves and their bootstrap
intervals, and the test set's outcome, including the cases a user on a corpus of short
sentences met (no bucket beyond `long_from`), an interval straddling the holds line, and a run
too weak to judge."""

from __future__ import annotations

import json

import pytest

from nmt_bottleneck.eval.judge import Shape, Verdicts, judge, judge_set
from tests.judged import details, fall, on, scores, settings

BASE = [20.0, 16.0, 12.0, 9.0, 6.0]  # the last bucket at 30% of the best: falls
HOLDS = [25.0, 24.0, 23.0, 22.0, 21.0]  # the last at 84% of the best
FALLS = [25.0, 24.0, 23.0, 22.0, 19.9]  # 19.9 is just under 80% of 25
FLAT = [20.0, 19.0, 18.0, 17.0, 16.0]  # 80%: does not fall under 70%


def verdict(final_state, attention, half_width=1.0, attention_fall=None, **judge_changes):
    curves = details(
        final_state=scores(final_state, half_width),
        attention=scores(attention, half_width, attention_fall),
    )
    return judge_set(on(curves), settings(**judge_changes), "test")


def statuses(v) -> list[str]:
    return [r.status for r in v.results]


@pytest.mark.parametrize(
    ("final_state", "attention", "half_width", "expected_statuses", "expected_outcome"),
    [
        (BASE, HOLDS, 1.0, ["met", "met", "met"], "appears"),
        (BASE, FALLS, 1.0, ["met", "not met", "met"], "in part"),
        (FLAT, HOLDS, 1.0, ["not met", "met", "met"], "in part"),
        (FLAT, FALLS, 1.0, ["not met", "not met", "met"], "in part"),
        # attention holds, but its 31-40 bucket dips into final_state's interval
        (BASE, [25.0, 24.0, 23.0, 10.5, 21.0], 1.0, ["met", "met", "partly"], "in part"),
        # wide intervals: no long bucket separated
        (BASE, HOLDS, 8.0, ["met", "met", "not met"], "in part"),
        (FLAT, FALLS, 8.0, ["not met", "not met", "not met"], "does not appear"),
    ],
)
def test_each_claim_is_judged_and_the_claims_give_the_outcome(
    final_state, attention, half_width, expected_statuses, expected_outcome
):
    v = verdict(final_state, attention, half_width)
    assert statuses(v) == expected_statuses
    assert v.outcome == expected_outcome


def test_separation_counts_the_buckets_beyond_long_from():
    v = verdict(BASE, [25.0, 24.0, 23.0, 10.5, 21.0])
    separated = v.results[2]
    assert separated.long == ("31-40", "41+")  # they start beyond 30 words
    assert separated.separated == ("41+",)  # 10.5 - 1 is under 9 + 1: not separated
    later = verdict(BASE, [25.0, 24.0, 23.0, 10.5, 21.0], long_from=40)
    assert later.results[2].long == ("41+",) and later.results[2].status == "met"


def test_the_shape_is_the_last_bucket_over_the_best_with_evaluates_interval():
    v = verdict(BASE, FALLS, attention_fall=fall(0.70, 0.79, last="41+"))
    expected = Shape("attention", "1-10", 25.0, "41+", 19.9, 19.9 / 25.0, 0.70, 0.79)
    assert v.shapes["attention"] == expected
    assert v.shapes["final_state"].ci_lo is None  # evaluate wrote no interval here
    # an interval between other buckets than the curve's last and best is not its own
    other = verdict(BASE, FALLS, attention_fall=fall(0.70, 0.79, last="31-40"))
    assert other.shapes["attention"].ci_lo is None


def test_an_interval_straddling_the_holds_line_cannot_tell():
    """README: where attention's interval straddles 0.8, the verdict says the test set cannot
    tell holding from a fall. The point estimate alone used to decide first ("appears")."""
    above = verdict(BASE, HOLDS, attention_fall=fall(0.75, 0.93, last="41+"))  # point 0.84
    assert statuses(above) == ["met", "cannot tell", "met"]
    assert above.outcome == "cannot tell"
    below = verdict(BASE, FALLS, attention_fall=fall(0.70, 0.86, last="41+"))  # point 0.796
    assert statuses(below) == ["met", "cannot tell", "met"]
    assert below.outcome == "cannot tell"
    # settled by the interval either way
    assert verdict(BASE, HOLDS, attention_fall=fall(0.81, 0.93, last="41+")).outcome == "appears"
    wholly_under = verdict(BASE, FALLS, attention_fall=fall(0.70, 0.79, last="41+"))
    assert statuses(wholly_under)[1] == "not met"
    # with another claim against the shape, the outcome is "in part", the claim still unsure
    partly = verdict(FLAT, HOLDS, attention_fall=fall(0.75, 0.93, last="41+"))
    assert statuses(partly) == ["not met", "cannot tell", "met"]
    assert partly.outcome == "in part"


def test_an_interval_straddling_the_falls_line_cannot_tell():
    final_state = [20.0, 18.0, 16.0, 15.0, 13.0]  # 0.65 of the best: under 0.7
    interval = fall(0.55, 0.75, last="41+")
    curves = details(final_state=scores(final_state, 1.0, interval), attention=scores(HOLDS, 1.0))
    v = judge_set(on(curves), settings(), "test")
    assert statuses(v) == ["cannot tell", "met", "met"]
    assert v.outcome == "cannot tell"


def test_a_test_set_without_long_sentences_cannot_show_the_shape():
    """Multi30k-like: every bucket ends by 30 words. Not "0 of 0 buckets", not "does not
    appear": this test set cannot show the shape, whatever the BLEU."""
    v = verdict([20.0, 15.0, 8.0], [25.0, 24.0, 23.0])  # 1-10, 11-20, 21+
    assert v.outcome == "cannot show"
    assert v.longest == "21+"
    assert v.results[2].long == () and v.results[2].status == "cannot tell"
    # one bucket starting beyond long_from is enough to judge
    assert verdict([20.0, 15.0, 8.0], [25.0, 24.0, 23.0], long_from=20).outcome != "cannot show"


def test_below_the_floor_the_shape_is_not_judged():
    low = verdict([b / 10 for b in BASE], [b / 10 for b in HOLDS], 0.01)
    assert low.outcome == "not judged"
    assert low.top == ("attention", 2.5)  # the claims' variant with the best bucket
    # the floor reads the best curve among the claims' variants: final_state's 2 BLEU is judged
    # beside attention's 10
    judged = verdict([b / 10 for b in BASE], [10.0, 9.0, 9.0, 9.0, 9.0], 0.01)
    assert judged.outcome == "appears"
    # compared as the report shows it, to 2 places: 9.996 is 10.00, not under 10
    assert verdict([5.0, 0.5, 0.5, 0.5, 0.4], [9.996, 8.0, 8.0, 8.0, 8.0], 0.01).outcome != (
        "not judged"
    )
    assert verdict([0.9, 0.5, 0.5, 0.5, 0.4], [9.94, 4.0, 4.0, 4.0, 4.0], 0.01).top == (
        "attention",
        9.94,
    )
    assert verdict(BASE, HOLDS, min_best_bleu=30.0).outcome == "not judged"


def test_a_claim_on_a_variant_without_scores_makes_the_verdict_incomplete():
    curves = details(final_state=scores(BASE))
    v = judge_set(on(curves), settings(), "test")
    assert (v.outcome, v.missing, v.results) == ("incomplete", ("attention",), [])
    assert list(v.shapes) == ["final_state"]
    not_run = judge_set(on({"final_state": None, "attention": None}), settings(), "test")
    assert not_run.outcome == "incomplete"


def test_a_best_bucket_of_zero_cannot_tell_a_shape():
    v = verdict(BASE, [0.0, 0.0, 0.0, 0.0, 0.0], min_best_bleu=0.0)
    assert v.shapes["attention"].value is None
    assert statuses(v)[1] == "cannot tell"


def test_claims_are_read_from_config_for_any_variant():
    curves = details(
        final_state=scores(BASE),
        wide=scores(HOLDS),
        narrow=scores([24.0, 23.0, 22.0, 21.0, 20.0]),
    )
    claims = [
        {"kind": "holds", "variant": "narrow"},
        {"kind": "separated", "better": "wide", "worse": "narrow"},
    ]
    judged = settings(["final_state", "wide", "narrow"], claims=claims)
    v = judge_set(on(curves), judged, "test")
    assert [(r.claim.kind, r.status) for r in v.results] == [
        ("holds", "met"),
        ("separated", "not met"),
    ]
    assert v.top == ("wide", 25.0)  # the best bucket among the claims' variants


def test_verdicts_round_trip_through_json():
    curves = details(final_state=scores(BASE), attention=scores(FALLS, 1.0, fall(0.7, 0.86, "41+")))
    verdicts = judge({"test": on(curves)}, settings(), ["test"])
    again = Verdicts.from_json(json.loads(json.dumps(verdicts.to_json())))
    assert again == verdicts
