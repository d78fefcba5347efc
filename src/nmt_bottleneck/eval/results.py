"""The evaluate stage's result formats: what `reports/eval/<variant>.details.json`, the metrics
JSON and `evaluations/<variant>/attention.json` hold, typed, each with `to_json` / `from_json`.

The JSON keeps the key order and layout the report and people read (one object per test set or
`<set>_novel` view under `test_sets`). Numbers are rounded to 4 places when written; JSON has no
NaN literal for "not defined", so `last_over_best` writes None there, while an empty bucket's
BLEU is NaN (Python's json writes and reads it as `NaN`).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from nmt_bottleneck.eval.bleu import BucketScore, Quotient, Scores
from nmt_bottleneck.eval.translate import DecodeSettings


def rounded(x: float) -> float | None:
    """x to 4 places; None for NaN, which JSON has no literal for."""
    return None if math.isnan(x) else round(x, 4)


class BucketResult(NamedTuple):
    """BLEU over one source-length bucket, with its 95% bootstrap interval."""

    lo: int  # words, inclusive
    hi: int | None  # words, inclusive; None: the open last bucket
    label: str  # "1-10", "61+"
    n: int  # sentences in the bucket
    bleu: float  # NaN for an empty bucket
    ci_lo: float
    ci_hi: float
    length_ratio: float  # output / reference length (sacrebleu's ratio, 13a tokens)

    @classmethod
    def from_score(cls, b: BucketScore) -> BucketResult:
        numbers = (round(x, 4) for x in (b.bleu, b.ci_lo, b.ci_hi, b.length_ratio))
        return cls(b.bucket.lo, b.bucket.hi, b.bucket.label, b.n, *numbers)

    def to_json(self) -> dict[str, Any]:
        return self._asdict()

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BucketResult:
        return cls(**d)


class LastOverBest(NamedTuple):
    """How much of its best bucket's BLEU a curve keeps in its last (`bleu.last_over_best`)."""

    last: str  # bucket labels
    best: str
    value: float | None  # None where the best bucket scores 0
    ci_lo: float | None
    ci_hi: float | None

    @classmethod
    def from_quotient(cls, q: Quotient) -> LastOverBest:
        return cls(q.last, q.best, rounded(q.value), rounded(q.ci_lo), rounded(q.ci_hi))

    def to_json(self) -> dict[str, Any]:
        return self._asdict()

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> LastOverBest | None:
        return None if d is None else cls(**d)


class Timing(NamedTuple):
    decode_s: float
    sentences_per_s: float


class SetScores(NamedTuple):
    """One test set, or a `<set>_novel` view of one (then `novel_of` names the set, and
    `near_duplicates` counts the sentences left out; a view has no decoding of its own, so no
    truncation count or timing)."""

    bleu: float
    chrf: float
    sentences: int
    empty_hyps: int
    bleu_signature: str
    chrf_signature: str
    last_over_best: LastOverBest | None  # None with fewer than two non-empty buckets
    buckets: list[BucketResult]
    truncated_sources: int | None = None  # sources cut to the context module's longest
    timing: Timing | None = None
    novel_of: str | None = None
    near_duplicates: int | None = None

    @classmethod
    def from_scores(
        cls,
        scores: Scores,
        buckets: list[BucketScore],
        fall: Quotient | None,
        truncated: int | None = None,
        timing: Timing | None = None,
    ) -> SetScores:
        return cls(
            round(scores.bleu, 4),
            round(scores.chrf, 4),
            scores.n,
            scores.empty_hyps,
            scores.bleu_signature,
            scores.chrf_signature,
            fall and LastOverBest.from_quotient(fall),
            [BucketResult.from_score(b) for b in buckets],
            truncated,
            timing,
        )

    def metrics(self) -> dict[str, Any]:
        """The DVC metrics of a whole test set: corpus BLEU, chrF and the counts."""
        out = {
            "bleu": self.bleu,
            "chrf": self.chrf,
            "sentences": self.sentences,
            "empty_hyps": self.empty_hyps,
        }
        if self.truncated_sources is not None:
            out["truncated_sources"] = self.truncated_sources
        return out

    def curve(self) -> list[BucketResult]:
        """The non-empty buckets (an empty one has NaN BLEU and is not drawn or judged)."""
        return [b for b in self.buckets if b.n != 0]

    def to_json(self) -> dict[str, Any]:
        view = {"novel_of": self.novel_of, "near_duplicates": self.near_duplicates}
        return {
            **(view if self.novel_of is not None else {}),
            **self.metrics(),
            "bleu_signature": self.bleu_signature,
            "chrf_signature": self.chrf_signature,
            **(self.timing._asdict() if self.timing else {}),
            "last_over_best": self.last_over_best and self.last_over_best.to_json(),
            "buckets": [b.to_json() for b in self.buckets],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SetScores:
        timing = Timing(d["decode_s"], d["sentences_per_s"]) if "decode_s" in d else None
        return cls(
            d["bleu"],
            d["chrf"],
            d["sentences"],
            d["empty_hyps"],
            d["bleu_signature"],
            d["chrf_signature"],
            LastOverBest.from_json(d.get("last_over_best")),
            [BucketResult.from_json(b) for b in d["buckets"]],
            d.get("truncated_sources"),
            timing,
            d.get("novel_of"),
            d.get("near_duplicates"),
        )


class Details(NamedTuple):
    """`reports/eval/<variant>.details.json`: one variant's scores on every test set and view."""

    variant: str
    decode: DecodeSettings
    machine: dict[str, Any]  # nmt_bottleneck.machine.describe()
    test_sets: dict[str, SetScores]  # test sets and `<set>_novel` views, in order
    skipped_views: dict[str, str]  # view -> why it was not scored ("no near-duplicates")

    def metrics(self) -> dict[str, dict[str, Any]]:
        """`reports/eval/<variant>.json` (DVC metrics): the whole test sets, not the views."""
        return {n: t.metrics() for n, t in self.test_sets.items() if t.novel_of is None}

    def to_json(self) -> dict[str, Any]:
        out = {
            "variant": self.variant,
            "decode": self.decode._asdict(),
            "machine": self.machine,
            "test_sets": {n: t.to_json() for n, t in self.test_sets.items()},
        }
        return out | ({"skipped_views": self.skipped_views} if self.skipped_views else {})

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Details:
        return cls(
            d["variant"],
            DecodeSettings(**d["decode"]),
            d.get("machine") or {},
            {n: SetScores.from_json(t) for n, t in d["test_sets"].items()},
            d.get("skipped_views") or {},
        )


class AttentionRecord(NamedTuple):
    """One sentence's attention weights, for a heatmap (Bahdanau et al. 2015, Figure 3)."""

    test_set: str
    index: int  # 0-based row of the test set (the download stage drops pairs empty on one side)
    line: int  # 1-based line (or row) of the sentence in its input file: the corpus's `line`
    shard: int | None  # the input file's index, for sources read from several files (Hub shards)
    source: list[str]  # source subwords (and </s>), one per column
    output: list[str]  # output subwords (and </s>), one per row
    weights: list[list[float]]  # [len(output), len(source)], rows sum to 1

    @property
    def where(self) -> str:
        """Where the sentence is in its input: `line 12`, or `shard 3 line 12`."""
        return f"line {self.line}" if self.shard is None else f"shard {self.shard} line {self.line}"

    def to_json(self) -> dict[str, Any]:
        return self._asdict()

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AttentionRecord:
        """Also reads records written before `line` and `shard` were kept (their line was the
        row + 1)."""
        return cls(**{"line": d["index"] + 1, "shard": None, **d})
