"""No variant id is written in code: the baseline, the compared variants and the claims come from
config (conf/config.yaml's `variants` and `judge`), so a fourth variant is a config line and a
YAML file. Checked on the code's string constants (docstrings aside: prose may name the paper's
variants), with `ast`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from tests.helpers import ROOT


def variant_ids() -> list[str]:
    return list(yaml.safe_load((ROOT / "params.yaml").read_text())["variants"])


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring constants of a module, its classes and functions."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def named(text: str, variant: str) -> bool:
    """Whether a string constant names `variant`: equal to it, or, for an id that is no plain
    word (it has an underscore or a digit, as `final_state`), holding it as a whole word. A plain
    word such as `attention` may appear in other senses ("attention weights")."""
    if text == variant:
        return True
    compound = not variant.isalpha()
    return compound and re.search(rf"(?<![\w]){re.escape(variant)}(?![\w])", text) is not None


def found(path: Path, ids: list[str]) -> list[tuple[str, int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = docstrings(tree)
    return [
        (v, node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        for v in ids
        if named(node.value, v)
    ]


def test_no_variant_id_is_a_string_constant_in_src_or_pipelines():
    ids = variant_ids()
    assert len(ids) >= 3
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "pipelines").rglob("*.py")]
    hits = []
    for path in files:
        name = str(path.relative_to(ROOT))
        for v, line, text in found(path, ids):
            hits.append(f"{name}:{line}: {text!r} names variant {v!r}")
    assert not hits, (
        "variant ids in code; read them from config (judge.*, variants):\n" + "\n".join(hits)
    )


def test_the_check_finds_an_id_in_code_and_not_in_a_docstring(tmp_path):
    code = tmp_path / "m.py"
    code.write_text(
        '"""Compares final_state with attention."""\n'
        'BASELINE = "final_state"\n'
        'TEXT = f"p against final_state: {1}"\n'
        'KEY = "attention"\n'
        'NAME = "attention.json"\n'
        'OTHER = "final_states"\n'
    )
    hits = sorted((line, v) for v, line, _ in found(code, ["final_state", "attention"]))
    assert hits == [(2, "final_state"), (3, "final_state"), (4, "attention")]
