"""The report's table of claims: each claim of `judge.claims`, lettered in config order, with its
number, its interval or p-value and the judge's status (`nmt_bottleneck.eval.judge`). Words and
formatting only: every number and status comes from the judge."""

from __future__ import annotations

from collections.abc import Mapping

from nmt_bottleneck.eval.claims import (
    AheadClaim,
    Claim,
    JudgeSettings,
    OrderingClaim,
    SeparatedClaim,
    ShapeClaim,
)
from nmt_bottleneck.eval.judge import ClaimResult, Verdict
from nmt_bottleneck.eval.significance import PairedRow

HEADER = ["", "claim", "number", "95% interval / p", "verdict"]


def claims_table(verdict: Verdict, settings: JudgeSettings, labels: Mapping[str, str]) -> str:
    """A row per claim; `labels`: variant -> display name."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for k, r in enumerate(verdict.results):
        number, spread = numbers(r, settings)
        row = [f"({chr(ord('a') + k)})", said(r.claim, settings, labels), number, spread, r.status]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def said(c: Claim, settings: JudgeSettings, labels: Mapping[str, str]) -> str:
    """The claim in words, with the variants' labels."""
    if isinstance(c, ShapeClaim):
        name = labels.get(c.variant, c.variant)
        if c.kind == "falls":
            return f"{name} falls: its last bucket keeps under {settings.falls_below:g} of its best"
        return f"{name} holds: its last bucket keeps at least {settings.holds_at:g} of its best"
    better, worse = labels.get(c.better, c.better), labels.get(c.worse, c.worse)
    if isinstance(c, SeparatedClaim):
        return (
            f"{better} lies above {worse} beyond the 95% intervals in every bucket beyond "
            f"{settings.long_from} words"
        )
    test = f"paired test over seeds, p < {settings.alpha:g}"
    if isinstance(c, OrderingClaim):
        return f"{better} beats {worse} over the whole test set ({test})"
    if isinstance(c, AheadClaim):
        return f"{better} beats {worse} in every bucket beyond {c.beyond} words ({test})"
    raise TypeError(f"no wording for claims of kind {c.kind!r}")


def numbers(r: ClaimResult, settings: JudgeSettings) -> tuple[str, str]:
    """(the claim's number, its interval or p)."""
    c = r.claim
    if r.status == "untested":
        return "-", "no paired test on this set"
    if isinstance(c, ShapeClaim):
        s = r.shape
        if s.value is None:
            return f"best bucket {s.best} scores 0", "-"
        number = f"{s.value:.3f} ({s.last} over {s.best})"
        spread = "-" if s.ci_lo is None else f"[{s.ci_lo:.3f}, {s.ci_hi:.3f}]"
        if s.seed_min is not None and s.seed_max is not None and s.seed_min != s.seed_max:
            spread += f"; seeds {s.seed_min:.3f}..{s.seed_max:.3f}"
        return number, spread
    if isinstance(c, SeparatedClaim):
        return f"{len(r.separated)} of {len(r.long)} buckets separated", "-"
    if isinstance(c, OrderingClaim):
        return gain(r.tests[0]), tested(r.tests[0])
    ahead = f"{len(r.separated)} of {len(r.long)} buckets ahead at p < {settings.alpha:g}"
    per = "; ".join(f"{t.bucket}: {gain(t)}, {tested(t)}" for t in r.tests)
    return ahead, per or "-"


def gain(t: PairedRow) -> str:
    """'+2.10 BLEU (27.30 vs 25.20)'."""
    return f"{t.diff:+.2f} BLEU ({t.system_bleu:.2f} vs {t.baseline_bleu:.2f})"


def tested(t: PairedRow) -> str:
    """'[+0.40, +3.90], p = 0.0040'."""
    if t.diff_lo is None or t.diff_hi is None:
        return f"p = {t.p_value:.4f}"
    return f"[{t.diff_lo:+.2f}, {t.diff_hi:+.2f}], p = {t.p_value:.4f}"
