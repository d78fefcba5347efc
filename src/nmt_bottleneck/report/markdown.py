"""reports/report.md: what was run, the overall table (per variant and seed), our BLEU next to
the paper's Table 1, the claims with their numbers and verdicts, the figure, the per-bucket
numbers over seeds with their intervals and paired tests, the verdict in plain words, the
heatmaps and the cost side. Every number comes from the stages' results (typed:
`nmt_bottleneck.eval.results`, `eval.seeds`, `eval.compare`, `eval.judge`); nothing is scored or
judged here."""

from __future__ import annotations

from typing import Any, NamedTuple

from nmt_bottleneck.eval.judge import Verdicts
from nmt_bottleneck.eval.results import Details, SetScores
from nmt_bottleneck.eval.seeds import SeedBucket, SeedCurve
from nmt_bottleneck.eval.significance import Significance
from nmt_bottleneck.eval.translate import DecodeSettings
from nmt_bottleneck.models.cost import Growth
from nmt_bottleneck.report.claims_table import claims_table
from nmt_bottleneck.report.machines import machines
from nmt_bottleneck.report.reading import novel_note, reading, skipped_note


class VariantInfo(NamedTuple):
    """What the report shows of a variant's config (`variants.<id>`)."""

    label: str  # display name (RNNsearch-50); the id where the config gives none
    max_len: int | None  # its training regime: longest training sentence in words
    paper: dict[str, float] | None  # Bahdanau et al. 2015 Table 1: {all, no_unk}; None: none

    @classmethod
    def from_config(cls, variant: str, node: Any) -> VariantInfo:
        paper = node.get("paper")
        numbers = None if paper is None else {k: float(paper[k]) for k in paper}
        return cls(node.get("label") or variant, node.get("max_len"), numbers)


class Inputs(NamedTuple):
    """What the report stage gathered. Per variant (in config order) and seed: train facts and
    evaluate details (None when the stage has not run); per test set or view, each variant's
    curve over its seeds."""

    data: dict[str, Any]  # params `data`
    profile: str
    arch: dict[str, Any]  # the first variant's `arch` (the shared sizes)
    commit: str  # the commit the report was written at
    changed: list[str]  # files that differ from it (not the pipeline's own outputs)
    tokenize: dict[str, Any]  # reports/data/tokenize_stats.json
    facts: dict[str, dict[int, dict[str, Any] | None]]  # reports/train/<variant>/<seed>.json
    details: dict[str, dict[int, Details | None]]  # reports/eval/<variant>/<seed>.details.json
    curves: dict[str, dict[str, SeedCurve]]  # test set or view -> variant -> its curve
    variants: dict[str, VariantInfo]
    significance: Significance | None
    verdicts: Verdicts
    figures: dict[str, str]  # test set or view -> figure path relative to the report
    heatmaps: list[tuple[str, str]]  # (caption, path)
    growth: list[Growth]  # context modules built for a bounded source length
    growth_figure: str | None


LENGTHS_NOTE = (
    "Output length over reference length, per bucket (sacrebleu's `ratio`, in 13a tokens). "
    "Below 1, BLEU's brevity penalty lowers the score: the translations stop early, which is "
    "not the same failure as wrong words."
)


def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def missing(inputs: Inputs) -> list[str]:
    """What has not run yet, and the command that runs it."""
    out = []
    for v, per_seed in inputs.facts.items():
        for seed, f in per_seed.items():
            if f is None:
                out.append(f"- `{v}` seed {seed}: not trained. Run `dvc repro train@{v}-{seed}`.")
            elif inputs.details.get(v, {}).get(seed) is None:
                run = f"dvc repro evaluate@{v}-{seed}"
                out.append(f"- `{v}` seed {seed}: not evaluated. Run `{run}`.")
    return out


def search(decode: DecodeSettings | None) -> str:
    """The search as a reader needs it: beam size and length penalty only for beam search."""
    if decode is None:
        return "not recorded"
    if decode.search == "beam":
        return f"beam search (beam {decode.beam_size}, length penalty {decode.length_penalty})"
    return f"{decode.search} search"


