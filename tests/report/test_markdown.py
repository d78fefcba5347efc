"""The report's wording where it depends on the results and settings (the rest is checked end
to end in tests/test_pipeline_dvc.py and tests/test_fourth_variant.py): the verdict written
from the judge's outcome, the views, the machines line, the baseline and the growth table."""

from __future__ import annotations

from nmt_bottleneck.eval.judge import judge
from nmt_bottleneck.eval.results import Details
from nmt_bottleneck.eval.significance import PairedRow, Significance
from nmt_bottleneck.eval.translate import DecodeSettings
from nmt_bottleneck.models.cost import Growth
from nmt_bottleneck.report.machines import machines
from nmt_bottleneck.report.markdown import Inputs, VariantInfo, render, search
from nmt_bottleneck.report.reading import novel_note, reading
from tests.judged import GREEDY, VARIANTS, details, fall, judged_sets, scores, settings

BASE = [20.0, 16.0, 12.0, 9.0, 6.0]  # falls
HOLDS = [25.0, 24.0, 23.0, 22.0, 21.0]  # the last at 84% of the best
FALLS = [25.0, 24.0, 23.0, 22.0, 19.9]  # 19.9 is just under 80% of 25


def test_beam_settings_are_named_only_for_beam_search():
    assert search(GREEDY) == "greedy search"
    beam = DecodeSettings("beam", 5, 1.0, 1.5, 6000)
    assert search(beam) == "beam search (beam 5, length penalty 1.0)"


def report_inputs(
    per_variant: dict[str, Details | None],
    facts: dict | None = None,
    significance: Significance | None = None,
    growth: list[Growth] | None = None,
    **judge_changes,
) -> Inputs:
    """The report's inputs from the evaluate details (and train facts); judged as the report
    stage judges them, on every test set and view the details hold."""
    names = list(dict.fromkeys(n for d in per_variant.values() if d for n in d.test_sets))
    variants = list(dict.fromkeys([*VARIANTS, *per_variant]))
    judged = settings(variants, **judge_changes)
    curves = judged_sets(per_variant)
    return Inputs(
        data={},
        profile="cpu",
        arch={},
        commit="0",
        changed=[],
        tokenize={},
        facts={v: {1: f} for v, f in (facts or {}).items()},
        details={v: {1: d} for v, d in per_variant.items()},
        curves=curves,
        variants={v: VariantInfo(v, None, None) for v in variants},
        significance=significance,
        verdicts=judge(curves, judged, names, significance),
        figures={n: f"figures/bleu_vs_length_{n}.png" for n in names},
        heatmaps=[],
        growth=growth or [],
        growth_figure="figures/context_growth.png" if growth else None,
    )


def read(per: dict[str, Details]) -> str:
    """The reading of test set `test`, judged as the report stage judges it."""
    inputs = report_inputs(per)
    return reading(inputs.curves["test"], inputs.verdicts.test_sets["test"], inputs.verdicts)


def verdict_line(final_state: list[float], attention: list[float], half_width=1.0, interval=None):
    """The reading's last line: the verdict."""
    per = details(
        final_state=scores(final_state, half_width),
        attention=scores(attention, half_width, interval),
    )
    return read(per).splitlines()[-1]


def test_the_verdict_says_each_claims_outcome():
    assert verdict_line(BASE, HOLDS) == (
        "The paper's shape appears: final_state falls with length, attention holds and attention "
        "is ahead of final_state beyond the intervals in 2 of 2 buckets beyond 30 words."
    )
    assert verdict_line(BASE, FALLS, interval=fall(0.70, 0.79, "41+")) == (
        "The paper's shape appears in part: final_state falls with length and attention is ahead "
        "of final_state beyond the intervals in 2 of 2 buckets beyond 30 words, but attention "
        "also falls with length (0.796 of the best, 95% interval 0.70-0.79, wholly under 0.8)."
    )
    flat = [20.0, 19.0, 18.0, 17.0, 16.0]
    assert verdict_line(flat, FALLS, 8.0).startswith(
        "The paper's shape does not appear here: final_state does not fall steeply (0.80 of the "
        "best), attention also falls with length (0.796 of the best) and attention is not ahead "
    )
    partly = verdict_line(BASE, [25.0, 24.0, 23.0, 10.5, 21.0])
    assert partly.endswith(
        "ahead of final_state beyond the intervals in 1 of 2 buckets beyond 30 words, but not "
        "every bucket beyond 30 words is separated."
    )


