"""The sweep's `summary.md`: per test set the figure, each group's overall and per-bucket BLEU
over its seeds, and the paired comparisons of every group against the baseline group; then one
line per job. Worded and formatted as the report's (`report.markdown`, `report.claims_table`),
with the same cells; every number comes from `sweep.comparison` or the jobs' files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nmt_bottleneck.eval.significance import PairedRow
from nmt_bottleneck.report.claims_table import gain, tested
from nmt_bottleneck.report.markdown import fmt, overall_cell, table
from nmt_bottleneck.sweep.comparison import SetComparison
from nmt_bottleneck.sweep.groups import Group
from nmt_bottleneck.sweep.jobs import Job

GROUPS_NOTE = (
    "A group is the jobs that differ only in their `seed=` override: one curve, over their "
    "training seeds. Its label is the sweep's axes, the overrides whose value varies across "
    "the sweep's jobs (the seed excluded)."
)
SEEDS_NOTE = (
    "A group's line (and each BLEU in the tables) is the mean over its seeds of the per-seed "
    "corpus BLEU; the shaded band and [brackets] are the 95% bootstrap interval of that mean "
    "(test sentences resampled: the luck of the test set); the hatched band and (min..max) the "
    "spread over its seeds (the luck of training), shown with more than one seed. Buckets with "
    "fewer sentences than `eval.min_bucket` are merged into a neighbour."
)
PAIRED_NOTE = (
    "The two-level paired bootstrap over sentences and seeds (sentences and each group's seeds "
    "resampled together; sacrebleu's paired bootstrap with one seed): the BLEU difference "
    "(group minus baseline, each a mean over seeds), its 95% interval, and p, two-sided as "
    "sacrebleu's: small p, the gap is unlikely to be noise of either kind."
)


def render(
    sweep: str,
    jobs: Sequence[Job],
    groups: Sequence[Group],
    comparisons: Mapping[str, SetComparison],
    figures: Mapping[str, str],
) -> str:
    """`sweep`: the sweep folder's name; `figures`: test set -> its figure, relative to the
    summary."""
    failed = [j for j in jobs if j.status == "failed"]
    parts = [f"# Sweep `{sweep}`: BLEU against source sentence length", ""]
    parts += [f"{len(jobs)} jobs in {len(groups)} groups, {len(failed)} failed."]
    if failed:
        parts += ["", f"**{len(failed)} of {len(jobs)} jobs failed**: their errors are under Jobs."]
    parts += ["", GROUPS_NOTE, "", SEEDS_NOTE]
    for name, c in comparisons.items():
        parts += ["", f"## BLEU by source length: `{name}`", ""]
        if name in figures:
            parts += [f"![BLEU vs length]({figures[name]})", ""]
        parts += [groups_table(c)] if c.curves else ["No group can be drawn on this set."]
        if c.left_out:
            parts += [""] + [f"- Left out: `{g}`, {why}." for g, why in c.left_out.items()]
        if c.curves:
            parts += ["", f"### Paired comparisons against `{c.baseline}`", ""]
            parts += [comparisons_text(c)]
    parts += ["", "## Jobs", "", jobs_table(jobs, groups), ""]
    return "\n".join(parts)


def groups_table(c: SetComparison) -> str:
    """Per group: its seeds, overall BLEU (mean [95% CI] (min..max)), chrF and per-bucket mean
    BLEU."""
    first = next(iter(c.curves.values()))
    rows = [
        [
            f"`{label}`",
            ", ".join(str(s) for s in curve.seeds),
            overall_cell(curve.overall),
            fmt(c.chrf[label]),
            *(fmt(b.bleu) if b.n else "-" for b in curve.buckets),
        ]
        for label, curve in c.curves.items()
    ]
    buckets = [f"{b.label} (n={b.n})" for b in first.buckets]
    return table(["group", "seeds", "BLEU [95% CI] (min..max)", "chrF", *buckets], rows)


def comparisons_text(c: SetComparison) -> str:
    if not c.tests:
        return "One group only: nothing to compare it with."
    parts = [PAIRED_NOTE]
    for label, rows in c.tests.items():
        parts += ["", f"`{label}` vs `{c.baseline}`:", "", paired_table(rows)]
    return "\n".join(parts)


def paired_table(rows: Sequence[PairedRow]) -> str:
    """The whole set, then each bucket: the difference and its interval and p."""
    cells = [[r.bucket, str(r.n), gain(r) if r.n else "-", tested(r) if r.n else "-"] for r in rows]
    return table(["source words", "n", "BLEU difference", "95% interval / p"], cells)


def jobs_table(jobs: Sequence[Job], groups: Sequence[Group]) -> str:
    """One line per job: what it was asked, its status and training, BLEU per test set, its
    error."""
    label = {j.name: g.label for g in groups for j in g.jobs}
    names = list(dict.fromkeys(n for j in jobs for n in j.scores()))
    rows = []
    for j in jobs:
        scores, facts = j.scores(), j.facts or {}
        rows.append(
            [
                j.name,
                cell(j.command()),
                f"`{label[j.name]}`",
                "-" if j.seed is None else str(j.seed),
                j.status,
                str(facts.get("steps", "-")),
                fmt(facts.get("best_val_loss"), 3),
                *(fmt(scores[n].bleu) if n in scores else "-" for n in names),
                cell(j.error or ""),
            ]
        )
    header = ["job", "overrides", "group", "seed", "status", "steps", "best val loss"]
    return table([*header, *(f"BLEU `{n}`" for n in names), "error"], rows)


def cell(text: str) -> str:
    """`text` in a table cell: a `|` would end the cell."""
    return text.replace("|", "\\|")
