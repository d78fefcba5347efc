"""reports/report.md: what was run, the overall table, the figure, the per-bucket numbers with
their intervals and paired tests, the verdict in plain words, the heatmaps and the cost side.
Every number comes from the stages' results (typed: `nmt_bottleneck.eval.results`,
`eval.compare`, `eval.judge`); nothing is scored or judged here."""

from __future__ import annotations

from typing import Any, NamedTuple

from nmt_bottleneck.eval.judge import Verdicts
from nmt_bottleneck.eval.results import BucketResult, Details, SetScores
from nmt_bottleneck.eval.significance import Significance
from nmt_bottleneck.eval.translate import DecodeSettings
from nmt_bottleneck.models.cost import Growth
from nmt_bottleneck.report.machines import machines
from nmt_bottleneck.report.reading import novel_note, reading, skipped_note


class Inputs(NamedTuple):
    """What the report stage gathered. Per variant (in config order): train facts and evaluate
    details (None when the stage has not run)."""

    data: dict[str, Any]  # params `data`
    profile: str
    arch: dict[str, Any]  # the first variant's `arch` (the shared sizes)
    commit: str  # the commit the report was written at
    changed: list[str]  # files that differ from it (not the pipeline's own outputs)
    tokenize: dict[str, Any]  # reports/data/tokenize_stats.json
    facts: dict[str, dict[str, Any] | None]  # reports/train/<variant>.json
    details: dict[str, Details | None]
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
    for v, f in inputs.facts.items():
        if f is None:
            out.append(f"- `{v}`: not trained. Run `dvc repro train@{v}`.")
        elif inputs.details.get(v) is None:
            out.append(f"- `{v}`: not evaluated. Run `dvc repro evaluate@{v}`.")
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
    return [d for d in inputs.details.values() if d]


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
            machines(inputs.facts, inputs.details),
            f"- {code(inputs.commit, inputs.changed)} BLEU: sacrebleu `{signature}`.",
        ]
    )


def overall(inputs: Inputs) -> str:
    rows = []
    for v, d in inputs.details.items():
        f = inputs.facts.get(v) or {}
        for name, t in (d.test_sets if d else {}).items():
            speed = t.timing.sentences_per_s if t.timing else None
            rows.append(
                [
                    v,
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
    header = ["variant", "test set", "BLEU", "chrF", "params", "steps", "epochs", "best val loss"]
    return table([*header, "train time", "decode sent/s"], rows)


def scored(inputs: Inputs, name: str) -> dict[str, SetScores]:
    """variant -> its scores on test set or view `name`, for the variants evaluated on it."""
    return {v: d.test_sets[name] for v, d in inputs.details.items() if d and name in d.test_sets}


def buckets(inputs: Inputs, name: str) -> str:
    """BLEU [95% CI] per bucket and variant; p-values of the paired test vs the baseline."""
    per = scored(inputs, name)
    if not per:
        return ""
    first = next(iter(per.values())).buckets
    sig = inputs.significance.rows(name) if inputs.significance else {}
    baseline = inputs.significance.baseline if inputs.significance else "-"
    rows = []
    for k, b in enumerate(first):
        row = [b.label, str(b.n)]
        row += [interval(s.buckets[k]) for s in per.values()]
        row += [fmt(tests[k + 1].p_value, 4) for tests in sig.values()]
        rows.append(row)
    header = ["source words", "n"] + [f"{v} BLEU [95% CI]" for v in per]
    return table(header + [f"p {v} vs {baseline}" for v in sig], rows)


def interval(b: BucketResult) -> str:
    return f"{b.bleu:.2f} [{b.ci_lo:.2f}, {b.ci_hi:.2f}]"


def lengths(inputs: Inputs, name: str) -> str:
    """Output length over reference length per bucket and variant (sacrebleu's ratio)."""
    per: dict[str, list[BucketResult]] = {
        v: c for v, s in scored(inputs, name).items() if (c := s.curve())
    }
    if not per:
        return ""
    first = next(iter(per.values()))
    rows = [[b.label, *(fmt(c[k].length_ratio) for c in per.values())] for k, b in enumerate(first)]
    return table(["source words", *per], rows)


def cost(inputs: Inputs) -> str:
    rows = []
    for v, f in inputs.facts.items():
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


def render(inputs: Inputs) -> str:
    parts = ["# Why the encoder's final state is a bottleneck: BLEU against sentence length", ""]
    todo = missing(inputs)
    if todo:
        parts += ["**Incomplete: some stages have not run.**", "", *todo, ""]
    parts += ["## What was run", "", what_was_run(inputs), "", "## Overall", "", overall(inputs)]
    views = skipped_views(inputs)
    for name, figure in inputs.figures.items():
        parts += ["", f"## BLEU by source length: `{name}`", "", f"![BLEU vs length]({figure})"]
        parts += ["", note] if (note := novel_note(scored(inputs, name), inputs.details)) else []
        parts += ["", buckets(inputs, name), "", "Reading:", ""]
        parts += [reading(scored(inputs, name), inputs.verdicts.test_sets[name], inputs.verdicts)]
        parts += ["", LENGTHS_NOTE, "", lengths(inputs, name)]
        parts += ["", skipped_note(name, views[name])] if name in views else []
    baseline = (
        inputs.significance.baseline if inputs.significance else inputs.verdicts.settings.baseline
    )
    parts += [
        "",
        "Buckets with fewer sentences than `eval.min_bucket` are merged into a neighbour. "
        "Intervals: 95% percentile bootstrap over the bucket's sentences. p: sacrebleu's paired "
        f"bootstrap test against {baseline} (small p: the difference is unlikely to be noise).",
    ]
    if inputs.heatmaps:
        parts += ["", "## Attention (Figure 3 style)", ""]
        parts += [f"![{caption}]({path})" for caption, path in inputs.heatmaps]
    parts += ["", "## Cost", "", cost(inputs), ""]
    return "\n".join(parts)


def skipped_views(inputs: Inputs) -> dict[str, str]:
    """Whole test set -> why its `<set>_novel` view was not scored, from any variant's details."""
    out: dict[str, str] = {}
    for d in evaluated(inputs):
        for view, reason in d.skipped_views.items():
            out.setdefault(view.removesuffix("_novel"), reason)
    return out
