"""The report stage's work: read what the other stages wrote (typed), have the claims judged
(`nmt_bottleneck.eval.judge`), draw the figures and write the words. Nothing is scored here.

`build_report` draws the figures into their folder (atomically) and returns the rest, the
markdown, the CSV and the verdicts, for the stage to write.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any, NamedTuple

from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.atomic import atomic_dir
from nmt_bottleneck.eval.claims import JudgeSettings
from nmt_bottleneck.eval.judge import Verdicts, judge
from nmt_bottleneck.eval.results import AttentionRecord, Details
from nmt_bottleneck.eval.seed_scores import curves_on
from nmt_bottleneck.eval.significance import Significance
from nmt_bottleneck.models.cost import Growth, context_growth
from nmt_bottleneck.report import figures
from nmt_bottleneck.report.code_version import code_version
from nmt_bottleneck.report.markdown import Inputs, VariantInfo, render
from nmt_bottleneck.report.table import bleu_csv

log = logging.getLogger(__name__)


class Report(NamedTuple):
    markdown: str  # reports/report.md
    csv: str  # reports/bleu_by_length.csv
    verdicts: Verdicts  # reports/verdicts.json
    figures: dict[str, Path]  # test set or view -> its BLEU figure (PNG)


def build_report(
    params: DictConfig,
    *,
    train: Path,
    eval_dir: Path,
    evaluations: Path,
    significance: Path,
    data_stats: Path,
    figures_dir: Path,
    report: Path,
) -> Report:
    """`train`, `eval_dir`: the folders of the train and evaluate stages' JSON
    (`<variant>/<seed>.json`, `<variant>/<seed>.details.json`) for every variant of
    `variants` and seed of `seeds`; `evaluations`: their hypotheses folders
    (`<variant>/<seed>/attention.json`); `significance`, `data_stats`: the compare stage's and
    the tokenize stage's JSON; `figures_dir`: where the figures go; `report`: where the
    markdown will go (the report names the commit of its checkout and what differs from it)."""
    variants, seeds = list(params.variants), list(params.seeds)
    settings = JudgeSettings.from_config(params.judge, variants)
    facts = {v: {s: read_json(train / v / f"{s}.json") for s in seeds} for v in variants}
    details = {
        v: {s: read_details(eval_dir / v / f"{s}.details.json") for s in seeds} for v in variants
    }
    sig = read_json(significance)
    compared = Significance.from_json(sig) if sig else None
    names = view_names(details, list(params.data.test_sets))
    computed = compared.curves if compared else {}
    curves = {n: curves_on(n, details, computed.get(n, {})) for n in names}
    verdicts = judge(curves, settings, names, compared)
    about = {v: VariantInfo.from_config(v, params.variants[v]) for v in variants}
    growth = growths(params, {v: first(f) for v, f in facts.items()})
    title, style = f"{params.data.name}, profile {params.profile}", figures.styles(variants)
    drawn_curves = {
        n: [figures.Curve.from_seeds(c, about[v].label) for v, c in cs.items()]
        for n, cs in curves.items()
    }
    limits = [a.max_len for a in about.values() if a.max_len is not None]
    with atomic_dir(figures_dir) as tmp:
        drawn = draw_curves(drawn_curves, title, tmp, style, limits)
        heatmaps = draw_heatmaps(evaluations, variants, seeds, tmp)
        if growth:
            figures.context_growth(growth, tmp / "context_growth", style)
    lead = next((v for v in variants if first(facts[v])), variants[0])
    inputs = Inputs(
        data=OmegaConf.to_container(params.data, resolve=True),
        profile=params.profile,
        arch=OmegaConf.to_container(params.variants[lead].arch, resolve=True),
        commit=(version := code_version(report.parent))[0],
        changed=version[1],
        tokenize=read_json(data_stats) or {},
        facts=facts,
        details=details,
        curves=curves,
        variants=about,
        significance=compared,
        verdicts=verdicts,
        figures={n: f"figures/bleu_vs_length_{n}.png" for n in drawn},
        heatmaps=heatmaps,
        growth=growth,
        growth_figure="figures/context_growth.png" if growth else None,
    )
    pngs = {n: figures_dir / f"bleu_vs_length_{n}.png" for n in drawn}
    return Report(render(inputs), bleu_csv(drawn_curves), verdicts, pngs)


def first(per_seed: dict[int, Any]) -> Any:
    """The first seed's result that exists (None when no seed has one)."""
    return next((x for x in per_seed.values() if x), None)


def read_json(path: Path) -> dict[str, Any] | None:
    """A stage's JSON output, or None when that stage has not run (the report says so)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def read_details(path: Path) -> Details | None:
    d = read_json(path)
    return Details.from_json(d) if d else None


def view_names(details: dict[str, dict[int, Details | None]], test_sets: list[str]) -> list[str]:
    """The test sets, each followed by its `<set>_novel` view where evaluate scored one."""
    scored = {n for per in details.values() for d in per.values() if d for n in d.test_sets}
    return [n for name in test_sets for n in (name, f"{name}_novel") if n == name or n in scored]


def draw_curves(
    curves: dict[str, list[figures.Curve]],
    title: str,
    out: Path,
    style: dict[str, figures.Style],
    limits: list[int],
) -> list[str]:
    """BLEU against length for each test set or view with a curve, and the first one's again
    as the main figure (`bleu_vs_length`); returns the names drawn."""
    drawn = [n for n, c in curves.items() if c]
    for n in drawn:
        path = out / f"bleu_vs_length_{n}"
        figures.bleu_vs_length(curves[n], f"{title}: test set `{n}`", path, style, limits)
    for suffix in (".png", ".svg") if drawn else ():
        shutil.copyfile(out / f"bleu_vs_length_{drawn[0]}{suffix}", out / f"bleu_vs_length{suffix}")
    return drawn


def draw_heatmaps(
    evaluations: Path, variants: list[str], seeds: list[int], out: Path
) -> list[tuple[str, str]]:
    """A heatmap per sentence of each variant's `attention.json` (variants whose context module
    gives attention weights), of its first seed that has one; captions name the sentence's
    1-based line in its input file (and the file, for sources read from several)."""
    drawn = []
    for v in variants:
        found = (evaluations / v / str(s) / "attention.json" for s in seeds)
        path = next((p for p in found if p.is_file()), None)
        if path is None:
            continue
        for d in json.loads(path.read_text(encoding="utf-8")):
            r = AttentionRecord.from_json(d)
            shard = "" if r.shard is None else f"{r.shard}_"
            name = f"attention_{v}_{r.test_set}_{shard}{r.line}"
            caption = f"{v} (seed {path.parent.name}), {r.test_set} {r.where}"
            figures.attention_heatmap(r.source, r.output, r.weights, caption, out / name)
            drawn.append((caption, f"figures/{name}.png"))
    return drawn


def growths(params: DictConfig, facts: dict[str, dict | None]) -> list[Growth]:
    """The context parameters against L of every trained variant whose context module is built
    for a bounded source length."""
    out = []
    for v, f in facts.items():
        if f and (g := context_growth(v, params.variants[v].arch, f["derived"])):
            counted, trained = dict(g.rows)[g.trained_l], f["parameters"]["context"]
            if counted != trained:
                log.warning(
                    "%s: %d context parameters at L = %d, not %d", v, counted, g.trained_l, trained
                )
            out.append(g)
    return out
