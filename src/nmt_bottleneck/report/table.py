"""reports/bleu_by_length.csv: one row per test set (or view), variant and bucket; a DVC plot
and the report's W&B table.

`bleu` is the mean over the variant's seeds of the per-seed corpus BLEU in the bucket (with one
seed, that seed's BLEU); `ci_lo`, `ci_hi` the 95% bootstrap interval of that mean (sentences
resampled; empty where not computed: a view over several seeds); `seed_min`, `seed_max` the
seed spread; `seeds` how many seeds; `label` the variant's display name."""

from __future__ import annotations

import csv
import io

from nmt_bottleneck.report.figures import Curve

# length_ratio: output / reference length in the bucket (below 1, BLEU's brevity penalty)
CSV_COLUMNS = (
    "test_set variant bucket_lo bucket_hi n bleu ci_lo ci_hi length_ratio "
    "label seed_min seed_max seeds"
).split()


def bleu_csv(curves: dict[str, list[Curve]]) -> str:
    """The CSV text of every curve of every test set (`bucket_hi` empty: the open bucket)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, cs in curves.items():
        for c in cs:
            for k, label in enumerate(c.labels):
                first, _, last = label.rstrip("+").partition("-")
                numbers = [c.bleu[k], c.ci_lo[k], c.ci_hi[k], c.length_ratio[k]]
                spread = [c.seed_min[k], c.seed_max[k], c.seeds]
                writer.writerow(
                    [name, c.variant, first, last, c.counts[k], *numbers, c.label, *spread]
                )
    return out.getvalue()
