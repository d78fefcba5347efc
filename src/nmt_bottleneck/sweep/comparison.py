"""The sweep's groups compared on each test set, as the compare stage compares variants: each
group's curve over its seeds (`eval.seeds.seed_curve`: per source-length bucket and over the
whole set, the seed-mean BLEU, the seed spread and the bootstrap interval of the seed mean) and
the two-level paired bootstrap over sentences and seeds (`eval.compare.paired`, i.e.
`eval.paired.paired_seeds`) of every other group against the baseline group. The statistics
are read from the jobs' hypotheses (`evaluations/<set>.hyp`) against the references of the
corpus they were evaluated on; nothing is scored another way than the stages score it, so with
one seed a group's curve is its job's evaluate numbers.

The buckets are the evaluate stage's (`eval.buckets.source_buckets` over the test sources with
the jobs' `eval.bucket_edges` and `eval.min_bucket`). Groups are compared only on the same
sentences in the same buckets: the first group that scored a test set sets them, and a group
scored on another test split (another corpus) or in other buckets (other `eval.*` settings) is
left out of that set's comparison, with the reason, rather than drawn beside it.

The baseline is the group whose variant is the jobs' `judge.baseline` when exactly one group
is; otherwise the first group. The resamples are the groups' `eval.bootstrap_samples` seeded
with `eval.bootstrap_seed` (the baseline's, for the paired tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from nmt_bottleneck.data.corpus import column, load_corpus, split_fingerprint
from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.eval.bleu import sentence_stats
from nmt_bottleneck.eval.buckets import Bucket, assign, length_buckets
from nmt_bottleneck.eval.compare import paired, read_hyps
from nmt_bottleneck.eval.seeds import SeedCurve, seed_curve
from nmt_bottleneck.eval.significance import PairedRow
from nmt_bottleneck.sweep.groups import Group


class SetComparison(NamedTuple):
    """The groups on one test set (module docstring); keyed by group label, in group order."""

    test_set: str
    buckets: list[Bucket]
    curves: dict[str, SeedCurve]  # each compared group's curve over its finished jobs' seeds
    chrf: dict[str, float]  # each compared group's mean over seeds of its chrF
    baseline: str  # the baseline group's label
    tests: dict[str, list[PairedRow]]  # every other group against it: the whole set, then buckets
    left_out: dict[str, str]  # a group not compared here -> why


class ScoredSplit(NamedTuple):
    """A test split as a group sees it: its corpus's split, its references and buckets."""

    fingerprint: str  # the split's `datasets` fingerprint: its content
    refs: list[str]
    buckets: list[Bucket]
    where: np.ndarray  # [N] each sentence's bucket index


def compare_groups(groups: Sequence[Group]) -> dict[str, SetComparison]:
    """Every test set a finished job scored -> the groups compared on it (module docstring)."""
    names = dict.fromkeys(n for g in groups for j in g.finished() for n in j.scores())
    return {n: compare_on(n, groups) for n in names}


def compare_on(name: str, groups: Sequence[Group]) -> SetComparison:
    """The groups' curves and paired tests on test set `name` (module docstring)."""
    ref, left_out = common_split(name, groups)
    if ref is None:
        return SetComparison(name, [], {}, {}, "", {}, left_out)
    compared = [g for g in groups if g.label not in left_out]
    stats = {g.label: group_stats(g, name, ref.refs) for g in compared}
    curves = {
        g.label: seed_curve(
            g.label, g.seeds(), stats[g.label], ref.buckets, ref.where, *resamples(g)
        )
        for g in compared
    }
    chrf = {
        g.label: round(float(np.mean([j.scores()[name].chrf for j in g.finished()])), 4)
        for g in compared
    }
    base = baseline(compared)
    eval_cfg = base.finished()[0].params.eval
    tests = {
        g.label: paired(stats[g.label], stats[base.label], ref.buckets, ref.where, eval_cfg)
        for g in compared
        if g is not base
    }
    return SetComparison(name, ref.buckets, curves, chrf, base.label, tests, left_out)


def common_split(name: str, groups: Sequence[Group]) -> tuple[ScoredSplit | None, dict[str, str]]:
    """Test set `name` as the first group that scored it sees it (None: no group did), and the
    groups left out of its comparison, each with the reason, in group order."""
    why = {g.label: "no job of it finished" for g in groups if not g.finished()}
    why |= {
        g.label: f"not scored on `{name}`"
        for g in groups
        if g.label not in why and not all(name in j.scores() for j in g.finished())
    }
    splits = {g.label: scored_split(g, name) for g in groups if g.label not in why}
    if not splits:
        return None, why
    first, ref = next(iter(splits.items()))
    for label, split in splits.items():
        if split.fingerprint != ref.fingerprint:
            why[label] = f"scored on another `{name}` split (another corpus) than {first}"
        elif split.buckets != ref.buckets:
            why[label] = (
                f"its buckets ({', '.join(b.label for b in split.buckets)}) are not those of "
                f"{first} ({', '.join(b.label for b in ref.buckets)}): other eval.bucket_edges "
                "or eval.min_bucket"
            )
    return ref, {g.label: why[g.label] for g in groups if g.label in why}


def scored_split(group: Group, name: str) -> ScoredSplit:
    """Test set `name` of the corpus `group` was evaluated on, in its buckets."""
    job = group.finished()[0]
    corpus, eval_cfg = job.corpus(), job.params.eval
    split = load_corpus(corpus)[name]
    lengths = [word_count(s) for s in column(split, "src")]
    buckets = length_buckets(lengths, eval_cfg.bucket_edges, eval_cfg.min_bucket)
    where = np.array(assign(lengths, buckets))
    return ScoredSplit(split_fingerprint(corpus, name), column(split, "tgt"), buckets, where)


def group_stats(group: Group, name: str, refs: list[str]) -> np.ndarray:
    """Per-sentence BLEU statistics [S, N, 10] of each of the group's seeds on test set `name`."""
    return np.stack(
        [sentence_stats(read_hyps(j.hypotheses(name), refs), refs) for j in group.finished()]
    )


def resamples(group: Group) -> tuple[int, int]:
    """The group's bootstrap: (`eval.bootstrap_samples`, `eval.bootstrap_seed`)."""
    eval_cfg = group.finished()[0].params.eval
    return eval_cfg.bootstrap_samples, eval_cfg.bootstrap_seed


def baseline(groups: Sequence[Group]) -> Group:
    """The one group whose variant is the jobs' `judge.baseline`, else the first group."""
    wanted = groups[0].finished()[0].params.get("judge", {}).get("baseline")
    named = [g for g in groups if g.variant == wanted]
    return named[0] if len(named) == 1 else groups[0]
