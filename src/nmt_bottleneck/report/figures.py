"""The report's figures, drawn from numbers already computed (no scoring here).

- `bleu_vs_length`: BLEU against source sentence length, one line per variant with its 95%
  bootstrap band, the sentence count of each bucket along the top: Figure 2 of Bahdanau et al.
  2015, with the uncertainty the paper did not show.
- `attention_heatmap`: a sentence's attention weights, source subwords x output subwords
  (Figure 3 of the same paper).
- `context_growth`: the parameters of context modules built for a bounded source length,
  against that length L.

Each variant has one colour and marker, by its place in the config's variants (`styles`), the
same in every figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nmt_bottleneck.eval.results import SetScores
from nmt_bottleneck.models.cost import Growth

COLORS = ("tab:red", "tab:orange", "tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


class Style(NamedTuple):
    color: str
    marker: str


def styles(variants: Sequence[str]) -> dict[str, Style]:
    """A colour and a marker per variant, by its place in `variants` (the config's order)."""
    return {
        v: Style(COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]) for i, v in enumerate(variants)
    }


class Curve(NamedTuple):
    variant: str
    labels: list[str]  # bucket labels, "1-10" ... "61+"
    counts: list[int]
    bleu: list[float]
    ci_lo: list[float]
    ci_hi: list[float]
    length_ratio: list[float]  # output / reference length per bucket (tables, not drawn)

    @classmethod
    def from_scores(cls, variant: str, scores: SetScores) -> Curve:
        b = scores.buckets
        return cls(
            variant,
            [x.label for x in b],
            [x.n for x in b],
            [x.bleu for x in b],
            [x.ci_lo for x in b],
            [x.ci_hi for x in b],
            [x.length_ratio for x in b],
        )


def save(fig, path: Path) -> list[Path]:
    """PNG and SVG next to each other; returns both paths. The same figure gives the same bytes
    (no date in the SVG, and its element ids from a fixed salt instead of a random one), so a
    re-run that changes no number changes no committed figure."""
    paths = [path.with_suffix(".png"), path.with_suffix(".svg")]
    with plt.rc_context({"svg.hashsalt": "nmt-bottleneck"}):
        for p in paths:
            fig.savefig(p, dpi=150, bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return paths


def bleu_vs_length(
    curves: list[Curve], title: str, path: Path, style: dict[str, Style]
) -> list[Path]:
    """One panel: x = source length bucket, y = BLEU, a line and a band per variant."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    x = list(range(len(curves[0].labels)))
    for c in curves:
        color, marker = style[c.variant]
        ax.plot(x, c.bleu, marker=marker, color=color, label=c.variant)
        ax.fill_between(x, c.ci_lo, c.ci_hi, color=color, alpha=0.18, linewidth=0)
    ax.set_xticks(x, curves[0].labels)
    ax.set_xlabel("source sentence length (words)")
    ax.set_ylabel("BLEU (bands: 95% bootstrap CI)")
    ax.set_ylim(bottom=0)
    top = ax.secondary_xaxis("top")
    top.set_xticks(x, [f"n={n}" for n in curves[0].counts], fontsize=7)
    ax.set_title(title, pad=18)
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)


def attention_heatmap(
    source: list[str], output: list[str], weights: list[list[float]], title: str, path: Path
) -> list[Path]:
    """weights: [len(output), len(source)]; rows sum to 1."""
    fig, ax = plt.subplots(figsize=(max(4, 0.28 * len(source)), max(3, 0.28 * len(output))))
    ax.imshow(weights, cmap="gray", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(source)), source, rotation=90, fontsize=7)
    ax.set_yticks(range(len(output)), output, fontsize=7)
    ax.xaxis.tick_top()
    ax.set_title(title, fontsize=9)
    return save(fig, path)


def context_growth(growths: list[Growth], path: Path, style: dict[str, Style]) -> list[Path]:
    """Context module parameters against L, a line per variant built for a bounded L; each
    trained L marked."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for g in growths:
        color, marker = style[g.variant]
        lengths, params = zip(*g.rows, strict=True)
        ax.plot(lengths, [p / 1e6 for p in params], marker=marker, color=color, label=g.variant)
        ax.axvline(g.trained_l, color=color, linestyle="--", label=f"trained: L = {g.trained_l}")
    ax.set_xlabel("maximum source length L (tokens)")
    ax.set_ylabel("context module params (M)")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)
