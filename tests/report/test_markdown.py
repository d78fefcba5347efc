"""The report's wording where it depends on the settings (the rest is checked end to end in
tests/test_pipeline_dvc.py)."""

from __future__ import annotations

import pytest

from nmt_bottleneck.report.markdown import Inputs, machines, novel_note, reading, search


def test_beam_settings_are_named_only_for_beam_search():
    settings = {"beam_size": 5, "length_penalty": 1.0, "max_len_ratio": 1.5}
    assert search({"search": "greedy", **settings}) == "greedy search"
    assert search({"search": "beam", **settings}) == "beam search (beam 5, length penalty 1.0)"


def buckets(bleus: list[float], half_width: float) -> list[dict]:
    """Buckets 1-10, 11-20, ... with the given BLEU and an interval of +-half_width."""
    return [
        {
            "lo": 10 * k + 1,
            "label": f"{10 * k + 1}-{10 * k + 10}",
            "bleu": b,
            "ci_lo": b - half_width,
            "ci_hi": b + half_width,
            "length_ratio": 1.0,
        }
        for k, b in enumerate(bleus)
    ]


def report_inputs(details: dict, facts: dict | None = None) -> Inputs:
    """The report's inputs with only the evaluate details (and train facts) set."""
    return Inputs(
        data={},
        profile="cpu",
        commit="0",
        changed=[],
        tokenize={},
        facts=facts or {},
        details=details,
        significance=None,
        figures={},
        heatmaps=[],
        growth=None,
        growth_rows=[],
    )


def verdict(
    final_state: list[float],
    attention: list[float],
    half_width: float = 1.0,
    fall: dict | None = None,
) -> str:
    """The reading's verdict line; `fall`: attention's `last_over_best` from evaluate."""
    details = {
        v: {"test_sets": {"test": {"buckets": buckets(bleus, half_width)}}}
        for v, bleus in (("final_state", final_state), ("attention", attention))
    }
    details["attention"]["test_sets"]["test"]["last_over_best"] = fall
    inputs = report_inputs(details)
    return reading(inputs, "test").splitlines()[-1]


BASE = [20.0, 16.0, 12.0, 9.0, 6.0]  # the last bucket at 30% of the best: falls
HOLDS = [25.0, 24.0, 23.0, 22.0, 21.0]  # the last at 84% of the best
FALLS = [25.0, 24.0, 23.0, 22.0, 19.9]  # 19.9 is just under 80% of 25


@pytest.mark.parametrize(
    ("final_state", "attention", "half_width", "expected"),
    [
        (BASE, HOLDS, 1.0, "appears: final_state falls with length, attention holds."),
        (BASE, FALLS, 1.0, "in part: attention is ahead beyond the intervals in 2 of 2 buckets"),
        (BASE, FALLS, 1.0, "words, but attention also falls with length (0.796 of the best)."),
        ([20.0, 19.0, 18.0, 17.0, 16.0], HOLDS, 1.0, "but final_state does not fall steeply."),
        (
            [20.0, 19.0, 18.0, 17.0, 16.0],
            FALLS,
            1.0,
            "but final_state does not fall steeply and attention also falls with length (0.796",
        ),
        # attention holds, but its 31-40 bucket dips into final_state's interval
        (BASE, [25.0, 24.0, 23.0, 10.5, 21.0], 1.0, "in 1 of 2 buckets beyond 30 words, but not"),
        (BASE, HOLDS, 8.0, "does not appear here"),
        # the same shape, a tenth as high: no shape is read, however narrow the intervals
        ([b / 10 for b in BASE], [b / 10 for b in HOLDS], 0.01, "Too little BLEU"),
        ([b / 10 for b in BASE], [10.0, 9.0, 9.0, 9.0, 9.0], 0.01, "appears: final_state falls"),
    ],
)
def test_the_verdict_reads_the_curves(final_state, attention, half_width, expected):
    assert expected in verdict(final_state, attention, half_width)


