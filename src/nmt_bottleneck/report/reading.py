"""The report's reading of one test set in plain words: how each curve moves with length, how
the compared curves stand on long sentences, and the verdict `nmt_bottleneck.eval.judge` gave,
claim by claim. Words only: every number and every status comes from the judge."""

from __future__ import annotations

from collections.abc import Mapping

from nmt_bottleneck.eval.claims import AheadClaim, JudgeSettings, OrderingClaim, SeparatedClaim
from nmt_bottleneck.eval.judge import ClaimResult, Shape, Verdict, Verdicts
from nmt_bottleneck.eval.results import Details, SetScores
from nmt_bottleneck.eval.seeds import SeedCurve

NEAR_DUPLICATE = "a training source up to case, numbers and punctuation"


def reading(scores: Mapping[str, SeedCurve], verdict: Verdict, verdicts: Verdicts) -> str:
    """The reading's lines (`scores`: variant -> its curve over seeds on the set), then the
    verdict."""
    settings = verdicts.settings
    lines = [shape_line(s, scores[s.variant], settings) for s in verdict.shapes.values()]
    for r in verdict.results:
        if isinstance(r.claim, SeparatedClaim) and r.long:
            better, worse, n = r.claim.better, r.claim.worse, len(r.long)
            lines.append(
                f"- Beyond {settings.long_from} words, {better}'s 95% interval lies wholly above "
                f"{worse}'s in {len(r.separated)} of {n} buckets."
            )
    for c in settings.claims:
        if isinstance(c, SeparatedClaim) and c.better in scores and c.worse in scores:
            lines.append(gains(c, scores[c.better], scores[c.worse]))
    return "\n".join([*lines, "", sentence(verdict, settings)])


def shape_line(s: Shape, scores: SeedCurve, settings: JudgeSettings) -> str:
    ratio = scores.curve()[-1].length_ratio
    return (
        f"- `{s.variant}`: best {s.best_bleu:.1f} BLEU at {s.best} words, {s.last_bleu:.1f} at "
        f"{s.last} ({kept(s, settings)}; output/reference length {ratio:.2f} there)."
    )


def gains(c: SeparatedClaim, better: SeedCurve, worse: SeedCurve) -> str:
    pairs = zip(better.curve(), worse.curve(), strict=True)
    quotients = [f"{a.bleu / b.bleu:.1f}x" if b.bleu else "-" for a, b in pairs]
    return (
        f"- {c.better}'s BLEU over {c.worse}'s, bucket by bucket: {', '.join(quotients)}. Each "
        "bucket holds the same sentences for both: a quotient that grows with length means "
        f"{c.worse} loses a larger share of its BLEU than {c.better} (few BLEU points make it "
        "jumpy)."
    )


def kept(s: Shape, settings: JudgeSettings) -> str:
    """How much of its best bucket's BLEU a curve keeps in its last, with the bootstrap interval
    where evaluate wrote one ("0.69 of the best, 95% interval 0.61-0.77")."""
    if s.value is None:
        return "its best is 0"
    out = f"{quotient(s.value, settings)} of the best"
    if s.ci_lo is not None and s.ci_hi is not None:
        out += f", 95% interval {quotient(s.ci_lo, settings)}-{quotient(s.ci_hi, settings)}"
    return out


def quotient(x: float, settings: JudgeSettings) -> str:
    """x to 2 places, or more where rounding would carry it across a line the judge uses (0.796
    is not shown as 0.80 beside a verdict that it is under 0.8)."""
    lines = (settings.holds_at, settings.falls_below)
    places = 2
    while places < 6 and any((round(x, places) >= y) != (x >= y) for y in lines):
        places += 1
    return f"{x:.{places}f}"


def phrases(r: ClaimResult, settings: JudgeSettings) -> tuple[str | None, str | None]:
    """(what in this claim supports the paper's shape, what does not or cannot be told)."""
    c = r.claim
    if r.status == "untested":
        return None, None  # no paired test on this set: the claim is left to the other sets
    if isinstance(c, OrderingClaim | AheadClaim):
        return paired_phrases(r, settings)
    if isinstance(c, SeparatedClaim):
        k, n, beyond = len(r.separated), len(r.long), f"beyond {settings.long_from} words"
        ahead = (
            f"{c.better} is ahead of {c.worse} beyond the intervals in {k} of {n} buckets {beyond}"
        )
        return {
            "met": (ahead, None),
            "partly": (ahead, f"not every bucket {beyond} is separated"),
            "not met": (
                None,
                f"{c.better} is not ahead of {c.worse} beyond the intervals in any bucket {beyond}",
            ),
            "cannot tell": (None, f"no bucket starts {beyond}"),
        }[r.status]
    s, line = r.shape, f"{r.line:g}"
    if r.status == "met":
        return (
            f"{c.variant} holds" if c.kind == "holds" else f"{c.variant} falls with length"
        ), None
    if r.status == "not met" and c.kind == "holds":
        under = f", wholly under {line}" if s.ci_lo is not None else ""
        return None, f"{c.variant} also falls with length ({kept(s, settings)}{under})"
    if r.status == "not met":
        return None, f"{c.variant} does not fall steeply ({kept(s, settings)})"
    if s.value is None:
        return None, f"{c.variant}'s best bucket scores 0, so how it moves with length is unknown"
    what = "holding from a fall" if c.kind == "holds" else "whether it falls steeply"
    return None, (
        f"{c.variant}'s last bucket keeps {kept(s, settings)}: the interval straddles {line}, "
        f"so this test set cannot tell {what}"
    )


