"""The report's figures, drawn from numbers already computed (no scoring here).

- `bleu_vs_length`: BLEU against source sentence length, one line per variant (its `label`,
  the mean over its seeds) with two bands: the 95% bootstrap interval of the seed mean (shaded)
  and, with more than one seed, the seed spread min..max (hatched); the sentence count of each
  bucket along the top and each training-length limit (a variant's `max_len`) as a dashed
  vertical line: Figure 2 of Bahdanau et al. 2015, with the uncertainty the paper did not show.
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
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from nmt_bottleneck.eval.seeds import SeedCurve
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
    """A variant's curve as drawn: per bucket the seed mean, its interval and the seed spread."""

    variant: str
    label: str  # the variant's display name (`variants.<id>.label`), in the legend
    labels: list[str]  # bucket labels, "1-10" ... "61+"
    los: list[int]  # each bucket's first and last length in words (None: open)
    his: list[int | None]
    counts: list[int]
    bleu: list[float]  # mean over seeds
    ci_lo: list[float | None]  # 95% bootstrap interval of the seed mean
    ci_hi: list[float | None]
    seed_min: list[float]  # the seed spread
    seed_max: list[float]
    seeds: int  # how many seeds the mean is over
    length_ratio: list[float]  # output / reference length per bucket (tables, not drawn)

    @classmethod
    def from_seeds(cls, c: SeedCurve, label: str) -> Curve:
        b = c.buckets
        return cls(
            c.variant,
            label,
            [x.label for x in b],
            [x.lo for x in b],
            [x.hi for x in b],
            [x.n for x in b],
            [x.bleu for x in b],
            [x.ci_lo for x in b],
            [x.ci_hi for x in b],
            [x.seed_min for x in b],
            [x.seed_max for x in b],
            len(c.seeds),
            [x.length_ratio for x in b],
        )


def limit_position(los: Sequence[int], his: Sequence[int | None], words: int) -> float:
    """Where `words` (a training-length limit) falls on the bucket axis (bucket k centred at
    x = k): after the bucket that ends at it (k + 0.5), or inside the bucket that holds it, in
    proportion; inside an open last bucket, at its centre."""
    for k, (lo, hi) in enumerate(zip(los, his, strict=True)):
        if hi is None:
            return float(k) if words >= lo else k - 0.5
        if lo <= words <= hi:
            return k - 0.5 + (words - lo + 1) / (hi - lo + 1)
    return len(los) - 0.5


def save(fig, path: Path) -> list[Path]:
    """PNG and SVG next to each other; returns both paths. The same figure gives the same bytes
    (no date in the SVG, and its element ids from a fixed salt instead of a random one), so a
    re-run that changes no number changes no committed figure."""
    paths = [path.with_suffix(".png"), path.with_suffix(".svg")]
    for p in paths:
        save_as(fig, p)
    plt.close(fig)
    return paths


def save_as(fig: Figure, path: Path) -> None:
    """One file of `save`, its format from the name's suffix (the figure stays open)."""
    with plt.rc_context({"svg.hashsalt": "nmt-bottleneck"}):
        fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Date": None})


def bleu_vs_length(
    curves: list[Curve],
    title: str,
    path: Path,
    style: dict[str, Style],
    limits: Sequence[int] = (),
) -> list[Path]:
    """The figure of `bleu_vs_length_figure`, saved as PNG and SVG."""
    return save(bleu_vs_length_figure(curves, title, style, limits), path)


def bleu_vs_length_figure(
    curves: list[Curve], title: str, style: dict[str, Style], limits: Sequence[int] = ()
) -> Figure:
    """One panel: x = source length bucket, y = BLEU; per variant a line (the seed mean), a
    shaded band (95% bootstrap interval of the seed mean) and, over several seeds, a hatched
    band (min..max over seeds); `limits`: training-length limits in words, dashed lines."""
    fig, ax = plt.subplots(figsize=(8, 4.8))
    x = list(range(len(curves[0].labels)))
    for c in curves:
        color, marker = style[c.variant]
        ax.plot(x, c.bleu, marker=marker, color=color, label=c.label, gid=f"curve-{c.variant}")
        if all(v is not None for v in (*c.ci_lo, *c.ci_hi)):
            ax.fill_between(x, c.ci_lo, c.ci_hi, color=color, alpha=0.18, linewidth=0)
        if c.seeds > 1:
            ax.fill_between(
                x,
                c.seed_min,
                c.seed_max,
                facecolor="none",
                edgecolor=color,
                hatch="///",
                alpha=0.5,
                linewidth=0,
            )
    first = curves[0]
    for words in sorted(set(limits)):
        at = limit_position(first.los, first.his, words)
        ax.axvline(at, color="0.35", linestyle="--", linewidth=1, gid=f"limit-{words}")
        ax.text(
            at,
            0.02,
            f" trained on <= {words} words",
            rotation=90,
            fontsize=7,
            color="0.25",
            transform=ax.get_xaxis_transform(),
            ha="right",
            va="bottom",
        )
    ax.set_xticks(x, first.labels)
    ax.set_xlabel("source sentence length (words)")
    ax.set_ylabel("BLEU (line: mean over seeds)")
    ax.set_ylim(bottom=0)
    top = ax.secondary_xaxis("top")
    top.set_xticks(x, [f"n={n}" for n in first.counts], fontsize=7)
    ax.set_title(title, pad=18)
    ax.grid(alpha=0.3)
    bands = [
        Patch(facecolor="0.5", alpha=0.3, label="shaded: 95% bootstrap interval of the seed mean")
    ]
    seeds = max(c.seeds for c in curves)
    if seeds > 1:
        label = f"hatched: seed spread, min..max over {seeds} seeds"
        bands.append(Patch(facecolor="none", edgecolor="0.3", hatch="///", label=label))
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=[*handles, *bands], fontsize=8, loc="best")
    return fig


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
