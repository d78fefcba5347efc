"""The report's figures, drawn from numbers already computed (no scoring here).

- `bleu_vs_length`: BLEU against source sentence length, one line per variant with its 95%
  bootstrap band, the sentence count of each bucket along the top: Figure 2 of Bahdanau et al.
  2015, with the uncertainty the paper did not show.
- `attention_heatmap`: a sentence's attention weights, source subwords x output subwords
  (Figure 3 of the same paper).
- `context_growth`: concat_states' parameters against the maximum source length L.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

STYLE = {  # one colour and marker per variant, the same in every figure
    "final_state": ("tab:red", "o"),
    "concat_states": ("tab:orange", "s"),
    "attention": ("tab:blue", "^"),
}


class Curve(NamedTuple):
    variant: str
    labels: list[str]  # bucket labels, "1-10" ... "61+"
    counts: list[int]
    bleu: list[float]
    ci_lo: list[float]
    ci_hi: list[float]
    length_ratio: list[float]  # output / reference length per bucket (tables, not drawn)


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


def bleu_vs_length(curves: list[Curve], title: str, path: Path) -> list[Path]:
    """One panel: x = source length bucket, y = BLEU, a line and a band per variant."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    x = list(range(len(curves[0].labels)))
    for c in curves:
        color, marker = STYLE.get(c.variant, (None, "x"))
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


def context_growth(lengths: list[int], params: list[int], actual: int, path: Path) -> list[Path]:
    """concat_states' parameter count against L; the trained model's L marked."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(lengths, [p / 1e6 for p in params], marker="o", color=STYLE["concat_states"][0])
    ax.axvline(actual, color="gray", linestyle="--", label=f"trained: L = {actual}")
    ax.set_xlabel("maximum source length L (tokens)")
    ax.set_ylabel("concat_states context params (M)")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)