def paired_phrases(r: ClaimResult, settings: JudgeSettings) -> tuple[str | None, str | None]:
    """What an ordering or ahead claim's paired tests say (`phrases`)."""
    c, alpha = r.claim, f"p < {settings.alpha:g}"
    if isinstance(c, OrderingClaim):
        p = f"p = {r.tests[0].p_value:.4f}"
        return {
            "met": (f"{c.better} beats {c.worse} overall ({p})", None),
            "not met": (None, f"{c.worse} beats {c.better} overall ({p})"),
            "cannot tell": (
                None,
                f"the paired test cannot tell {c.better} from {c.worse} overall ({p})",
            ),
        }[r.status]
    k, n, beyond = len(r.separated), len(r.long), f"beyond {c.beyond} words"
    ahead = f"{c.better} beats {c.worse} in {k} of {n} buckets {beyond} ({alpha})"
    if r.status == "cannot tell" and not n:
        return None, f"no bucket starts {beyond}"
    return {
        "met": (ahead, None),
        "partly": (ahead, f"not in every bucket {beyond}"),
        "not met": (
            None,
            f"{c.better} beats {c.worse} in no bucket {beyond} and trails it in some",
        ),
        "cannot tell": (None, f"the paired tests cannot tell {c.better} from {c.worse} {beyond}"),
    }[r.status]


def joined(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def sentence(verdict: Verdict, settings: JudgeSettings) -> str:
    """The verdict in one paragraph (outcomes: `nmt_bottleneck.eval.judge`)."""
    if verdict.outcome == "incomplete":
        names = ", ".join(f"`{v}`" for v in verdict.missing)
        return f"Not enough variants evaluated to judge the claims: no scores of {names} here."
    if verdict.outcome == "cannot show":
        return (
            f"This test set cannot show the paper's shape: no bucket starts beyond "
            f"{settings.long_from} words (the last is {verdict.longest}), and the shape is how "
            "BLEU moves on long sentences. Score a test set with longer sentences to judge it."
        )
    if verdict.outcome == "not judged":
        return floor(verdict, settings)
    said = [phrases(r, settings) for r in verdict.results]
    good = [g for g, _ in said if g]
    bad = [b for _, b in said if b]
    head = {
        "appears": "The paper's shape appears",
        "in part": "The paper's shape appears in part",
        "cannot tell": "This test set cannot tell whether the paper's shape appears",
        "does not appear": "The paper's shape does not appear here",
    }[verdict.outcome]
    if good and bad:
        return f"{head}: {joined(good)}, but {joined(bad)}."
    if not good and not bad:
        return f"{head}: no claim was tested on this set."
    return f"{head}: {joined(good or bad)}."


def floor(verdict: Verdict, settings: JudgeSettings) -> str:
    if verdict.top is None:
        return "No claims to judge: `judge.claims` is empty."
    variant, best = verdict.top
    return (
        f"Too little BLEU to compare with the paper's shape: {variant}'s best bucket has "
        f"{best:.2f} (under {settings.min_best_bleu:g}). Gaps between the curves can still be "
        "real (see the intervals and p-values), but at this level their shapes say little "
        "about length: train longer or larger."
    )


def within(a_lo: int, a_hi: int | None, b_lo: int, b_hi: int | None) -> bool:
    """Whether bucket a's lengths lie inside bucket b's (hi None: open-ended)."""
    return a_lo >= b_lo and (b_hi is None or (a_hi is not None and a_hi <= b_hi))


def novel_note(scores: Mapping[str, SetScores], details: Mapping[str, Details | None]) -> str:
    """What a `<set>_novel` view left out, per bucket; empty for a whole test set."""
    for v, view in scores.items():
        whole = details[v].test_sets.get(view.novel_of) if view.novel_of else None
        if whole is None:
            continue
        dropped = ", ".join(  # a view's bucket may span several of the whole set's
            f"{b.label}: {sum(a.n for a in whole.buckets if within(a.lo, a.hi, b.lo, b.hi)) - b.n}"
            for b in view.buckets
        )
        return (
            f"`{view.novel_of}` without the {view.near_duplicates} of its {whole.sentences} "
            f"sentences whose source is {NEAR_DUPLICATE}: a model may translate those by rote. "
            f"The same models and hypotheses, fewer sentences scored. Left out, per bucket: "
            f"{dropped}. A shape that changes between the two views comes from which sentences "
            "fill the buckets, not from the models."
        )
    return ""


def skipped_note(name: str, reason: str) -> str:
    """Why the `<name>_novel` view of a test set is not shown."""
    if reason == "no near-duplicates":
        return (
            f"`{name}_novel` is not shown: no near-duplicates. No `{name}` source is "
            f"{NEAR_DUPLICATE}, so the view would repeat this section."
        )
    return (
        f"`{name}_novel` is not shown: every `{name}` source is {NEAR_DUPLICATE}, so no "
        "sentence is left to score."
    )