def code(commit: str, changed: list[str], shown: int = 8) -> str:
    """Where the code and configuration came from: the commit, and what differed from it."""
    out = f"Written at commit `{commit}`"
    if changed:
        names = ", ".join(f"`{c}`" for c in changed[:shown])
        more = f" and {len(changed) - shown} more" if len(changed) > shown else ""
        out += f", with uncommitted changes to {names}{more}"
    return out + ". `dvc.lock` holds each stage's parameters and its inputs' hashes."


def evaluated(inputs: Inputs) -> list[Details]:
    return [d for per in inputs.details.values() for d in per.values() if d]


def per_run(per_variant: dict[str, dict[int, Any]]) -> dict[str, Any]:
    """variant -> seed -> x as one mapping `<variant>-<seed>` -> x (the stages' names)."""
    return {f"{v}-{s}": x for v, per in per_variant.items() for s, x in per.items()}


def what_was_run(inputs: Inputs) -> str:
    first = next(iter(evaluated(inputs)), None)
    decode = first.decode if first else None
    train = inputs.tokenize.get("splits", {}).get("train", {})
    arch = inputs.arch
    signature = next(
        (t.bleu_signature for d in evaluated(inputs) for t in d.test_sets.values()), "-"
    )
    max_ratio = decode.max_len_ratio if decode else "-"
    return "\n".join(
        [
            f"- Data: `{inputs.data.get('name')}`, training pairs of {inputs.data.get('min_len')}"
            f"-{inputs.data.get('max_len')} words: {train.get('pairs', '-')} pairs; test sets "
            f"{', '.join(f'`{t}`' for t in inputs.data.get('test_sets', []))}.",
            f"- Profile `{inputs.profile}`: embeddings {arch.get('emb_size')}, encoder "
            f"{arch.get('cell')} {arch.get('hidden_size')} per direction (bidirectional "
            f"{arch.get('bidirectional')}), decoder {arch.get('decoder_hidden_size')}, output "
            f"{arch.get('output_size')} (maxout {arch.get('maxout')}); the variants differ only "
            "in their context module.",
            f"- Decoding: {search(decode)}, max length ratio {max_ratio}.",
            machines(per_run(inputs.facts), per_run(inputs.details)),
            f"- {code(inputs.commit, inputs.changed)} BLEU: sacrebleu `{signature}`.",
        ]
    )


def overall(inputs: Inputs) -> str:
    """One row per variant, seed and test set: the runs as they are."""
    rows = []
    for v, per_seed in inputs.details.items():
        for seed, d in per_seed.items():
            f = inputs.facts.get(v, {}).get(seed) or {}
            for name, t in (d.test_sets if d else {}).items():
                speed = t.timing.sentences_per_s if t.timing else None
                rows.append(
                    [
                        v,
                        str(seed),
                        name,
                        fmt(t.bleu),
                        fmt(t.chrf),
                        f"{f.get('parameters', {}).get('total', 0) / 1e6:.1f} M",
                        str(f.get("steps", "-")),
                        fmt(f.get("epochs"), 3),
                        fmt(f.get("best_val_loss"), 3),
                        f"{f.get('wall_time_s', 0) / 60:.1f} min",
                        fmt(speed, 1),
                    ]
                )
    header = ["variant", "seed", "test set", "BLEU", "chrF", "params", "steps", "epochs"]
    return table([*header, "best val loss", "train time", "decode sent/s"], rows)


TABLE1_NOTE = (
    "Not a like-for-like comparison: **different corpus, sizes and training budget.** The paper "
    "trained on WMT'14 English-French (348M words) with 1000 hidden units for about 5 days; ours "
    "are the profile's sizes and steps on the corpus named above. The paper's columns are its "
    "Table 1 (`All`: all test sentences; `No UNK`: those without unknown words); a dash: the "
    "paper has no such model. Ours: corpus BLEU on the whole test set, the mean over seeds "
    "[95% bootstrap interval of that mean] (min..max over seeds)."
)


