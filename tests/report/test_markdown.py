"""The report's wording where it depends on the settings (the rest is checked end to end in
tests/test_pipeline_dvc.py)."""

from __future__ import annotations

from nmt_bottleneck.report.markdown import search


def test_beam_settings_are_named_only_for_beam_search():
    settings = {"beam_size": 5, "length_penalty": 1.0, "max_len_ratio": 1.5}
    assert search({"search": "greedy", **settings}) == "greedy search"
    assert search({"search": "beam", **settings}) == "beam search (beam 5, length penalty 1.0)"
