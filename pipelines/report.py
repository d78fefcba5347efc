"""report: gather what the stages computed and draw it (no scoring here).

Writes reports/bleu_by_length.csv (one row per test set, `<set>_novel` view, variant and
bucket: a DVC plot),
reports/figures/ (BLEU against length per test set, attention heatmaps, concat_states' growth
with L; PNG and SVG), and reports/report.md; logs the same figures and table to W&B (offline
by default) as a run named `report` in the experiment's group.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from nmt_bottleneck.atomic import atomic_dir, write_text_atomic
from nmt_bottleneck.report import figures
from nmt_bottleneck.report.markdown import Inputs, render
from pipelines.stage import load_params, run

log = logging.getLogger("nmt_bottleneck")

# length_ratio: output / reference length in the bucket (below 1, BLEU's brevity penalty)
CSV_COLUMNS = "test_set variant bucket_lo bucket_hi n bleu ci_lo ci_hi length_ratio".split()
GROWTH_L = (10, 30, 50, 80, 120)  # concat_states' parameters shown at these L too


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    params = load_params(args.params)
    variants = list(params.variants)
    facts = {v: read_json(args.train / f"{v}.json") for v in variants}
    for v in variants:
        if facts[v] is not None:
            facts[v]["arch"] = OmegaConf.to_container(params.variants[v].arch, resolve=True)
    details = {v: read_json(args.eval / f"{v}.details.json") for v in variants}
    curves = gather_curves(details, view_names(details, list(params.data.test_sets)))
    write_text_atomic(bleu_csv(curves), args.csv)
    title = f"{params.data.name}, profile {params.profile}"
    with atomic_dir(args.figures) as tmp:
        drawn = {
            name: figures.bleu_vs_length(
                c, f"{title}: test set `{name}`", tmp / f"bleu_vs_length_{name}"
            )
            for name, c in curves.items()
            if c
        }
        for path in next(iter(drawn.values()), []):  # the main figure: the first test set's
            shutil.copyfile(path, tmp / path.name.replace(f"_{next(iter(drawn))}.", "."))
        heatmaps = draw_heatmaps(args.evaluations, tmp)
        growth_rows, growth = concat_growth(facts.get("concat_states"), tmp)
    commit, changed = code_version(args.out.parent)
    inputs = Inputs(
        data=OmegaConf.to_container(params.data, resolve=True),
        profile=params.profile,
        commit=commit,
        changed=changed,
        tokenize=read_json(args.data_stats) or {},
        facts=facts,
        details=details,
        significance=read_json(args.significance),
        figures={name: f"figures/bleu_vs_length_{name}.png" for name in drawn},
        heatmaps=[(caption, f"figures/{path}") for caption, path in heatmaps],
        growth=growth,
        growth_rows=growth_rows,
    )
    write_text_atomic(render(inputs), args.out)
    log.info("wrote %s, %s and %s", args.out, args.csv, args.figures)
    if params.logger.kind == "wandb":
        log_to_wandb(params, args, drawn)


def read_json(path: Path) -> dict | None:
    """A stage's JSON output, or None when that stage has not run (the report says so)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def view_names(details: dict, test_sets: list[str]) -> list[str]:
    """The test sets, each followed by its `<set>_novel` view where evaluate scored one."""
    scored = {name for d in details.values() if d for name in d["test_sets"]}
    return [n for name in test_sets for n in (name, f"{name}_novel") if n == name or n in scored]


def gather_curves(details: dict, test_sets: list[str]) -> dict[str, list[figures.Curve]]:
    curves: dict[str, list[figures.Curve]] = {name: [] for name in test_sets}
    for v, d in details.items():
        for name in test_sets:
            if d is None or name not in d["test_sets"]:
                continue
            b = d["test_sets"][name]["buckets"]
            curves[name].append(
                figures.Curve(
                    v,
                    [x["label"] for x in b],
                    [x["n"] for x in b],
                    [x["bleu"] for x in b],
                    [x["ci_lo"] for x in b],
                    [x["ci_hi"] for x in b],
                    [x["length_ratio"] for x in b],
                )
            )
    return curves


