"""The report's wording where it depends on the settings (the rest is checked end to end in
tests/test_pipeline_dvc.py)."""

from __future__ import annotations

import pytest

from nmt_bottleneck.report.markdown import Inputs, reading, search


def test_beam_settings_are_named_only_for_beam_search():
    settings = {"beam_size": 5, "length_penalty": 1.0, "max_len_ratio": 1.5}
    assert search({"search": "greedy", **settings}) == "greedy search"
    assert search({"search": "beam", **settings}) == "beam search (beam 5, length penalty 1.0)"


def buckets(bleus: list[float], half_width: float) -> list[dict]:
    """Buckets 1-10, 11-20, ... with the given BLEU and an interval of +-half_width."""
    return [
        {
            "lo": 10 * k + 1,
            "label": f"{10 * k + 1}-{10 * k + 10}",
            "bleu": b,
            "ci_lo": b - half_width,
            "ci_hi": b + half_width,
            "length_ratio": 1.0,
        }
        for k, b in enumerate(bleus)
    ]


def verdict(final_state: list[float], attention: list[float], half_width: float = 1.0) -> str:
    details = {
        v: {"test_sets": {"test": {"buckets": buckets(bleus, half_width)}}}
        for v, bleus in (("final_state", final_state), ("attention", attention))
    }
    inputs = Inputs({}, "cpu", "0", {}, {}, details, None, {}, [], None, [])
    return reading(inputs, "test").splitlines()[-1]


BASE = [20.0, 16.0, 12.0, 9.0, 6.0]  # the last bucket at 30% of the best: falls


@pytest.mark.parametrize(
    ("final_state", "attention", "half_width", "expected"),
    [
        (BASE, [25.0, 24.0, 23.0, 22.0, 21.0], 1.0, "appears: final_state falls"),
        # 19.9 is just under 80% of 25: attention does not hold
        (BASE, [25.0, 24.0, 23.0, 22.0, 19.9], 1.0, "in part: attention is ahead"),
        (BASE, [25.0, 24.0, 23.0, 22.0, 19.9], 1.0, "but attention also falls"),
        ([20.0, 19.0, 18.0, 17.0, 16.0], [25.0, 24.0, 23.0, 22.0, 21.0], 1.0, "does not fall"),
        (BASE, [25.0, 24.0, 23.0, 22.0, 21.0], 8.0, "does not appear here"),
        # the same shape, a tenth as high: no shape is read, however narrow the intervals
        ([b / 10 for b in BASE], [2.5, 2.4, 2.3, 2.2, 2.1], 0.01, "Too little BLEU"),
    ],
)
def test_the_verdict_reads_the_curves(final_state, attention, half_width, expected):
    assert expected in verdict(final_state, attention, half_width)


def test_the_floor_names_attentions_best_bucket():
    text = verdict([0.9, 0.5], [9.96, 4.0], 0.01)
    assert "attention's best bucket has 9.96 (under 10)" in text
