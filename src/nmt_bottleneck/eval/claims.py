"""What the report claims about the curves, and the lines it judges them by: the `judge` section
of the config, typed and checked.

The paper's reading of its Figure 2 (Bahdanau et al. 2015, Section 5.1) is a list of claims:
the final-state model's BLEU falls with sentence length, attention's holds, and attention lies
above it on long sentences beyond the bootstrap intervals. Each claim is one typed kind
(`CLAIM_KINDS`) naming the variants it is about by id, so a new kind (an ordering of two
variants, a claim per length regime) is one more NamedTuple here and one more case in
`nmt_bottleneck.eval.judge`, and a new variant is a config line, not code.

- `falls` {variant}: the curve's last bucket keeps less than `falls_below` of its best bucket's
  BLEU (the quotient and its bootstrap interval are under the line).
- `holds` {variant}: the last bucket keeps at least `holds_at` of the best (quotient and interval
  at or over the line).
- `separated` {better, worse}: in every bucket starting beyond `long_from` words, `better`'s 95%
  interval lies wholly above `worse`'s.
- `ordering` {better, worse}: over the whole test set, `better`'s BLEU (mean over its seeds) is
  above `worse`'s, by the paired test over seeds (`eval.paired`, the compare stage) at p <
  `alpha` (Bahdanau et al. 2015, Table 1: RNNsearch-30 over RNNencdec-50).
- `ahead` {better, worse, beyond}: in every bucket starting beyond `beyond` words, `better` is
  above `worse` by the same paired test at p < `alpha` (one test per bucket, not corrected for
  their number: the claim needs each of them).

With several seeds a curve is the mean over seeds (`eval.seeds`): the shape claims read its
last-over-best quotient, `separated` its bootstrap intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from omegaconf import DictConfig, ListConfig, OmegaConf

from nmt_bottleneck.config import check_keys
from nmt_bottleneck.errors import ConfigError

JUDGE_KEYS = (
    "baseline",
    "long_from",
    "holds_at",
    "falls_below",
    "min_best_bleu",
    "alpha",
    "claims",
)
OPTIONAL = {"alpha": 0.05}  # keys a judge section written before them may leave out


class ShapeClaim(NamedTuple):
    """A curve falls, or holds, with length (module docstring)."""

    kind: Literal["falls", "holds"]
    variant: str


class SeparatedClaim(NamedTuple):
    """`better` lies above `worse` beyond the intervals on long sentences (module docstring)."""

    kind: Literal["separated"]
    better: str
    worse: str


class OrderingClaim(NamedTuple):
    """`better` is above `worse` over the whole test set, by the paired test (docstring)."""

    kind: Literal["ordering"]
    better: str
    worse: str


class AheadClaim(NamedTuple):
    """`better` is above `worse` in every bucket starting beyond `beyond` words, by the paired
    test in each (module docstring)."""

    kind: Literal["ahead"]
    better: str
    worse: str
    beyond: int


Claim = ShapeClaim | SeparatedClaim | OrderingClaim | AheadClaim
PairedClaim = OrderingClaim | AheadClaim  # judged by the compare stage's paired tests
CLAIM_KINDS: dict[str, type[Claim]] = {
    "falls": ShapeClaim,
    "holds": ShapeClaim,
    "separated": SeparatedClaim,
    "ordering": OrderingClaim,
    "ahead": AheadClaim,
}
VARIANT_FIELDS = ("variant", "better", "worse")  # claim fields that name a variant


def claim_from_json(d: Mapping[str, Any]) -> Claim:
    return CLAIM_KINDS[d["kind"]](**d)


def claim_variants(claim: Claim) -> list[str]:
    """The variant ids a claim names, in its fields' order."""
    return [getattr(claim, f) for f in claim._fields if f in VARIANT_FIELDS]


