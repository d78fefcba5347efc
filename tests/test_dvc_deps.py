"""dvc.yaml lists every project module a stage runs, so changing one re-runs that stage.

A stage's code is the module in its `python -m pipelines.<name>` command and every project
module that module imports, directly or further down (found with `ast`, imports inside
functions included: nmt_bottleneck/code_digest.py walks them). A module missing from `deps` is
a stage that DVC calls up to date while its code has changed: its outputs would silently belong
to older code.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from nmt_bottleneck import code_digest
from nmt_bottleneck.training.fit import TRAINING_KEYS
from tests.helpers import ROOT

PACKAGES = {"nmt_bottleneck": ROOT / "src", "pipelines": ROOT}


def module_file(name: str) -> Path | None:
    return code_digest.module_file(name, PACKAGES)


def stage_code(entry: str) -> set[Path]:
    """Every project file that `python -m <entry>` runs (the walk the train stage's run
    fingerprint hashes: nmt_bottleneck/code_digest.py)."""
    return code_digest.stage_code(entry, PACKAGES)


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


def variant_targets() -> set[str]:
    """The project modules params.yaml's variants name by `_target_` (built by name: no import
    reaches them, yet a stage over `${variants}` runs them)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    return code_digest.target_modules(code_digest.config_targets(params["variants"]), PACKAGES)


def stages() -> dict[str, dict]:  # a foreach stage's `do`, a matrix stage as it is
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: stage.get("do", stage) for name, stage in spec.items()}


@pytest.mark.parametrize("name", sorted(stages()))
def test_every_module_a_stage_runs_is_a_dependency(name):
    stage = stages()[name]
    entry = re.search(r"python -m (\S+)", stage["cmd"]).group(1)
    code = stage_code(entry)
    if "${key}" in stage["cmd"]:  # one stage per variant: it builds the variant's classes
        code |= code_digest.stage_code(entry, PACKAGES, also=variant_targets())
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


def test_the_code_digest_changes_with_any_file_the_stage_runs_and_only_those(tmp_path):
    """The train stage's run fingerprint holds this digest: a copy of the project gives the
    same digest; changing one byte of a module the stage imports changes it; changing a module
    it does not import does not."""
    for name in ("src", "pipelines"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    roots = {"nmt_bottleneck": tmp_path / "src", "pipelines": tmp_path}
    original = code_digest.code_digest("pipelines.train", roots)
    assert original == code_digest.code_digest("pipelines.train", PACKAGES)
    runs = code_digest.stage_code("pipelines.train", roots)
    decoder = tmp_path / "src/nmt_bottleneck/models/decoder.py"
    unused = tmp_path / "src/nmt_bottleneck/report/markdown.py"
    assert decoder in runs and unused not in runs
    unused.write_text(unused.read_text() + "\n# changed\n")
    assert code_digest.code_digest("pipelines.train", roots) == original
    decoder.write_text(decoder.read_text() + "\n# changed\n")
    assert code_digest.code_digest("pipelines.train", roots) != original


def test_the_train_stage_declares_what_changes_the_weights_and_no_logging_setting():
    """Switching `logger=csv` (or the W&B project, or the group's profile name) must not
    re-train a model: the weights do not depend on them. Everything the run's fingerprint
    holds from params.yaml (models/resume.py: the variant's training keys, train, trainer, the
    seed) is declared, the seed through the command (one stage per seed); what only the report
    shows (a variant's `label`, `paper`) is not: relabelling a curve re-trains nothing."""
    stage = stages()["train"]
    params = set(stage["params"])
    assert not {"logger", "profile", "data.name", "seed", "seeds"} & params
    variant = "variants.${item.variant}"
    assert {f"{variant}.{key}" for key in TRAINING_KEYS} | {"train", "trainer"} <= params
    assert not {variant, f"{variant}.label", f"{variant}.paper"} & params
    assert "--seed ${item.seed}" in stage["cmd"]
    assert stage["matrix"] == {"variant": "${variants}", "seed": "${seeds}"}


def test_the_walk_reaches_classes_config_names_by_target(tmp_path, monkeypatch):
    """A `_target_` names a class no import reaches: its module and that module's imports are
    walked and digested from the config; a target outside the project is not walked."""
    pkg = tmp_path / "pipelines"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""doc"""\n')
    (pkg / "entry.py").write_text("import os\n")
    (pkg / "luong.py").write_text("from pipelines import scores\n\n\nclass Luong:\n    pass\n")
    (pkg / "scores.py").write_text("SCALE = 1\n")
    monkeypatch.setitem(PACKAGES, "pipelines", tmp_path)
    cfg = OmegaConf.create(
        {
            "arch": {"context": {"_target_": "pipelines.luong.Luong"}},
            "x": [{"_target_": "os.path.join"}],
        }
    )
    assert code_digest.config_targets(cfg) == {"pipelines.luong.Luong", "os.path.join"}
    modules = code_digest.target_modules(code_digest.config_targets(cfg), PACKAGES)
    assert modules == {"pipelines.luong"}
    assert {p.name for p in stage_code("pipelines.entry")} == {"__init__.py", "entry.py"}
    also = code_digest.stage_code("pipelines.entry", PACKAGES, also=modules)
    assert {p.name for p in also} == {"__init__.py", "entry.py", "luong.py", "scores.py"}
    before = code_digest.config_code_digest(cfg, PACKAGES)
    (pkg / "entry.py").write_text("import sys\n")  # not reached from the config
    assert code_digest.config_code_digest(cfg, PACKAGES) == before
    (pkg / "scores.py").write_text("SCALE = 2\n")
    assert code_digest.config_code_digest(cfg, PACKAGES) != before
