"""The verdict: does a test set show the paper's shape? Each claim of `judge.claims`
(`nmt_bottleneck.eval.claims`) is judged on the evaluate stage's per-bucket BLEU and bootstrap
intervals, then the claims together give the test set's outcome. The report writes it in words;
nothing here draws or writes.

A claim's status:
- `falls` / `holds`: the last bucket's BLEU over the best bucket's, against its line
  (`falls_below` / `holds_at`). Met or not met when the quotient and its bootstrap interval
  (evaluate's `last_over_best`, where it was computed for the same two buckets) are on the same
  side of the line; `cannot tell` when the interval straddles the line, or the best bucket
  scores 0.
- `separated`: `met` when `better`'s interval lies wholly above `worse`'s in every bucket
  starting beyond `long_from` words, `partly` in some, `not met` in none (`cannot tell` when
  no bucket starts there).

The claims are judged whenever their variants are scored, so their numbers are there to read
even where the outcome (below) is `cannot show` or `not judged`.

The test set's outcome, the first that applies:
1. `incomplete`: a variant named by a claim has no scores on the set.
2. `cannot show`: no bucket starts beyond `long_from` words (a corpus of short sentences).
3. `not judged`: the best bucket of every variant a claim names is under `min_best_bleu` BLEU
   (compared at the 2 places the report shows): curves that low say little about length.
4. `appears` when every claim is met; `cannot tell` when none is contradicted (not met or met
   only partly) but some cannot be told; `in part` when some claim is met (or partly met) and
   another is not; `does not appear` when none is met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from nmt_bottleneck.eval.claims import (
    Claim,
    JudgeSettings,
    SeparatedClaim,
    ShapeClaim,
    claim_from_json,
    claim_variants,
)
from nmt_bottleneck.eval.results import BucketResult, Details, LastOverBest

Status = Literal["met", "partly", "not met", "cannot tell"]
Outcome = Literal[
    "appears",
    "in part",
    "cannot tell",
    "does not appear",
    "cannot show",
    "not judged",
    "incomplete",
]
Side = Literal["above", "below", "cannot tell"]


class Shape(NamedTuple):
    """How much of its best bucket's BLEU a curve keeps in its last (longest) bucket."""

    variant: str
    best: str  # bucket labels
    best_bleu: float
    last: str
    last_bleu: float
    value: float | None  # last_bleu / best_bleu; None where the best scores 0
    ci_lo: float | None  # evaluate's bootstrap interval of the quotient, where it has one
    ci_hi: float | None

    def side(self, line: float) -> Side:
        """Which side of `line` the quotient is on, where its interval agrees."""
        if self.value is None:
            return "cannot tell"
        above = self.last_bleu >= line * self.best_bleu
        if self.ci_lo is None or self.ci_hi is None:
            return "above" if above else "below"
        if above:
            return "above" if self.ci_lo >= line else "cannot tell"
        return "below" if self.ci_hi < line else "cannot tell"


class ClaimResult(NamedTuple):
    claim: Claim
    status: Status
    line: float | None = None  # shape claims: the quotient's line (holds_at or falls_below)
    shape: Shape | None = None  # shape claims: the variant's
    long: tuple[str, ...] = ()  # separated: the buckets starting beyond long_from
    separated: tuple[str, ...] = ()  # separated: those where better's interval is above worse's

    def to_json(self) -> dict[str, Any]:
        shape = self.shape and self.shape._asdict()
        return self._replace(claim=self.claim._asdict(), shape=shape)._asdict()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ClaimResult:
        shape = d.get("shape") and Shape(**d["shape"])
        fields = {"long": tuple(d["long"]), "separated": tuple(d["separated"]), "shape": shape}
        return cls(**{**d, "claim": claim_from_json(d["claim"]), **fields})


class Verdict(NamedTuple):
    """One test set's (or view's) judgement."""

    outcome: Outcome
    shapes: dict[str, Shape]  # every variant scored on the set, in config order
    results: list[ClaimResult]  # one per claim; empty when incomplete
    missing: tuple[str, ...] = ()  # incomplete: claim variants without scores
    longest: str | None = None  # the set's last bucket (cannot show)
    top: tuple[str, float] | None = None  # the claims' variant with the best bucket, its BLEU

    def to_json(self) -> dict[str, Any]:
        return self._replace(
            shapes={v: s._asdict() for v, s in self.shapes.items()},
            results=[r.to_json() for r in self.results],
        )._asdict()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Verdict:
        return cls(
            d["outcome"],
            {v: Shape(**s) for v, s in d["shapes"].items()},
            [ClaimResult.from_json(r) for r in d["results"]],
            tuple(d["missing"]),
            d["longest"],
            tuple(d["top"]) if d["top"] else None,
        )