def test_attentions_fall_is_read_against_its_bootstrap_interval():
    def fall(lo: float, hi: float, last: str = "41-50", best: str = "1-10") -> dict:
        return {"last": last, "best": best, "value": 0.0, "ci_lo": lo, "ci_hi": hi}

    beyond = verdict(BASE, FALLS, fall=fall(0.70, 0.79))
    assert beyond.endswith(
        "but attention also falls with length (0.796 of the best, 95% interval 0.70-0.79, "
        "wholly under 0.8)."
    )
    reaches = verdict(BASE, FALLS, fall=fall(0.70, 0.86))
    assert reaches.endswith(
        "but attention's last bucket keeps 0.796 of the best, 95% interval 0.70-0.86, under "
        "0.8, though the interval reaches 0.8: this test set cannot tell a fall from holding."
    )
    # a hold the interval does not settle is said to be unsettled; one it settles is not
    unsure = verdict(BASE, HOLDS, fall=fall(0.75, 0.93))
    assert unsure == (
        "The paper's shape appears: final_state falls with length, attention holds (it keeps "
        "0.84 of the best, 95% interval 0.75-0.93, and the interval reaches under 0.8: this "
        "test set cannot tell holding from a fall)."
    )
    sure = verdict(BASE, HOLDS, fall=fall(0.81, 0.93))
    assert sure.endswith("final_state falls with length, attention holds.")
    # an interval of other buckets than the curve's last and best is not shown as its own
    other = verdict(BASE, FALLS, fall=fall(0.70, 0.79, last="51+"))
    assert other.endswith("attention also falls with length (0.796 of the best).")
    # bounds just under the line keep enough places to stay under it
    close = verdict(BASE, FALLS, fall=fall(0.70, 0.7996))
    assert "95% interval 0.70-0.7996, wholly under 0.8" in close


def test_the_floor_names_attentions_best_bucket():
    assert "best bucket has 9.94 (under 10)" in verdict([0.9, 0.5], [9.94, 4.0], 0.01)
    # shown as 10.00, so not called under 10
    assert "Too little" not in verdict([5.0, 0.5], [9.996, 8.0], 0.01)


def test_a_views_note_counts_what_each_of_its_buckets_left_out():
    def bucket(lo, hi, n):
        label = f"{lo}+" if hi is None else f"{lo}-{hi}"
        return {"lo": lo, "hi": hi, "label": label, "n": n}

    whole = {"sentences": 12, "buckets": [bucket(1, 10, 5), bucket(11, 20, 3), bucket(21, None, 4)]}
    view = {  # evaluate merged 1-10 and 11-20 after leaving out two short sentences
        "novel_of": "test",
        "near_duplicates": 2,
        "buckets": [bucket(1, 20, 6), bucket(21, None, 4)],
    }
    details = {"attention": {"test_sets": {"test": whole, "test_novel": view}}}
    inputs = report_inputs(details)
    note = novel_note(inputs, "test_novel")
    assert note.startswith("`test` without the 2 of its 12 sentences")
    assert "Left out, per bucket: 1-20: 2, 21+: 0." in note
    assert novel_note(inputs, "test") == ""  # a whole test set has no note


def test_the_machines_line_groups_stages_by_host_and_by_how_they_ran():
    xeon = {"cpu": "Xeon", "cores": 2, "torch_threads": 2, "torch": "2.13.0", "processes": 1}
    epyc = {**xeon, "cpu": "EPYC"}
    ddp = {**xeon, "cores": 16, "gpu": "NVIDIA H200", "processes": 4, "torch_threads": 4}

    def line(facts: dict, details: dict) -> str:
        inputs = report_inputs(details, facts)
        return machines(inputs)

    same = line({"attention": {"machine": xeon}}, {"attention": {"machine": xeon}})
    assert same == "- Machine: Xeon, 2 cores, torch 2.13.0, 2 threads."
    # evaluate re-run elsewhere; final_state's facts written before machines were recorded
    mixed = line(
        {"attention": {"machine": epyc}, "final_state": {"steps": 8}, "concat_states": None},
        {"attention": {"machine": xeon}},
    )
    assert mixed == (
        "- Machines: `train@attention`: EPYC, 2 cores, torch 2.13.0; `evaluate@attention`: "
        "Xeon, 2 cores, torch 2.13.0, 2 threads; not recorded for `train@final_state`. Times "
        "measured on different machines do not compare."
    )
    # one host: DDP training on its GPUs, decoding on its CPU
    cpu16 = {**ddp, "processes": 1, "torch_threads": 16, "gpu": None}
    gpu = line({"attention": {"machine": ddp}}, {"attention": {"machine": cpu16}})
    assert gpu == (
        "- Machine: Xeon, 16 cores, torch 2.13.0; run with `train@attention`: NVIDIA H200, "
        "4 processes, 4 threads; `evaluate@attention`: 16 threads."
    )
    assert line({"attention": {"steps": 8}}, {}) == "- Machine: not recorded."
