"""A sweep's groups: the jobs that differ only in their `seed=` override are one group, one
curve of the sweep's figure (the mean over its seeds, with their spread), as a variant over its
training seeds is one curve of the report's.

A group is named by the sweep's own axes: the overrides whose value varies across the sweep's
jobs (the failed ones too), the seed excluded, as the job gave them, e.g. `model=attention
data.max_len=30`. A sweep that varies nothing but the seed names its one group by its other
overrides, or by the variant's id where it has none. The names are what the reader typed on the
command line, so no configuration decides them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from nmt_bottleneck.sweep.jobs import SEED_KEY, Job


class Group(NamedTuple):
    label: str  # the group's values of the sweep's axes (module docstring)
    variant: str  # its jobs' variant id
    jobs: list[Job]  # in job order, failed ones included

    def finished(self) -> list[Job]:
        return [j for j in self.jobs if j.status == "ok"]

    def seeds(self) -> list[int]:
        """The training seeds of its finished jobs, in job order."""
        return [j.seed for j in self.finished()]


def axes(jobs: Sequence[Job]) -> list[str]:
    """The override keys whose value varies across `jobs` (absent counts as a value), the seed
    excluded, in the order the jobs give them."""
    keys = list(dict.fromkeys(o.key for j in jobs for o in j.overrides if o.key != SEED_KEY))
    values = [{o.key: o.value for o in j.overrides} for j in jobs]
    return [k for k in keys if len({v.get(k) for v in values}) > 1]


def group_jobs(jobs: Sequence[Job]) -> list[Group]:
    """The groups of `jobs` (module docstring), in the order of their first job."""
    varied = axes(jobs)
    members: dict[tuple[str, ...], list[Job]] = {}
    for j in jobs:
        members.setdefault(tuple(o.text for o in j.overrides if o.key != SEED_KEY), []).append(j)
    groups, seen = [], set()
    for same in members.values():
        label = group_label(same[0], varied)
        if label in seen:  # overrides that differ only in how they are written
            label += f" (job {same[0].name})"
        seen.add(label)
        groups.append(Group(label, same[0].variant, same))
    return groups


def group_label(job: Job, varied: Sequence[str]) -> str:
    """`job`'s overrides of the `varied` keys; its non-seed overrides if none varies; its
    variant's id if it has none."""
    own = [o for o in job.overrides if o.key != SEED_KEY]
    named = [o.text for o in own if o.key in varied] or [o.text for o in own]
    return " ".join(named) or job.variant