class Verdicts(NamedTuple):
    """`reports/verdicts.json`: the settings judged by and each test set's verdict."""

    settings: JudgeSettings
    test_sets: dict[str, Verdict]

    def to_json(self) -> dict[str, Any]:
        sets = {name: v.to_json() for name, v in self.test_sets.items()}
        return {"settings": self.settings.to_json(), "test_sets": sets}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Verdicts:
        sets = {name: Verdict.from_json(v) for name, v in d["test_sets"].items()}
        return cls(JudgeSettings.from_json(d["settings"]), sets)


def judge(
    details: Mapping[str, Details | None], settings: JudgeSettings, test_sets: Sequence[str]
) -> Verdicts:
    """Verdicts on `test_sets` (test sets and `<set>_novel` views) from each variant's evaluate
    details (None: not evaluated)."""
    return Verdicts(settings, {name: judge_set(details, settings, name) for name in test_sets})


def judge_set(details: Mapping[str, Details | None], settings: JudgeSettings, name: str) -> Verdict:
    """One test set's verdict (module docstring)."""
    scored = {v: d.test_sets[name] for v, d in details.items() if d and name in d.test_sets}
    curves = {v: c for v, s in scored.items() if (c := s.curve())}
    shapes = {v: shape(v, c, scored[v].last_over_best) for v, c in curves.items()}
    named = list(dict.fromkeys(v for c in settings.claims for v in claim_variants(c)))
    missing = [v for v in named if v not in shapes]
    if missing:
        return Verdict("incomplete", shapes, [], missing=tuple(missing))
    if not named:
        return Verdict("not judged", shapes, [])
    results = [judge_claim(c, curves, shapes, settings) for c in settings.claims]
    top = max(((v, shapes[v].best_bleu) for v in named), key=lambda t: t[1])
    buckets = curves[named[0]]
    if not any(b.lo > settings.long_from for b in buckets):
        return Verdict("cannot show", shapes, results, longest=buckets[-1].label, top=top)
    if round(top[1], 2) < settings.min_best_bleu:
        return Verdict("not judged", shapes, results, top=top)
    return Verdict(outcome([r.status for r in results]), shapes, results, top=top)


def shape(variant: str, curve: list[BucketResult], fall: LastOverBest | None) -> Shape:
    """The curve's last non-empty bucket over its best, with evaluate's interval of that
    quotient when it was taken between the same two buckets."""
    best = max(curve, key=lambda b: b.bleu)  # the first of equals
    last = curve[-1]
    value = last.bleu / best.bleu if best.bleu else None
    same = fall is not None and (fall.last, fall.best) == (last.label, best.label)
    lo, hi = (fall.ci_lo, fall.ci_hi) if same and fall.ci_lo is not None else (None, None)
    return Shape(variant, best.label, best.bleu, last.label, last.bleu, value, lo, hi)


def judge_claim(
    claim: Claim,
    curves: Mapping[str, list[BucketResult]],
    shapes: Mapping[str, Shape],
    settings: JudgeSettings,
) -> ClaimResult:
    if isinstance(claim, ShapeClaim):
        line = settings.holds_at if claim.kind == "holds" else settings.falls_below
        side = shapes[claim.variant].side(line)
        wanted = "above" if claim.kind == "holds" else "below"
        status = "cannot tell" if side == "cannot tell" else "met" if side == wanted else "not met"
        return ClaimResult(claim, status, line, shapes[claim.variant])
    if isinstance(claim, SeparatedClaim):
        better = {b.label: b for b in curves[claim.better]}
        long = [b for b in curves[claim.worse] if b.lo > settings.long_from]
        above = [b.label for b in long if b.label in better and better[b.label].ci_lo > b.ci_hi]
        if not long:
            status = "cannot tell"  # no long sentences to tell by
        else:
            status = "met" if len(above) == len(long) else "partly" if above else "not met"
        return ClaimResult(claim, status, long=tuple(b.label for b in long), separated=tuple(above))
    raise TypeError(f"no judgement for claims of kind {claim.kind!r}")


def outcome(statuses: list[Status]) -> Outcome:
    """The test set's outcome from its claims' statuses (module docstring, 4)."""
    if all(s == "met" for s in statuses):
        return "appears"
    contradicted = any(s in ("not met", "partly") for s in statuses)
    if not contradicted:
        return "cannot tell"
    if any(s in ("met", "partly") for s in statuses):
        return "in part"
    return "does not appear"