def bleu_csv(curves: dict[str, list[figures.Curve]]) -> str:
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


def draw_heatmaps(evaluations: Path, out: Path) -> list[tuple[str, str]]:
    drawn = []
    for path in sorted(evaluations.glob("*/attention.json")):
        for r in json.loads(path.read_text(encoding="utf-8")):
            name = f"attention_{path.parent.name}_{r['test_set']}_{r['index']}"
            caption = f"{path.parent.name}, {r['test_set']} sentence {r['index']}"
            figures.attention_heatmap(r["source"], r["output"], r["weights"], caption, out / name)
            drawn.append((caption, f"{name}.png"))
    return drawn


def concat_growth(facts: dict | None, out: Path) -> tuple[list[tuple[int, int]], str | None]:
    """concat_states' context parameters L x D x C + C at several L, from the trained sizes."""
    if not facts:
        return [], None
    length = facts["derived"]["max_src_len"]
    per_l = (facts["parameters"]["context"] - facts["arch"]["context"]["context_size"]) / length
    bias = facts["arch"]["context"]["context_size"]
    rows = [(n, int(per_l * n + bias)) for n in sorted({*GROWTH_L, length})]
    figures.context_growth(
        [n for n, _ in rows], [p for _, p in rows], length, out / "concat_growth"
    )
    return rows, "figures/concat_growth.png"


def code_version(results: Path) -> tuple[str, list[str]]:
    """The commit the report is written at, and the files that differ from it: tracked files
    changed and untracked files not ignored, leaving out dvc.lock and `results` (reports/,
    where the stages write what git keeps; every repro rewrites both). A changed conf file or
    params.yaml is listed, so a report is never credited to a commit whose configuration it
    did not run."""
    try:
        root = Path(git("rev-parse", "--show-toplevel")).resolve()
        head = git("rev-parse", "--short", "HEAD")
        status = git("status", "--porcelain", "-z", "--untracked-files=all")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)", []
    skip = [root / "dvc.lock", results.resolve()]
    changed = set()
    entries = iter(status.split("\0"))
    for entry in entries:
        if not entry:
            continue
        paths = [entry[3:]]
        if {"R", "C"} & set(entry[:2]):  # renamed or copied (staged or not): then the old path
            paths.append(next(entries, ""))
        for name in filter(None, paths):
            path = root / name
            if not any(path == s or s in path.parents for s in skip):
                changed.add(name)
    return head, sorted(changed)


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    return result.stdout.strip("\n")


def log_to_wandb(params, args, drawn: dict) -> None:
    """The figures and the per-bucket table as a W&B run `report` in the experiment's group."""
    import wandb

    logs = args.logs.absolute()  # a joined W&B service would resolve it from its own cwd
    logs.mkdir(exist_ok=True)
    run_ = wandb.init(
        project=params.logger.project,
        mode=params.logger.mode,
        group=f"{params.data.name}-{params.profile}",
        name="report",
        job_type="report",
        dir=str(logs),
        config={"data": params.data.name, "profile": params.profile},
    )
    rows = list(csv.reader(io.StringIO(args.csv.read_text(encoding="utf-8"))))
    run_.log(
        {
            "bleu_by_length": wandb.Table(columns=rows[0], data=rows[1:]),
            **{
                f"figures/bleu_vs_length_{n}": wandb.Image(
                    str(args.figures / f"bleu_vs_length_{n}.png")
                )
                for n in drawn
            },
        }
    )
    run_.finish()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--train", type=Path, required=True, help="reports/train/")
    parser.add_argument("--eval", type=Path, required=True, help="reports/eval/")
    parser.add_argument("--evaluations", type=Path, required=True, help="evaluations/")
    parser.add_argument("--significance", type=Path, required=True)
    parser.add_argument("--data-stats", type=Path, required=True)
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--figures", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="report.md")
    parser.add_argument("--logs", type=Path, default=Path("logs"), help="W&B folder, as train's")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(main)
