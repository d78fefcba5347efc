"""Atomic outputs: complete or absent, never half; leftovers of killed runs swept; and the
usual file permissions."""

from __future__ import annotations

import os
import stat

import pytest

from nmt_bottleneck.atomic import atomic_dir, write_json_atomic


def test_a_failed_write_keeps_the_old_directory(tmp_path):
    final = tmp_path / "out"
    with atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("killed halfway")
    assert (final / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_successful_write_replaces_the_directory(tmp_path):
    final = tmp_path / "out"
    for text in ("first", "second"):
        with atomic_dir(final) as tmp:
            (tmp / f"{text}.txt").write_text(text)
    assert [p.name for p in final.iterdir()] == ["second.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_leftovers_of_a_killed_run_are_swept(tmp_path):
    (tmp_path / ".out.tmp-abc123").mkdir()  # what SIGKILL mid-write leaves
    (tmp_path / ".stats.json.tmp-xyz").write_text("{")
    (tmp_path / ".other.tmp-keep").mkdir()  # another output's: not ours to touch
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a").write_text("x")
    write_json_atomic({"a": 1}, tmp_path / "stats.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-keep", "out", "stats.json"]


def test_outputs_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "a").write_text("x")
        write_json_atomic([1], tmp_path / "m.json")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o644
