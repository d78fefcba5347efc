"""The committed figures are reproducible: drawing the same numbers twice gives the same
bytes, so a re-run that changes no number shows no change in git; each variant keeps its
colour by its place in the config."""

from __future__ import annotations

from nmt_bottleneck.report.figures import Curve, bleu_vs_length, styles


def test_the_same_numbers_give_byte_identical_png_and_svg(tmp_path):
    curve = Curve(
        "attention", ["1-10", "11-20"], [30, 20], [20.0, 18.5], [18.0, 16.0], [22.0, 21.0], [1, 1]
    )
    style = styles(["final_state", "attention"])
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
    first = bleu_vs_length([curve], "test", tmp_path / "a" / "fig", style)
    second = bleu_vs_length([curve], "test", tmp_path / "b" / "fig", style)
    assert [p.suffix for p in first] == [".png", ".svg"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_a_variant_keeps_its_style_by_its_place_in_the_config():
    three = styles(["a", "b", "c"])
    four = styles(["a", "b", "c", "d"])
    assert {v: four[v] for v in three} == three  # a fourth variant changes no other's colour
    assert len({s.color for s in four.values()}) == 4
    assert len(set(styles([f"v{i}" for i in range(20)]).values())) > 1  # cycles, never fails
