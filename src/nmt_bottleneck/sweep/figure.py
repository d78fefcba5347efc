"""The sweep's figure per test set, `bleu_vs_length_<set>.png` (and `.svg`) in the sweep folder:
BLEU against source length, one curve per group, drawn by the report's own figure code
(`report.figures.bleu_vs_length_figure`: the seed mean as the line, the bootstrap interval of
the seed mean shaded, the seed spread min..max hatched, the legend naming both bands, each
training-length limit dashed). Each file is written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

from nmt_bottleneck.atomic import atomic_file
from nmt_bottleneck.report import figures
from nmt_bottleneck.sweep.comparison import SetComparison


def figure_curves(c: SetComparison) -> list[figures.Curve]:
    """The curves drawn for test set `c.test_set`: one per compared group, in group order,
    labelled with the group and its number of seeds."""
    return [
        figures.Curve.from_seeds(curve, f"{label} ({seeds(len(curve.seeds))})")
        for label, curve in c.curves.items()
    ]


def seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def draw_figure(c: SetComparison, title: str, limits: Sequence[int], out: Path) -> Path:
    """Draw test set `c.test_set`'s figure into the folder `out`; returns the PNG's path."""
    curves = figure_curves(c)
    fig = figures.bleu_vs_length_figure(
        curves, f"{title}: test set `{c.test_set}`", figures.styles(list(c.curves)), limits
    )
    png = Path(out) / f"bleu_vs_length_{c.test_set}.png"
    try:
        for path in (png, png.with_suffix(".svg")):
            with atomic_file(path) as tmp:
                figures.save_as(fig, tmp)
    finally:
        plt.close(fig)
    return png
