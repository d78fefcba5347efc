"""The code a command runs, found by walking its imports, and a digest of those files' bytes.

A command's code is its entry module (`python -m <entry>`) and every project module that module
imports, directly or further down (found with `ast`, so imports inside functions count too). The
project is the top-level packages in `roots` (name -> the folder that holds it). Two uses:
- dvc.yaml must list every such file among a stage's deps (tests/test_dvc_deps.py), or DVC calls
  the stage up to date while its code has changed;
- a training run's fingerprint holds the digest of its files (models/resume.py), so a restarted
  run never continues the weights that older code trained.
Config builds some classes by name (`_target_`, nmt_bottleneck.config.build), which no import
names: `config_targets` collects them, and `stage_code`/`code_digest` walk from those modules
too (`also`), so a context module in a new file is part of the code. A `_target_` outside the
project's packages (an installed library's class) is the environment's, not walked.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


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


def config_targets(cfg: DictConfig | ListConfig | Mapping | list | Any) -> set[str]:
    """Every `_target_` string in `cfg` (a config, or plain dicts and lists), at any depth."""
    if isinstance(cfg, DictConfig | ListConfig):
        cfg = OmegaConf.to_container(cfg)
    if isinstance(cfg, Mapping):
        found = {cfg["_target_"]} if isinstance(cfg.get("_target_"), str) else set()
        return found.union(*(config_targets(v) for v in cfg.values()))
    if isinstance(cfg, list):
        return set().union(*(config_targets(v) for v in cfg))
    return set()


def target_modules(targets: Iterable[str], roots: Mapping[str, Path]) -> set[str]:
    """The project modules that define `targets` (`pkg.module.Class` -> `pkg.module`; a target
    that is itself a module counts as one). Targets outside the project are left out."""
    modules = set()
    for target in targets:
        parts = target.split(".")
        for end in range(len(parts), 0, -1):
            if module_file(".".join(parts[:end]), roots) is not None:
                modules.add(".".join(parts[:end]))
                break
    return modules


def stage_code(entry: str, roots: Mapping[str, Path], also: Iterable[str] = ()) -> set[Path]:
    """Every project file that `python -m <entry>` runs: the entry and its imports, walked, with
    the `__init__.py` of every package on the way (Python runs those as well); and from the
    modules `also` (e.g. `target_modules` of a config) as from the entry."""
    return walk([entry, *also], roots)


def walk(modules: Iterable[str], roots: Mapping[str, Path]) -> set[Path]:
    """The project files of `modules` and of everything they import, walked (`stage_code`)."""
    seen: set[Path] = set()
    todo = list(modules)
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


def code_digest(entry: str, roots: Mapping[str, Path], also: Iterable[str] = ()) -> str:
    """A digest of the bytes of every file `stage_code(entry, roots, also)` finds, and of their
    paths relative to their package's root (so a copy of the project elsewhere has the same
    digest)."""
    return files_digest(stage_code(entry, roots, also), roots)


def config_code_digest(cfg: Any, roots: Mapping[str, Path]) -> str:
    """A digest of the project code that `cfg`'s `_target_`s reach (the modules defining them
    and what those import): the code config builds by name, which no import walk finds."""
    return files_digest(walk(target_modules(config_targets(cfg), roots), roots), roots)


def files_digest(files: set[Path], roots: Mapping[str, Path]) -> str:
    """A digest of `files`' bytes and paths relative to their package's root."""
    bases = {path: next(r for r in roots.values() if r in path.parents) for path in files}
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(bases[p]).as_posix()):
        digest.update(path.relative_to(bases[path]).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
