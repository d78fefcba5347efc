"""reports/bleu_by_length.csv: one row per test set (or view), variant and bucket; a DVC plot
and the report's W&B table."""

from __future__ import annotations

import csv
import io

from nmt_bottleneck.report.figures import Curve

# length_ratio: output / reference length in the bucket (below 1, BLEU's brevity penalty)
CSV_COLUMNS = "test_set variant bucket_lo bucket_hi n bleu ci_lo ci_hi length_ratio".split()


def bleu_csv(curves: dict[str, list[Curve]]) -> str:
    """The CSV text of every curve of every test set (`bucket_hi` empty: the open bucket)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, cs in curves.items():
        for c in cs:
            for label, n, bleu, lo, hi, ratio in zip(
                c.labels, c.counts, c.bleu, c.ci_lo, c.ci_hi, c.length_ratio, strict=True
            ):
                first, _, last = label.rstrip("+").partition("-")
                writer.writerow([name, c.variant, first, last, n, bleu, lo, hi, ratio])
    return out.getvalue()
