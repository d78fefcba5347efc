"""The committed figures are reproducible: drawing the same numbers twice gives the same
bytes, so a re-run that changes no number shows no change in git."""

from __future__ import annotations

from nmt_bottleneck.report.figures import Curve, bleu_vs_length


def test_the_same_numbers_give_byte_identical_png_and_svg(tmp_path):
    curve = Curve(
        "attention", ["1-10", "11-20"], [30, 20], [20.0, 18.5], [18.0, 16.0], [22.0, 21.0], [1, 1]
    )
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
    first = bleu_vs_length([curve], "test", tmp_path / "a" / "fig")
    second = bleu_vs_length([curve], "test", tmp_path / "b" / "fig")
    assert [p.suffix for p in first] == [".png", ".svg"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