def table1(inputs: Inputs, name: str) -> str:
    """Our overall BLEU on test set `name` next to the paper's Table 1, per variant."""
    rows = []
    for v, info in inputs.variants.items():
        c = inputs.curves.get(name, {}).get(v)
        paper = info.paper or {}
        rows.append(
            [
                info.label,
                f"`{v}`",
                "-" if info.max_len is None else str(info.max_len),
                "-" if c is None else overall_cell(c.overall),
                "-" if c is None else str(len(c.seeds)),
                fmt(paper.get("all")),
                fmt(paper.get("no_unk")),
            ]
        )
    header = ["model", "variant", "trained on <= words", f"our BLEU (`{name}`)", "seeds"]
    return table([*header, "paper: All", "paper: No UNK"], rows)


def overall_cell(b: SeedBucket) -> str:
    """'27.10 [26.40, 27.80] (26.90..27.30)': mean [interval] (seed spread, several seeds)."""
    out = fmt(b.bleu)
    if b.ci_lo is not None and b.ci_hi is not None:
        out += f" [{b.ci_lo:.2f}, {b.ci_hi:.2f}]"
    if len(b.per_seed) > 1:
        out += f" ({b.seed_min:.2f}..{b.seed_max:.2f})"
    return out


def buckets(inputs: Inputs, name: str) -> str:
    """Per bucket and variant: seed-mean BLEU [95% CI] (seed spread); p-values of the paired
    test over seeds vs the baseline."""
    per = inputs.curves.get(name, {})
    if not per:
        return ""
    first = next(iter(per.values())).buckets
    sig = inputs.significance.rows(name) if inputs.significance else {}
    baseline = inputs.significance.baseline if inputs.significance else "-"
    rows = []
    for k, b in enumerate(first):
        row = [b.label, str(b.n)]
        row += [interval(c.buckets[k]) for c in per.values()]
        row += [fmt(tests[k + 1].p_value, 4) for tests in sig.values()]
        rows.append(row)
    header = ["source words", "n"] + [f"{v} BLEU [95% CI]" for v in per]
    return table(header + [f"p {v} vs {baseline}" for v in sig], rows)


def interval(b: SeedBucket) -> str:
    """'20.00 [18.00, 22.00]', with the seed spread '(19.10..20.90)' over several seeds."""
    out = f"{b.bleu:.2f}"
    if b.ci_lo is not None and b.ci_hi is not None:
        out += f" [{b.ci_lo:.2f}, {b.ci_hi:.2f}]"
    if len(b.per_seed) > 1:
        out += f" ({b.seed_min:.2f}..{b.seed_max:.2f})"
    return out


def lengths(inputs: Inputs, name: str) -> str:
    """Output length over reference length per bucket and variant (sacrebleu's ratio, the mean
    over seeds)."""
    per = {v: b for v, c in inputs.curves.get(name, {}).items() if (b := c.curve())}
    if not per:
        return ""
    first = next(iter(per.values()))
    rows = [[b.label, *(fmt(c[k].length_ratio) for c in per.values())] for k, b in enumerate(first)]
    return table(["source words", *per], rows)


def scored(inputs: Inputs, name: str) -> dict[str, SetScores]:
    """variant -> its first evaluated seed's scores on test set or view `name` (what a view
    left out is the same for every seed)."""
    out = {}
    for v, per_seed in inputs.details.items():
        found = (d.test_sets[name] for d in per_seed.values() if d and name in d.test_sets)
        if (first := next(found, None)) is not None:
            out[v] = first
    return out


def first_details(inputs: Inputs) -> dict[str, Details | None]:
    """variant -> its first evaluated seed's details."""
    return {v: next((d for d in per.values() if d), None) for v, per in inputs.details.items()}


def cost(inputs: Inputs) -> str:
    rows = []
    for v, per_seed in inputs.facts.items():
        f = next((x for x in per_seed.values() if x), None)  # the seeds share a model's size
        if f:
            p, mem = f["parameters"], f.get("peak_memory_mb", {})
            gpu = fmt(mem["gpu_allocated"] / 1024, 2) if "gpu_allocated" in mem else "-"
            rss = fmt(mem.get("cpu_rss", 0) / 1024, 2)
            rows.append([v, f"{p['total']:,}", f"{p['context']:,}", rss, gpu])
    text = table(
        ["variant", "parameters", "context module", "peak RSS (GB)", "peak GPU (GB)"], rows
    )
    if inputs.growth:
        text += "\n\n" + growth(inputs.growth)
        if inputs.growth_figure:
            text += f"\n\n![context module parameters against L]({inputs.growth_figure})"
    return text


