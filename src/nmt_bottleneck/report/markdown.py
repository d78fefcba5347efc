"""reports/report.md: what was run, the overall table, the figure, the per-bucket numbers with
their intervals and paired tests, the heatmaps, the cost side, and a reading in plain words.
Every number comes from the stages' JSON files; nothing is scored here."""

from __future__ import annotations

from typing import NamedTuple


class Inputs(NamedTuple):
    """What the report stage gathered. Per variant: train facts and evaluate details (None
    when the stage has not run); per test set: the paired tests against the baseline."""

    data: dict  # params `data`
    profile: str
    commit: str  # the commit the report was written at
    changed: list[str]  # files that differ from it (not the pipeline's own outputs)
    tokenize: dict  # reports/data/tokenize_stats.json
    facts: dict[str, dict | None]
    details: dict[str, dict | None]
    significance: dict | None
    figures: dict[str, str]  # test set -> figure path relative to the report
    heatmaps: list[tuple[str, str]]  # (caption, path)
    growth: str | None  # concat_states growth figure
    growth_rows: list[tuple[int, int]]  # (L, parameters)


HOLDS = 0.8  # attention "holds" when its last bucket keeps this much of its best bucket's BLEU
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


def search(decode: dict) -> str:
    """The search as a reader needs it: beam size and length penalty only for beam search."""
    if decode.get("search") == "beam":
        return (
            f"beam search (beam {decode.get('beam_size')}, length penalty "
            f"{decode.get('length_penalty')})"
        )
    return f"{decode.get('search')} search"


def code(commit: str, changed: list[str], shown: int = 8) -> str:
    """Where the code and configuration came from: the commit, and what differed from it."""
    out = f"Written at commit `{commit}`"
    if changed:
        names = ", ".join(f"`{c}`" for c in changed[:shown])
        more = f" and {len(changed) - shown} more" if len(changed) > shown else ""
        out += f", with uncommitted changes to {names}{more}"
    return out + ". `dvc.lock` holds each stage's parameters and its inputs' hashes."


def what_was_run(inputs: Inputs) -> str:
    some = next((f for f in inputs.facts.values() if f), {})
    decode = next((d["decode"] for d in inputs.details.values() if d), {})
    train = inputs.tokenize.get("splits", {}).get("train", {})
    arch = some.get("arch", {})
    signature = next(
        (
            t["bleu_signature"]
            for d in inputs.details.values()
            if d
            for t in d["test_sets"].values()
        ),
        "-",
    )
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
            f"- Decoding: {search(decode)}, max length ratio {decode.get('max_len_ratio')}.",
            machines(inputs),
            f"- {code(inputs.commit, inputs.changed)} BLEU: sacrebleu `{signature}`.",
        ]
    )


def machines(inputs: Inputs) -> str:
    """Where the train and evaluate stages ran, whose are the times in the tables: the host
    (CPU, cores, torch) once when they share one, else the stages grouped by host; then how
    each ran on it (GPU, processes, threads) when that is not the same for all."""
    ran = {f"train@{v}": f.get("machine") for v, f in inputs.facts.items() if f}
    ran |= {f"evaluate@{v}": d.get("machine") for v, d in inputs.details.items() if d}
    recorded = {s: m for s, m in ran.items() if m}
    if not recorded:
        return "- Machine: not recorded."
    hosts, runs = grouped(recorded, host), grouped(recorded, how)
    if len(hosts) == 1:
        out = f"- Machine: {next(iter(hosts))}"
    else:
        out = "- Machines: " + "; ".join(f"{stages(ss)}: {h}" for h, ss in hosts.items())
    if len(runs) == 1:
        out += f", {next(iter(runs))}"
    else:
        out += "; run with " + "; ".join(f"{stages(ss)}: {r}" for r, ss in runs.items())
    missing = [s for s, m in ran.items() if not m]
    if missing:
        out += f"; not recorded for {stages(missing)}"
    if len(hosts) > 1:
        out += ". Times measured on different machines do not compare"
    return out + "."


def host(machine: dict) -> str:
    return f"{machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}"