def test_an_interval_straddling_the_holds_line_reads_cannot_tell():
    line = verdict_line(BASE, HOLDS, interval=fall(0.75, 0.93, "41+"))
    assert line == (
        "This test set cannot tell whether the paper's shape appears: final_state falls with "
        "length and attention is ahead of final_state beyond the intervals in 2 of 2 buckets "
        "beyond 30 words, but attention's last bucket keeps 0.84 of the best, 95% interval "
        "0.75-0.93: the interval straddles 0.8, so this test set cannot tell holding from a fall."
    )
    # bounds just under a line keep enough places to stay under it
    close = verdict_line(BASE, FALLS, interval=fall(0.70, 0.7996, "41+"))
    assert "95% interval 0.70-0.7996, wholly under 0.8" in close
    near = read(
        details(final_state=scores([20.0, 18.0, 16.0, 15.0, 13.994]), attention=scores(HOLDS))
    )
    assert "(0.6997 of the best;" in near  # 13.994 / 20 is under 0.7: not shown as 0.70
    assert near.splitlines()[-1].startswith("The paper's shape appears: final_state falls")


def test_a_test_set_of_short_sentences_cannot_show_the_shape():
    per = details(final_state=scores([20.0, 15.0, 8.0]), attention=scores([25.0, 24.0, 23.0]))
    text = read(per)
    assert text.splitlines()[-1].startswith(
        "This test set cannot show the paper's shape: no bucket starts beyond 30 words (the "
        "last is 21+)"
    )
    assert "0 of 0" not in text and "does not appear" not in text


def test_below_the_floor_the_verdict_names_the_best_curve():
    line = verdict_line([0.9, 0.5, 0.5, 0.5, 0.4], [9.94, 4.0, 4.0, 4.0, 4.0], 0.01)
    assert line.startswith(
        "Too little BLEU to compare with the paper's shape: attention's best bucket has 9.94 "
        "(under 10)."
    )


def test_a_missing_variant_is_named():
    per = {"final_state": details(final_state=scores(BASE))["final_state"], "attention": None}
    facts = {"final_state": {"parameters": {"total": 1, "context": 1}}, "attention": None}
    text = render(report_inputs(per, facts=facts))
    assert (
        "Not enough variants evaluated to judge the claims: no scores of `attention` here." in text
    )
    assert "- `attention` seed 1: not trained. Run `dvc repro train@attention-1`." in text


def test_a_views_note_counts_what_each_of_its_buckets_left_out():
    whole = scores([20.0, 18.0, 16.0])  # buckets 1-10, 11-20, 21+ of 100 sentences each
    view = whole._replace(
        buckets=[whole.buckets[0]._replace(hi=20, label="1-20", n=198), whole.buckets[2]],
        novel_of="test",
        near_duplicates=2,
    )
    per = {"attention": Details("attention", GREEDY, {}, {"test": whole, "test_novel": view}, {})}
    note = novel_note({"attention": view}, per)
    assert note.startswith("`test` without the 2 of its 300 sentences")
    assert "Left out, per bucket: 1-20: 2, 21+: 0." in note
    assert "Hansard" not in note and "Motion" not in note  # no corpus's example on every corpus
    assert novel_note({"attention": whole}, per) == ""  # a whole test set has no note


def test_a_view_with_no_near_duplicates_is_named_and_not_repeated():
    whole = scores(BASE)
    per = {
        v: Details(v, GREEDY, {}, {"test": whole}, {"test_novel": "no near-duplicates"})
        for v in ("final_state", "attention")
    }
    text = render(report_inputs(per))
    assert "`test_novel` is not shown: no near-duplicates." in text
    assert "## BLEU by source length: `test_novel`" not in text
    assert "| test_novel |" not in text  # no overall rows repeated either


