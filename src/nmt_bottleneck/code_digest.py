"""The code a command runs, found by walking its imports, and a digest of those files' bytes.

A command's code is its entry module (`python -m <entry>`) and every project module that module
imports, directly or further down (found with `ast`, so imports inside functions count too). The
project is the top-level packages in `roots` (name -> the folder that holds it). Two uses:
- dvc.yaml must list every such file among a stage's deps (tests/test_dvc_deps.py), or DVC calls
  the stage up to date while its code has changed;
- a training run's fingerprint holds the digest of its files (models/resume.py), so a restarted
  run never continues the weights that older code trained.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path


def project_roots(packages: Iterable[str]) -> dict[str, Path]:
    """Where this process imports each of `packages` from: name -> the folder holding it. A
    package that cannot be found is left out (its modules then count as not the project's)."""
    roots = {}
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            roots[name] = Path(next(iter(spec.submodule_search_locations))).parent
    return roots


def module_file(name: str, roots: Mapping[str, Path]) -> Path | None:
    """The project file of module `name`, or None for a module from elsewhere."""
    base = roots.get(name.split(".")[0])
    if base is None:
        return None
    path = base.joinpath(*name.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def imported_modules(path: Path, roots: Mapping[str, Path]) -> set[str]:
    """Names of the project modules `path` imports; `from a import b` counts a.b when b is a
    module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if module_file(n, roots) is not None}


def stage_code(entry: str, roots: Mapping[str, Path]) -> set[Path]:
    """Every project file that `python -m <entry>` runs: the entry and its imports, walked, with
    the `__init__.py` of every package on the way (Python runs those as well)."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
        path = module_file(name, roots)
        if path is None or path in seen:
            continue
        seen.add(path)
        todo.extend(imported_modules(path, roots))
    return seen


def code_digest(entry: str, roots: Mapping[str, Path]) -> str:
    """A digest of the bytes of every file `stage_code(entry, roots)` finds, and of their paths
    relative to their package's root (so a copy of the project elsewhere has the same digest)."""
    files = stage_code(entry, roots)
    bases = {path: next(r for r in roots.values() if r in path.parents) for path in files}
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(bases[p]).as_posix()):
        digest.update(path.relative_to(bases[path]).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
