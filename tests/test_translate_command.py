"""`python -m pipelines.translate`: its input is read as the corpus files are (one sentence per
"\\n"-ended line), and bad input gets an error that names the input, the line and the fix,
before any model is loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nmt_bottleneck.data.text_input import read_input
from tests.helpers import ROOT, child_env

GOOD = "The House met at two.\n"
BAD = "Des voix: r\xe9gl\xe9.".encode("latin-1")  # Latin-1 bytes: not UTF-8


def translate_command(
    *args: str, stdin: bytes = b"", model: str = "no/such/model"
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.translate", "--model", model, *args],
        cwd=ROOT,
        env=child_env(ROOT),
        input=stdin,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_invalid_utf8_names_the_input_and_the_line(tmp_path, via):
    raw = GOOD.encode() + BAD + b"\n"
    column = BAD.index(b"\xe9") + 1  # 1-based byte within its line
    if via == "file":
        (tmp_path / "in.en").write_bytes(raw)
        result, name = translate_command("--input", str(tmp_path / "in.en")), "in.en"
    else:
        result, name = translate_command(stdin=raw), "<stdin>"
    stderr = result.stderr.decode()
    assert result.returncode == 1
    assert f"{name}: line 2, byte {column} is not valid UTF-8" in stderr
    assert "iconv" in stderr
    assert "Traceback" not in stderr
    assert result.stdout == b""


def test_a_missing_input_file_is_named(tmp_path):
    result = translate_command("--input", str(tmp_path / "absent.en"))
    assert result.returncode == 1
    assert "absent.en: no such file" in result.stderr.decode()


def test_output_line_n_translates_input_line_n(tmp_path):
    # Only "\n" ends a sentence: U+2028 and a form feed stay inside theirs (str.splitlines would
    # split both), "\r\n" ends one, and a byte-order mark is not text.
    text = "\ufeffOne\u2028sentence.\r\nTwo\x0cparts, one line.\nThree.\n"
    (tmp_path / "in.en").write_bytes(text.encode())
    lines = read_input(tmp_path / "in.en")
    assert lines == ["One\u2028sentence.", "Two\x0cparts, one line.", "Three."]
    assert len(lines) == text.count("\n") != len(text.splitlines())


def test_a_model_path_without_a_model_lists_the_trained_ones(tmp_path):
    """models/<id>/<seed>/: a seed not trained names the trained seeds beside it and the
    train stage of that (variant, seed)."""
    for seed in ("1", "2"):
        (tmp_path / "models/attention" / seed).mkdir(parents=True)
        (tmp_path / "models/attention" / seed / "model.pt").write_bytes(b"")
    (tmp_path / "in.en").write_text(GOOD)
    model = str(tmp_path / "models/attention/3")
    result = translate_command("--input", str(tmp_path / "in.en"), model=model)
    stderr = result.stderr.decode()
    assert result.returncode == 1
    listed = f"{tmp_path}/models/attention/1, {tmp_path}/models/attention/2"
    assert "models/attention/3: no trained model (config.yaml and model.pt)" in stderr
    assert f"trained models beside it: {listed}." in stderr
    assert "`dvc repro train@attention-3`" in stderr
