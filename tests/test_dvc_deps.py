"""dvc.yaml lists every project module a stage runs, so changing one re-runs that stage.

A stage's code is the module in its `python -m pipelines.<name>` command and every project
module that module imports, directly or further down (found with `ast`, imports inside
functions included). A module missing from `deps` is a stage that DVC calls up to date while its
code has changed: its outputs would silently belong to older code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT

PACKAGES = {"nmt_bottleneck": ROOT / "src", "pipelines": ROOT}


def module_file(name: str) -> Path | None:
    """The project file of module `name`, or None for a module from elsewhere."""
    base = PACKAGES.get(name.split(".")[0])
    if base is None:
        return None
    path = base.joinpath(*name.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def imported_modules(path: Path) -> set[str]:
    """Names of the modules `path` imports; `from a import b` counts a.b when b is a module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if module_file(n) is not None}


def stage_code(entry: str) -> set[Path]:
    """Every project file that `python -m <entry>` runs."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = module_file(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        todo.extend(imported_modules(path))
    return seen


def is_inert(path: Path) -> bool:
    """A package `__init__.py` holding only a docstring, `from __future__` and `__version__`."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        version = isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == [
            "__version__"
        ]
        if not (docstring or future or version):
            return False
    return True


def stages() -> dict[str, dict]:
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: stage.get("do", stage) for name, stage in spec.items()}


@pytest.mark.parametrize("name", sorted(stages()))
def test_every_module_a_stage_runs_is_a_dependency(name):
    stage = stages()[name]
    entry = re.search(r"python -m (\S+)", stage["cmd"]).group(1)
    code = stage_code(entry)
    assert module_file(entry) in code
    listed = {ROOT / d for d in stage["deps"]}
    missing = sorted(
        str(p.relative_to(ROOT))
        for p in code
        if p not in listed
        and not any(d.is_dir() and d in p.parents for d in listed)
        and not (p.name == "__init__.py" and is_inert(p))
    )
    assert not missing, (
        f"dvc.yaml, stage {name}: its code imports {missing}, which are not in its deps. "
        "Fix: add them to the stage's deps."
    )
    # the converse: a listed module the stage never runs re-runs it for nothing (a package's
    # __init__.py runs with any of its modules)
    unused = sorted(
        str(p.relative_to(ROOT))
        for p in listed
        if p.suffix == ".py" and p not in code and p.name != "__init__.py"
    )
    assert not unused, (
        f"dvc.yaml, stage {name}: its deps list {unused}, which its code does not import. "
        "Fix: remove them from the stage's deps."
    )


def test_package_inits_hold_no_code():
    """The deps test leaves out package `__init__.py` files; that is right only while they
    hold nothing that could change a stage's result."""
    inits = [*(ROOT / "src").rglob("__init__.py"), *(ROOT / "pipelines").rglob("__init__.py")]
    assert inits
    assert [str(p.relative_to(ROOT)) for p in inits if not is_inert(p)] == []


def test_the_import_walk_finds_a_module_imported_inside_a_function(tmp_path, monkeypatch):
    """The walk itself: a module imported only inside a function body still counts."""
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "__init__.py").write_text('"""doc"""\n')
    (tmp_path / "pipelines" / "a.py").write_text("def f():\n    from pipelines import b\n")
    (tmp_path / "pipelines" / "b.py").write_text("import pipelines.c\n")
    (tmp_path / "pipelines" / "c.py").write_text("import os\n")
    monkeypatch.setitem(PACKAGES, "pipelines", tmp_path)
    found = {p.name for p in stage_code("pipelines.a")}
    assert found == {"__init__.py", "a.py", "b.py", "c.py"}
