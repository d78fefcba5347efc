"""The compare stage's result format, `reports/significance.json`: sacrebleu's paired bootstrap
tests of each variant against the baseline, typed, with `to_json` / `from_json`."""

from __future__ import annotations

from typing import Any, NamedTuple


class PairedRow(NamedTuple):
    """One paired test of a variant against the baseline, over the sentences of `bucket`."""

    bucket: str  # a bucket label, or "all" for the whole test set
    n: int  # sentences
    baseline_bleu: float
    system_bleu: float
    p_value: float  # two-sided; see bleu.paired_bootstrap

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PairedRow:
        return cls(**d)


class Significance(NamedTuple):
    """`reports/significance.json`: per test set and compared variant, the test over the whole
    set first, then one per bucket in the evaluate stage's order."""

    baseline: str
    test_sets: dict[str, dict[str, list[PairedRow]]]

    def rows(self, test_set: str) -> dict[str, list[PairedRow]]:
        """variant -> its tests on `test_set` ({} when the set was not compared, as a view)."""
        return self.test_sets.get(test_set, {})

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "test_sets": {
                name: {v: [r._asdict() for r in rows] for v, rows in tests.items()}
                for name, tests in self.test_sets.items()
            },
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Significance:
        sets = {
            name: {v: [PairedRow.from_json(r) for r in rows] for v, rows in tests.items()}
            for name, tests in d["test_sets"].items()
        }
        return cls(d["baseline"], sets)
