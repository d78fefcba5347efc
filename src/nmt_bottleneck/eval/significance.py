"""The compare stage's result format, `reports/significance.json`, typed, with `to_json` /
`from_json`: per test set, each variant's curve over its seeds (`eval.seeds`) and the paired
tests over seeds (`eval.paired`) of every variant against the baseline and of every pair a claim
compares.

    {"baseline": <id>, "seeds": [<seed>, ...],
     "test_sets": {<set>: {<variant>: [PairedRow, ...]}},        # each variant vs the baseline
     "pairs": {<set>: [{"system": <id>, "baseline": <id>, "rows": [PairedRow, ...]}]},
     "curves": {<set>: {<variant>: SeedCurve}}}

A list of rows is the test over the whole set ("all") first, then one per bucket in the
evaluate stage's order. "pairs" holds the claims' pairs that are not a variant against the
baseline (`tests` finds a pair in either place)."""

from __future__ import annotations

from typing import Any, NamedTuple

from nmt_bottleneck.eval.seeds import SeedCurve


class PairedRow(NamedTuple):
    """One paired test of a system against a baseline, over the sentences of `bucket`."""

    bucket: str  # a bucket label, or "all" for the whole test set
    n: int  # sentences
    baseline_bleu: float  # mean over the baseline's seeds of its corpus BLEU
    system_bleu: float
    p_value: float  # two-sided, sacrebleu's meaning; see eval.paired
    diff_lo: float | None = None  # 95% interval of the system - baseline BLEU difference
    diff_hi: float | None = None

    @property
    def diff(self) -> float:
        return self.system_bleu - self.baseline_bleu

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PairedRow:
        return cls(**d)


class PairTests(NamedTuple):
    """The tests of `system` against `baseline` on one test set."""

    system: str
    baseline: str
    rows: list[PairedRow]

    def to_json(self) -> dict[str, Any]:
        return {**self._asdict(), "rows": [r._asdict() for r in self.rows]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PairTests:
        return cls(d["system"], d["baseline"], [PairedRow.from_json(r) for r in d["rows"]])


class Significance(NamedTuple):
    """`reports/significance.json` (module docstring)."""

    baseline: str
    test_sets: dict[str, dict[str, list[PairedRow]]]
    pairs: dict[str, list[PairTests]]
    curves: dict[str, dict[str, SeedCurve]]
    seeds: list[int]

    def rows(self, test_set: str) -> dict[str, list[PairedRow]]:
        """variant -> its tests against the baseline on `test_set` ({} when the set was not
        compared, as a view)."""
        return self.test_sets.get(test_set, {})

    def tests(self, test_set: str, system: str, baseline: str) -> list[PairedRow] | None:
        """The tests of `system` against `baseline` on `test_set`; None where not compared."""
        if baseline == self.baseline and system in self.rows(test_set):
            return self.rows(test_set)[system]
        found = (
            p for p in self.pairs.get(test_set, []) if (p.system, p.baseline) == (system, baseline)
        )
        return next((p.rows for p in found), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "seeds": self.seeds,
            "test_sets": {
                name: {v: [r._asdict() for r in rows] for v, rows in tests.items()}
                for name, tests in self.test_sets.items()
            },
            "pairs": {n: [p.to_json() for p in ps] for n, ps in self.pairs.items()},
            "curves": {n: {v: c.to_json() for v, c in cs.items()} for n, cs in self.curves.items()},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Significance:
        sets = {
            name: {v: [PairedRow.from_json(r) for r in rows] for v, rows in tests.items()}
            for name, tests in d["test_sets"].items()
        }
        pairs = {n: [PairTests.from_json(p) for p in ps] for n, ps in d.get("pairs", {}).items()}
        curves = {
            n: {v: SeedCurve.from_json(c) for v, c in cs.items()}
            for n, cs in d.get("curves", {}).items()
        }
        return cls(d["baseline"], sets, pairs, curves, list(d.get("seeds", [])))