def test_the_baseline_and_every_variant_come_from_the_results():
    per = details(
        attention=scores(HOLDS),
        final_state=scores(BASE),
        narrow=scores([24.0, 23.0, 22.0, 21.0, 20.0]),
    )
    row = PairedRow("all", 500, 20.0, 25.0, 0.001)
    rows = [row] + [row._replace(bucket=b.label) for b in scores(BASE).buckets]
    tests = {v: rows for v in ("final_state", "narrow")}
    sig = Significance("attention", {"test": tests}, {}, {}, [1])
    text = render(report_inputs(per, significance=sig, baseline="attention"))
    assert "| p final_state vs attention | p narrow vs attention |" in text
    assert "narrow BLEU [95% CI]" in text and "- `narrow`: best 24.0 BLEU at 1-10 words" in text
    assert "paired bootstrap test over sentences and seeds against attention (small p" in text


def test_the_growth_table_holds_every_bounded_variant():
    growth = [
        Growth("concat_states", 145, [(10, 650), (145, 9000)]),
        Growth("window", 60, [(10, 100), (60, 600)]),
    ]
    per = details(final_state=scores(BASE), attention=scores(HOLDS))
    text = render(report_inputs(per, growth=growth))
    assert "| L (tokens) | concat_states context params | window context params |" in text
    assert "| 10 | 650 | 100 |" in text and "| 60 | - | 600 |" in text
    assert "| 145 | 9,000 | - |" in text
    assert "![context module parameters against L](figures/context_growth.png)" in text


def test_the_machines_line_groups_stages_by_host_and_by_how_they_ran():
    xeon = {"cpu": "Xeon", "cores": 2, "torch_threads": 2, "torch": "2.13.0", "processes": 1}
    epyc = {**xeon, "cpu": "EPYC"}
    ddp = {**xeon, "cores": 16, "gpu": "NVIDIA H200", "processes": 4, "torch_threads": 4}

    def evaluated(machine: dict) -> dict[str, Details]:
        return {"attention": Details("attention", GREEDY, machine, {}, {})}

    same = machines({"attention": {"machine": xeon}}, evaluated(xeon))
    assert same == "- Machine: Xeon, 2 cores, torch 2.13.0, 2 threads."
    # evaluate re-run elsewhere; final_state's facts written before machines were recorded
    mixed = machines(
        {"attention": {"machine": epyc}, "final_state": {"steps": 8}, "concat_states": None},
        evaluated(xeon),
    )
    assert mixed == (
        "- Machines: `train@attention`: EPYC, 2 cores, torch 2.13.0; `evaluate@attention`: "
        "Xeon, 2 cores, torch 2.13.0, 2 threads; not recorded for `train@final_state`. Times "
        "measured on different machines do not compare."
    )
    # one host: DDP training on its GPUs, decoding on its CPU
    cpu16 = {**ddp, "processes": 1, "torch_threads": 16, "gpu": None}
    gpu = machines({"attention": {"machine": ddp}}, evaluated(cpu16))
    assert gpu == (
        "- Machine: Xeon, 16 cores, torch 2.13.0; run with `train@attention`: NVIDIA H200, "
        "4 processes, 4 threads; `evaluate@attention`: 16 threads."
    )
    assert machines({"attention": {"steps": 8}}, {}) == "- Machine: not recorded."
    # the memory allocator is how a stage ran (nmt_bottleneck.allocator): evaluate without it
    kept = {**xeon, "allocator": "glibc: kept"}
    either = machines({"attention": {"machine": kept}}, evaluated({**kept, "allocator": "default"}))
    assert either == (
        "- Machine: Xeon, 2 cores, torch 2.13.0; run with `train@attention`: 2 threads, memory "
        "allocator glibc: kept; `evaluate@attention`: 2 threads, memory allocator default."
    )
