"""The verdict: does a test set show the paper's shape? Each claim of `judge.claims`
(`nmt_bottleneck.eval.claims`) is judged on the curves over seeds (`eval.seeds`: per-bucket
seed-mean BLEU, bootstrap intervals, last over best) and the compare stage's paired tests over
seeds (`eval.paired`), then the claims together give the test set's outcome. The report writes
it in words; nothing here draws or writes.

A claim's status:
- `falls` / `holds`: the last bucket's BLEU over the best bucket's, against its line
  (`falls_below` / `holds_at`). Met or not met when the quotient and its bootstrap interval
  (evaluate's `last_over_best`, where it was computed for the same two buckets) are on the same
  side of the line; `cannot tell` when the interval straddles the line, or the best bucket
  scores 0.
- `separated`: `met` when `better`'s interval lies wholly above `worse`'s in every bucket
  starting beyond `long_from` words, `partly` in some, `not met` in none (`cannot tell` when
  no bucket starts there).
- `ordering`: `met` when the paired test over the whole set puts `better` above `worse` at
  p < `alpha`, `not met` when it puts `worse` above at p < `alpha`, `cannot tell` otherwise.
- `ahead`: per bucket starting beyond `beyond` words, the same; `met` when every such bucket
  puts `better` above, `partly` when some do, `not met` when none does and some put `worse`
  above, `cannot tell` when no test tells them apart (or no bucket starts there).
- `untested`: a paired claim on a set the compare stage did not test (the `<set>_novel`
  views); it leaves the outcome to the other claims.

The claims are judged whenever their variants are scored, so their numbers are there to read
even where the outcome (below) is `cannot show` or `not judged`.

The test set's outcome, the first that applies:
1. `incomplete`: a variant named by a claim has no scores on the set.
2. `cannot show`: no bucket starts beyond `long_from` words (a corpus of short sentences).
3. `not judged`: the best bucket of every variant a claim names is under `min_best_bleu` BLEU
   (compared at the 2 places the report shows): curves that low say little about length.
4. (claims `untested` aside) `appears` when every claim is met; `cannot tell` when none is
   contradicted (not met or met only partly) but some cannot be told; `in part` when some claim
   is met (or partly met) and another is not; `does not appear` when none is met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from nmt_bottleneck.eval.claims import (
    AheadClaim,
    Claim,
    JudgeSettings,
    OrderingClaim,
    SeparatedClaim,
    ShapeClaim,
    claim_from_json,
    claim_variants,
)
from nmt_bottleneck.eval.seeds import SeedBucket, SeedCurve, SeedQuotient
from nmt_bottleneck.eval.significance import PairedRow, Significance

Status = Literal["met", "partly", "not met", "cannot tell", "untested"]
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
    ci_lo: float | None  # the bootstrap interval of the quotient, where there is one
    ci_hi: float | None
    seed_min: float | None = None  # min..max over seeds of each seed's quotient
    seed_max: float | None = None

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
    long: tuple[str, ...] = ()  # separated, ahead: the buckets judged (beyond long_from, beyond)
    separated: tuple[str, ...] = ()  # separated, ahead: those that support the claim
    tests: tuple[PairedRow, ...] = ()  # ordering, ahead: the paired tests read ("all" or long)

    def to_json(self) -> dict[str, Any]:
        shape = self.shape and self.shape._asdict()
        tests = [t._asdict() for t in self.tests]
        return self._replace(claim=self.claim._asdict(), shape=shape, tests=tests)._asdict()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ClaimResult:
        shape = d.get("shape") and Shape(**d["shape"])
        tests = tuple(PairedRow.from_json(t) for t in d.get("tests", []))
        fields = {"long": tuple(d["long"]), "separated": tuple(d["separated"]), "shape": shape}
        return cls(**{**d, "claim": claim_from_json(d["claim"]), **fields, "tests": tests})


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
    curves: Mapping[str, Mapping[str, SeedCurve]],
    settings: JudgeSettings,
    test_sets: Sequence[str],
    significance: Significance | None = None,
) -> Verdicts:
    """Verdicts on `test_sets` (test sets and `<set>_novel` views) from each set's curves
    (set -> variant -> its curve over seeds; a variant not evaluated there has none) and the
    compare stage's paired tests (None: not run; the paired claims are then `untested`)."""
    sets = {n: judge_set(curves.get(n, {}), settings, n, significance) for n in test_sets}
    return Verdicts(settings, sets)