def growth(growths: list[Growth]) -> str:
    """The context parameters of modules built for a bounded source length L, at several L."""
    names = " and ".join(f"`{g.variant}`" for g in growths)
    per = [dict(g.rows) for g in growths]
    lengths = sorted({n for p in per for n in p})
    rows = [[str(n), *(f"{p[n]:,}" if n in p else "-" for p in per)] for n in lengths]
    header = ["L (tokens)", *(f"{g.variant} context params" for g in growths)]
    return (
        f"{names} see{'s' if len(growths) == 1 else ''} sources of at most L tokens, and the "
        f"context module's parameters grow with L (counted by building it at each L; trained "
        f"at L = {', '.join(str(g.trained_l) for g in growths)}):\n\n{table(header, rows)}"
    )


SEEDS_NOTE = (
    "Seeds: each variant is trained and evaluated once per seed of `seeds`. A curve's line (and "
    "each BLEU in the tables) is the mean over seeds of the per-seed corpus BLEU; the shaded "
    "band and [brackets] are the 95% bootstrap interval of that mean (test sentences resampled: "
    "the luck of the test set); the hatched band and (min..max) the spread over seeds (the luck "
    "of training), shown with more than one seed. p: the two-level paired bootstrap (sentences "
    "and each variant's seeds resampled together; sacrebleu's paired bootstrap with one seed), "
    "two-sided as sacrebleu's: small p, the gap is unlikely to be noise of either kind."
)


def render(inputs: Inputs) -> str:
    parts = ["# Why the encoder's final state is a bottleneck: BLEU against sentence length", ""]
    todo = missing(inputs)
    if todo:
        parts += ["**Incomplete: some stages have not run.**", "", *todo, ""]
    parts += ["## What was run", "", what_was_run(inputs), "", "## Overall", "", overall(inputs)]
    main = next(iter(inputs.figures), None)
    if main is not None:
        parts += ["", "## Against the paper's Table 1", "", TABLE1_NOTE, "", table1(inputs, main)]
        verdict = inputs.verdicts.test_sets.get(main)
        if verdict is not None and verdict.results:
            labels = {v: i.label for v, i in inputs.variants.items()}
            claims = claims_table(verdict, inputs.verdicts.settings, labels)
            parts += ["", f"## The claims, on `{main}`", "", claims]
    parts += ["", SEEDS_NOTE]
    views = skipped_views(inputs)
    details = first_details(inputs)
    for name, figure in inputs.figures.items():
        parts += ["", f"## BLEU by source length: `{name}`", "", f"![BLEU vs length]({figure})"]
        parts += ["", note] if (note := novel_note(scored(inputs, name), details)) else []
        curves = inputs.curves.get(name, {})
        parts += ["", buckets(inputs, name), "", "Reading:", ""]
        parts += [reading(curves, inputs.verdicts.test_sets[name], inputs.verdicts)]
        parts += ["", LENGTHS_NOTE, "", lengths(inputs, name)]
        parts += ["", skipped_note(name, views[name])] if name in views else []
    baseline = (
        inputs.significance.baseline if inputs.significance else inputs.verdicts.settings.baseline
    )
    parts += [
        "",
        "Buckets with fewer sentences than `eval.min_bucket` are merged into a neighbour. "
        "Intervals: 95% percentile bootstrap over the bucket's sentences. p: the paired "
        f"bootstrap test over sentences and seeds against {baseline} (small p: the difference is "
        "unlikely to be noise).",
    ]
    if inputs.heatmaps:
        parts += ["", "## Attention (Figure 3 style)", ""]
        parts += [f"![{caption}]({path})" for caption, path in inputs.heatmaps]
    parts += ["", "## Cost", "", cost(inputs), ""]
    return "\n".join(parts)


def skipped_views(inputs: Inputs) -> dict[str, str]:
    """Whole test set -> why its `<set>_novel` view was not scored, from any variant's details."""
    out: dict[str, str] = {}
    for d in evaluated(inputs):  # every seed scores the same views
        for view, reason in d.skipped_views.items():
            out.setdefault(view.removesuffix("_novel"), reason)
    return out