def how(machine: dict) -> str:
    parts = [machine["gpu"]] if machine.get("gpu") else []
    if machine.get("processes", 1) > 1:
        parts.append(f"{machine['processes']} processes")
    return ", ".join([*parts, f"{machine['torch_threads']} threads"])


def grouped(machines: dict[str, dict], key) -> dict[str, list[str]]:
    """Stage names grouped by `key(machine)`, in first-seen order."""
    out: dict[str, list[str]] = {}
    for stage, machine in machines.items():
        out.setdefault(key(machine), []).append(stage)
    return out


def stages(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def overall(inputs: Inputs) -> str:
    rows = []
    for v, d in inputs.details.items():
        f = inputs.facts.get(v) or {}
        for name, t in (d or {}).get("test_sets", {}).items():
            rows.append(
                [
                    v,
                    name,
                    fmt(t["bleu"]),
                    fmt(t["chrf"]),
                    f"{f.get('parameters', {}).get('total', 0) / 1e6:.1f} M",
                    str(f.get("steps", "-")),
                    fmt(f.get("epochs"), 3),
                    fmt(f.get("best_val_loss"), 3),
                    f"{f.get('wall_time_s', 0) / 60:.1f} min",
                    fmt(t.get("sentences_per_s"), 1),
                ]
            )
    header = ["variant", "test set", "BLEU", "chrF", "params", "steps", "epochs", "best val loss"]
    return table([*header, "train time", "decode sent/s"], rows)


def buckets(inputs: Inputs, name: str) -> str:
    """BLEU [95% CI] per bucket and variant; p-values of the paired test vs the baseline."""
    variants = [v for v, d in inputs.details.items() if d and name in d["test_sets"]]
    if not variants:
        return ""
    first = inputs.details[variants[0]]["test_sets"][name]["buckets"]
    sig = (inputs.significance or {}).get("test_sets", {}).get(name, {})
    rows = []
    for k, b in enumerate(first):
        row = [b["label"], str(b["n"])]
        for v in variants:
            x = inputs.details[v]["test_sets"][name]["buckets"][k]
            row.append(f"{x['bleu']:.2f} [{x['ci_lo']:.2f}, {x['ci_hi']:.2f}]")
        row += [fmt(sig[v][k + 1]["p_value"], 4) if v in sig else "-" for v in sig]
        rows.append(row)
    header = ["source words", "n"] + [f"{v} BLEU [95% CI]" for v in variants]
    return table(header + [f"p {v} vs baseline" for v in sig], rows)


def lengths(inputs: Inputs, name: str) -> str:
    """Output length over reference length per bucket and variant (sacrebleu's ratio)."""
    per = {v: c for v in inputs.details if (c := curve(inputs, v, name))}
    if not per:
        return ""
    first = next(iter(per.values()))
    rows = [
        [b["label"], *(fmt(c[k]["length_ratio"]) for c in per.values())]
        for k, b in enumerate(first)
    ]
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
    if inputs.growth_rows:
        growth = table(
            ["L (tokens)", "concat_states context params"],
            [[str(n), f"{p:,}"] for n, p in inputs.growth_rows],
        )
        text += f"\n\nconcat_states grows linearly with L:\n\n{growth}"
        if inputs.growth:
            text += f"\n\n![concat_states parameters against L]({inputs.growth})"
    return text


def curve(inputs: Inputs, variant: str, name: str) -> list[dict] | None:
    d = inputs.details.get(variant)
    if not d or name not in d["test_sets"]:
        return None
    return [b for b in d["test_sets"][name]["buckets"] if b.get("n") != 0]  # empty: NaN BLEU


def reading(inputs: Inputs, name: str, long_from: int = 30, floor: float = 10.0) -> str:
    """The result in plain words: how each curve moves with length, and whether attention's
    long buckets are separated from final_state's beyond their intervals. Below `floor` BLEU in
    attention's best bucket the shape is not judged: the gaps may be real, but curves a few BLEU
    points high say little about length (a smoke run's, or an under-trained model's)."""
    base, attn = curve(inputs, "final_state", name), curve(inputs, "attention", name)
    if not base or not attn:
        return "Not enough variants evaluated to compare final_state with attention."
    lines = []
    for v in inputs.details:
        c = curve(inputs, v, name)
        if c:
            peak = max(c, key=lambda b: b["bleu"])
            lines.append(
                f"- `{v}`: best {peak['bleu']:.1f} BLEU at {peak['label']} words, "
                f"{c[-1]['bleu']:.1f} at {c[-1]['label']} ({kept(inputs, v, name)}; "
                f"output/reference length {c[-1]['length_ratio']:.2f} there)."
            )
    long = [k for k, b in enumerate(base) if b["lo"] > long_from]
    above = [k for k in long if attn[k]["ci_lo"] > base[k]["ci_hi"]]
    falls = base[-1]["bleu"] < 0.7 * max(b["bleu"] for b in base)
    best = max(b["bleu"] for b in attn)
    holds = attn[-1]["bleu"] >= HOLDS * best  # within 20% of its best bucket
    lines.append(
        f"- Beyond {long_from} words, attention's 95% interval lies wholly above final_state's "
        f"in {len(above)} of {len(long)} buckets."
    )
    gains = [
        f"{a['bleu'] / b['bleu']:.1f}x" if b["bleu"] else "-"
        for a, b in zip(attn, base, strict=True)
    ]
    lines.append(
        f"- attention's BLEU over final_state's, bucket by bucket: {', '.join(gains)}. Each "
        "bucket holds the same sentences for both: a quotient that grows with length means "
        "final_state loses a larger share of its BLEU than attention (few BLEU points make it "
        "jumpy)."
    )
    if round(best, 2) < floor:
        verdict = (
            f"Too little BLEU to compare with the paper's shape: attention's best bucket has "
            f"{best:.2f} (under {floor:g}). Gaps between the curves can still be real (see the "
            "intervals and p-values), but at this level their shapes say little about length: "
            "train longer or larger."
        )
    elif falls and holds and len(above) == len(long) > 0:
        verdict = (
            "The paper's shape appears: final_state falls with length, attention holds"
            f"{attention_fall(inputs, name, holds)}."
        )
    elif above:
        short = [
            (len(above) < len(long), f"not every bucket beyond {long_from} words is separated"),
            (not falls, "final_state does not fall steeply"),
            (not holds, attention_fall(inputs, name, holds)),
        ]
        verdict = (
            f"The paper's shape appears in part: attention is ahead beyond the intervals in "
            f"{len(above)} of {len(long)} buckets beyond {long_from} words, but "
            + " and ".join(why for failed, why in short if failed)
            + "."
        )
    else:
        verdict = "The paper's shape does not appear here: the long buckets are not separated."
    return "\n".join([*lines, "", verdict])


def last_over_best(inputs: Inputs, variant: str, name: str) -> dict | None:
    """evaluate's `last_over_best` for the curve's own last and best buckets (absent from details
    written before it, and None where evaluate could not score it)."""
    c = curve(inputs, variant, name)
    fall = inputs.details[variant]["test_sets"][name].get("last_over_best") or {}
    peak = max(c, key=lambda b: b["bleu"])
    same = (fall.get("last"), fall.get("best")) == (c[-1]["label"], peak["label"])
    return fall if same and fall.get("ci_lo") is not None else None


def kept(inputs: Inputs, variant: str, name: str) -> str:
    """How much of its best bucket's BLEU a curve keeps in its last, with the bootstrap interval
    where evaluate wrote one ("0.69 of the best, 95% interval 0.61-0.77")."""
    c = curve(inputs, variant, name)
    best = max(b["bleu"] for b in c)
    if not best:
        return "its best is 0"
    out = f"{quotient(c[-1]['bleu'] / best)} of the best"
    fall = last_over_best(inputs, variant, name)
    if fall:
        out += f", 95% interval {quotient(fall['ci_lo'])}-{quotient(fall['ci_hi'])}"
    return out


def quotient(x: float) -> str:
    """x to 2 places, or more where rounding would carry it across the HOLDS line (0.796 is not
    shown as 0.80 beside a verdict that it is under 0.8)."""
    places = 2
    while places < 6 and (round(x, places) >= HOLDS) != (x >= HOLDS):
        places += 1
    return f"{x:.{places}f}"


def attention_fall(inputs: Inputs, name: str, holds: bool) -> str:
    """The verdict's words on attention's last bucket against the HOLDS line, and whether the
    bootstrap interval of that quotient (where evaluate wrote one) settles which side it is on:
    empty for a hold the interval confirms."""
    fall = last_over_best(inputs, "attention", name)
    line = f"{HOLDS:g}"
    if holds:
        if not fall or fall["ci_lo"] >= HOLDS:
            return ""
        return (
            f" (it keeps {kept(inputs, 'attention', name)}, and the interval reaches under "
            f"{line}: this test set cannot tell holding from a fall)"
        )
    if fall and fall["ci_hi"] >= HOLDS:
        return (
            f"attention's last bucket keeps {kept(inputs, 'attention', name)}, under {line}, "
            f"though the interval reaches {line}: this test set cannot tell a fall from holding"
        )
    under = f", wholly under {line}" if fall else ""
    return f"attention also falls with length ({kept(inputs, 'attention', name)}{under})"


def within(a: dict, b: dict) -> bool:
    """Whether bucket a's lengths lie inside bucket b's (hi None: open-ended)."""
    return a["lo"] >= b["lo"] and (b["hi"] is None or (a["hi"] is not None and a["hi"] <= b["hi"]))


def novel_note(inputs: Inputs, name: str) -> str:
    """What a `<set>_novel` view left out, per bucket; empty for a whole test set."""
    view = whole = None
    for d in inputs.details.values():
        if d and "novel_of" in d["test_sets"].get(name, {}):
            view = d["test_sets"][name]
            whole = d["test_sets"].get(view["novel_of"])
            break
    if view is None or whole is None:
        return ""
    dropped = ", ".join(  # a view's bucket may span several of the whole set's
        f"{b['label']}: {sum(a['n'] for a in whole['buckets'] if within(a, b)) - b['n']}"
        for b in view["buckets"]
    )
    return (
        f"`{view['novel_of']}` without the {view['near_duplicates']} of its "
        f"{whole['sentences']} sentences whose source is a training source up to case, numbers "
        'and punctuation (in Hansard, e.g. "Motion No. 12 agreed to." after a training "Motion '
        'No. 3 agreed to."): a model may translate those by rote. The same models and '
        f"hypotheses, fewer sentences scored. Left out, per bucket: {dropped}. A shape that "
        "changes between the two views comes from which sentences fill the buckets, not from "
        "the models."
    )


def render(inputs: Inputs) -> str:
    parts = ["# Why the encoder's final state is a bottleneck: BLEU against sentence length", ""]
    todo = missing(inputs)
    if todo:
        parts += ["**Incomplete: some stages have not run.**", "", *todo, ""]
    parts += ["## What was run", "", what_was_run(inputs), "", "## Overall", "", overall(inputs)]
    for name, figure in inputs.figures.items():
        parts += ["", f"## BLEU by source length: `{name}`", "", f"![BLEU vs length]({figure})"]
        parts += ["", note] if (note := novel_note(inputs, name)) else []
        parts += ["", buckets(inputs, name), "", "Reading:", "", reading(inputs, name)]
        parts += ["", LENGTHS_NOTE, "", lengths(inputs, name)]
    parts += [
        "",
        "Buckets with fewer sentences than `eval.min_bucket` are merged into a neighbour. "
        "Intervals: 95% percentile bootstrap over the bucket's sentences. p: sacrebleu's paired "
        "bootstrap test against final_state (small p: the difference is unlikely to be noise).",
    ]
    if inputs.heatmaps:
        parts += ["", "## Attention (Figure 3 style)", ""]
        parts += [f"![{caption}]({path})" for caption, path in inputs.heatmaps]
    parts += ["", "## Cost", "", cost(inputs), ""]
    return "\n".join(parts)