def judge_set(
    curves: Mapping[str, SeedCurve],
    settings: JudgeSettings,
    name: str,
    significance: Significance | None = None,
) -> Verdict:
    """One test set's verdict (module docstring); `curves`: variant -> its curve on the set."""
    buckets = {v: b for v, c in curves.items() if (b := c.curve())}
    shapes = {v: shape(v, b, curves[v].last_over_best) for v, b in buckets.items()}
    named = list(dict.fromkeys(v for c in settings.claims for v in claim_variants(c)))
    missing = [v for v in named if v not in shapes]
    if missing:
        return Verdict("incomplete", shapes, [], missing=tuple(missing))
    if not named:
        return Verdict("not judged", shapes, [])
    results = [
        judge_claim(c, buckets, shapes, settings, name, significance) for c in settings.claims
    ]
    top = max(((v, shapes[v].best_bleu) for v in named), key=lambda t: t[1])
    first = buckets[named[0]]
    if not any(b.lo > settings.long_from for b in first):
        return Verdict("cannot show", shapes, results, longest=first[-1].label, top=top)
    if round(top[1], 2) < settings.min_best_bleu:
        return Verdict("not judged", shapes, results, top=top)
    return Verdict(outcome([r.status for r in results]), shapes, results, top=top)


def shape(variant: str, curve: list[SeedBucket], fall: SeedQuotient | None) -> Shape:
    """The curve's last non-empty bucket over its best, with the interval (and seed spread) of
    that quotient where it was taken between the same two buckets."""
    best = max(curve, key=lambda b: b.bleu)  # the first of equals
    last = curve[-1]
    value = last.bleu / best.bleu if best.bleu else None
    same = fall is not None and (fall.last, fall.best) == (last.label, best.label)
    lo, hi = (fall.ci_lo, fall.ci_hi) if same and fall.ci_lo is not None else (None, None)
    least, most = (fall.seed_min, fall.seed_max) if same else (None, None)
    return Shape(variant, best.label, best.bleu, last.label, last.bleu, value, lo, hi, least, most)


def judge_claim(
    claim: Claim,
    curves: Mapping[str, list[SeedBucket]],
    shapes: Mapping[str, Shape],
    settings: JudgeSettings,
    name: str = "",
    significance: Significance | None = None,
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
        above = [b.label for b in long if b.label in better and above_interval(better[b.label], b)]
        if not long:
            status = "cannot tell"  # no long sentences to tell by
        else:
            status = "met" if len(above) == len(long) else "partly" if above else "not met"
        return ClaimResult(claim, status, long=tuple(b.label for b in long), separated=tuple(above))
    if isinstance(claim, OrderingClaim | AheadClaim):
        tests = significance and significance.tests(name, claim.better, claim.worse)
        return judge_paired(claim, tests, curves[claim.worse], settings.alpha)
    raise TypeError(f"no judgement for claims of kind {claim.kind!r}")


def above_interval(better: SeedBucket, worse: SeedBucket) -> bool:
    """better's interval lies wholly above worse's (False where either has none)."""
    if better.ci_lo is None or worse.ci_hi is None:
        return False
    return better.ci_lo > worse.ci_hi


def judge_paired(
    claim: OrderingClaim | AheadClaim,
    tests: list[PairedRow] | None,
    curve: list[SeedBucket],
    alpha: float,
) -> ClaimResult:
    """An ordering or ahead claim from the paired tests of better (system) against worse
    (baseline): the "all" row, or the rows of the buckets starting beyond `beyond` words."""
    if not tests:
        return ClaimResult(claim, "untested")
    if isinstance(claim, OrderingClaim):
        rows = [tests[0]]
    else:
        long = {b.label for b in curve if b.lo > claim.beyond}
        rows = [r for r in tests[1:] if r.bucket in long and r.n]
    ahead = [r.bucket for r in rows if r.diff > 0 and r.p_value < alpha]
    behind = [r.bucket for r in rows if r.diff < 0 and r.p_value < alpha]
    if rows and len(ahead) == len(rows):
        status: Status = "met"
    elif ahead:
        status = "partly"
    else:
        status = "not met" if behind else "cannot tell"
    labels = tuple(r.bucket for r in rows)
    return ClaimResult(claim, status, long=labels, separated=tuple(ahead), tests=tuple(rows))


def outcome(statuses: list[Status]) -> Outcome:
    """The test set's outcome from its claims' statuses (module docstring, 4)."""
    statuses = [s for s in statuses if s != "untested"]
    if statuses and all(s == "met" for s in statuses):
        return "appears"
    contradicted = any(s in ("not met", "partly") for s in statuses)
    if not contradicted:
        return "cannot tell"
    if any(s in ("met", "partly") for s in statuses):
        return "in part"
    return "does not appear"