class JudgeSettings(NamedTuple):
    """`judge` in params.yaml (conf/config.yaml), checked."""

    baseline: str  # every other variant is paired-tested against it (compare stage)
    long_from: int  # long sentences: buckets that start beyond this many words
    holds_at: float  # a curve holds when last bucket / best bucket >= this
    falls_below: float  # a curve falls when last bucket / best bucket < this
    min_best_bleu: float  # below this in the best bucket of the claims' variants: not judged
    alpha: float  # ordering / ahead: a paired test supports the claim at p < alpha
    claims: list[Claim]

    def pairs(self) -> list[tuple[str, str]]:
        """(system, baseline) of each paired test the claims read: (better, worse), once each,
        in the claims' order."""
        wanted = [(c.better, c.worse) for c in self.claims if isinstance(c, PairedClaim)]
        return list(dict.fromkeys(wanted))

    @classmethod
    def from_config(cls, node: DictConfig | Mapping, variants: Sequence[str]) -> JudgeSettings:
        """`node`: the `judge` section; `variants`: the ids in `variants`, which the baseline and
        every claim must name. Errors name the key and the valid options."""
        node = node if isinstance(node, DictConfig) else OmegaConf.create(dict(node))
        check_keys(node, JUDGE_KEYS, "judge")
        absent = [k for k in JUDGE_KEYS if k not in node and k not in OPTIONAL]
        if absent:
            raise ConfigError(
                f"judge is missing {', '.join(absent)}. Fix: add them to `judge` in "
                "conf/config.yaml (README, 'Reading the report')."
            )
        check_variant("judge.baseline", node.baseline, variants)
        check_number("judge.long_from", node.long_from, 0, None, integer=True)
        check_number("judge.holds_at", node.holds_at, 0, 1)
        check_number("judge.falls_below", node.falls_below, 0, node.holds_at)
        check_number("judge.min_best_bleu", node.min_best_bleu, 0, 100)
        alpha = node.get("alpha", OPTIONAL["alpha"])
        check_number("judge.alpha", alpha, 0, 1)
        if not isinstance(node.claims, ListConfig):
            raise ConfigError(
                f"judge.claims = {node.claims!r}: it must be a list of claims, e.g. "
                "[{kind: holds, variant: <id>}], or [] for none."
            )
        claims = [parse_claim(c, f"judge.claims[{i}]", variants) for i, c in enumerate(node.claims)]
        numbers = (node.long_from, float(node.holds_at), float(node.falls_below))
        return cls(node.baseline, *numbers, float(node.min_best_bleu), float(alpha), claims)

    def to_json(self) -> dict[str, Any]:
        return self._replace(claims=[c._asdict() for c in self.claims])._asdict()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> JudgeSettings:
        return cls(**{**d, "claims": [claim_from_json(c) for c in d["claims"]]})


def parse_claim(node: Any, key: str, variants: Sequence[str]) -> Claim:
    """One entry of `judge.claims`, checked against its kind's fields and the variant ids."""
    kinds = ", ".join(CLAIM_KINDS)
    if not isinstance(node, DictConfig) or "kind" not in node:
        raise ConfigError(
            f"{key} = {node!r}: a claim is a mapping with a `kind` (one of {kinds}), e.g. "
            "{kind: holds, variant: <id>}."
        )
    if node.kind not in CLAIM_KINDS:
        raise ConfigError(f"{key}.kind = {node.kind!r}: unknown kind; valid kinds: {kinds}.")
    cls = CLAIM_KINDS[node.kind]
    check_keys(node, cls._fields, key)
    absent = [f for f in cls._fields if f not in node]
    if absent:
        raise ConfigError(
            f"{key} (kind {node.kind}) is missing {', '.join(absent)}; a {node.kind} claim has "
            f"{', '.join(cls._fields)}. Fix: add them in conf/config.yaml."
        )
    for field in VARIANT_FIELDS:
        if field in node:
            check_variant(f"{key}.{field}", node[field], variants)
    if "beyond" in node:
        check_number(f"{key}.beyond", node.beyond, 0, None, integer=True)
    return cls(**{f: node[f] for f in cls._fields})


def check_variant(key: str, value: Any, variants: Sequence[str]) -> None:
    if value not in variants:
        raise ConfigError(
            f"{key} = {value!r} is not a variant; variants: {', '.join(variants)}. Fix: name "
            "one of them in conf/config.yaml (or add that variant to its defaults)."
        )


def check_number(key: str, value: Any, lo: float, hi: float | None, integer: bool = False) -> None:
    """`value` is a number (an int where `integer`) in [lo, hi] (hi None: unbounded)."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ConfigError(
            f"{key} = {value!r}: it must be {'an integer' if integer else 'a number'}."
        )
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo:g} and {hi:g}" if hi is not None else f"at least {lo:g}"
        raise ConfigError(
            f"{key} = {value!r}: it must be {bound}. Fix: change it in conf/config.yaml."
        )
