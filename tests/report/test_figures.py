"""The figures: the same numbers give the same bytes (a re-run that changes no number shows no
change in git); each variant keeps its colour by its place in the config; the main figure draws
one line per variant labelled with its display name, the seed bands named in the legend, and
each training-length limit as a dashed line on the x axis."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from nmt_bottleneck.report.figures import (
    Curve,
    bleu_vs_length,
    bleu_vs_length_figure,
    limit_position,
    styles,
)

LOS, HIS = [1, 11, 21, 31, 41, 51, 61], [10, 20, 30, 40, 50, 60, None]
LABELS = ["1-10", "11-20", "21-30", "31-40", "41-50", "51-60", "61+"]


def curve(variant: str, label: str, bleu: list[float], seeds: int = 1) -> Curve:
    k = len(bleu)
    return Curve(
        variant,
        label,
        LABELS[:k],
        LOS[:k],
        [*HIS[: k - 1], None],
        [30] * k,
        bleu,
        [b - 1 for b in bleu],
        [b + 1 for b in bleu],
        [b - 0.5 for b in bleu],
        [b + 0.5 for b in bleu],
        seeds,
        [1.0] * k,
    )


def test_the_same_numbers_give_byte_identical_png_and_svg(tmp_path):
    one = curve("attention", "RNNsearch-50", [20.0, 18.5])
    style = styles(["final_state", "attention"])
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
    first = bleu_vs_length([one], "test", tmp_path / "a" / "fig", style, [30])
    second = bleu_vs_length([one], "test", tmp_path / "b" / "fig", style, [30])
    assert [p.suffix for p in first] == [".png", ".svg"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_a_variant_keeps_its_style_by_its_place_in_the_config():
    three = styles(["a", "b", "c"])
    four = styles(["a", "b", "c", "d"])
    assert {v: four[v] for v in three} == three  # a fourth variant changes no other's colour
    assert len({s.color for s in four.values()}) == 4
    assert len(set(styles([f"v{i}" for i in range(20)]).values())) > 1  # cycles, never fails


FIVE = {  # id -> (label, training limit); ids and labels as a config names them
    "final_state_30": ("RNNencdec-30", 30),
    "final_state": ("RNNencdec-50", 50),
    "attention_30": ("RNNsearch-30", 30),
    "attention": ("RNNsearch-50", 50),
    "concat_states": ("concat_states-50", 50),
}


def test_the_main_figure_draws_a_labelled_line_per_variant_and_the_training_limits():
    curves = [
        curve(v, label, [20.0 - k, 19.0, 17.0, 15.0, 14.0, 12.0, 10.0], seeds=3)
        for k, (v, (label, _)) in enumerate(FIVE.items())
    ]
    limits = [limit for _, limit in FIVE.values()]
    fig = bleu_vs_length_figure(curves, "test", styles(list(FIVE)), limits)
    ax = fig.axes[0]
    drawn = [line for line in ax.get_lines() if line.get_gid().startswith("curve-")]
    assert [line.get_label() for line in drawn] == [label for label, _ in FIVE.values()]
    assert [list(line.get_ydata()) for line in drawn] == [c.bleu for c in curves]
    markers = [line for line in ax.get_lines() if line.get_gid().startswith("limit-")]
    assert [m.get_gid() for m in markers] == ["limit-30", "limit-50"]  # each distinct limit once
    assert all(m.get_linestyle() == "--" for m in markers)
    # 30 words is the end of 21-30 (bucket 2), 50 the end of 41-50 (bucket 4): between buckets
    assert [m.get_xdata()[0] for m in markers] == [2.5, 4.5]
    texts = [t.get_text().strip() for t in ax.texts]
    assert texts == ["trained on <= 30 words", "trained on <= 50 words"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:5] == [label for label, _ in FIVE.values()]
    assert legend[5] == "shaded: 95% bootstrap interval of the seed mean"
    assert legend[6] == "hatched: seed spread, min..max over 3 seeds"
    plt.close(fig)


def test_one_seed_draws_no_seed_band():
    fig = bleu_vs_length_figure([curve("a", "A", [20.0, 18.0])], "test", styles(["a"]), [])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["A", "shaded: 95% bootstrap interval of the seed mean"]
    assert not [line for line in fig.axes[0].get_lines() if line.get_gid().startswith("limit-")]
    plt.close(fig)


@pytest.mark.parametrize(
    ("words", "expected"),
    [(30, 2.5), (10, 0.5), (25, 1.5 + 5 / 10), (1, -0.5 + 1 / 10), (61, 6.0), (80, 6.0)],
)
def test_a_limit_falls_after_the_bucket_it_ends_or_inside_the_one_that_holds_it(words, expected):
    assert limit_position(LOS, HIS, words) == pytest.approx(expected)
