"""A second committed experiment beside the main pipeline: the same `dvc.yaml`, another
composition of `conf/` (e.g. `experiment=cpu_seeds`: RNNencdec-50 and RNNsearch-50 with three
seeds each), its results kept under `reports/<name>/`.

`run_experiment` checks out the committed code (HEAD) in a git worktree of its own,
`.experiments/<name>/` (git-ignored), links the corpora, composes its params.yaml, and runs
`dvc repro` there (through pipelines/repro.py: stages that do not need each other side by side)
with this repository's DVC cache, so a stage it shares with the main pipeline (same command,
code, data and params: the seed-1234 trainings) is restored from DVC's run cache, not trained
again. It then copies that worktree's `reports/` (but the plot templates), its
`params.yaml` and `dvc.lock` into `reports/<name>/`: what the experiment computed and exactly
how, for `git add`. The experiment's `dvc.lock` is written afresh (the committed one, the main
run's, is removed first), and only the outputs it lists under `reports/` are copied: the
worktree starts from the committed reports of the main run, whose other files (a variant or seed
the experiment does not train, `reports/<name>/` itself) are not its results.
Nothing is copied when `dvc repro` fails, and the copy replaces the folder as a whole
(`atomic_dir`), so `reports/<name>/` is always one run's.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from nmt_bottleneck.atomic import atomic_dir
from nmt_bottleneck.errors import ConfigError, NmtBottleneckError

log = logging.getLogger(__name__)
WORKTREES = ".experiments"
KEPT = ("params.yaml", "dvc.lock")  # how the copied reports were made


def run_experiment(name: str, overrides: Sequence[str], root: Path) -> Path:
    """Run the experiment `name` composed with Hydra `overrides` on the committed code of the
    repository at `root`; returns `root/reports/<name>/`, which now holds its results."""
    if not name.isidentifier():
        raise ConfigError(f"experiment name {name!r}: use letters, digits and _ (a folder name).")
    root = root.resolve()
    work = root / WORKTREES / name
    checkout(root, work)
    corpora = root / "corpora"
    link = work / "corpora"
    if corpora.exists() and not link.exists():
        link.symlink_to(corpora.resolve(), target_is_directory=True)
    command(["dvc", "config", "--local", "cache.dir", str(root / ".dvc" / "cache")], work)
    command([sys.executable, "-m", "pipelines.compose_params", *overrides], work)
    # The committed dvc.lock is the main run's: its entries for stages this composition lacks
    # would stay in the experiment's lock (and their files would look like its results). Without
    # it, every stage runs or is restored from the run cache, and the lock is the experiment's.
    (work / "dvc.lock").unlink(missing_ok=True)
    command([sys.executable, "-m", "pipelines.repro"], work)  # dvc repro, side by side
    out = root / "reports" / name
    with atomic_dir(out) as tmp:
        for path in report_outputs(work / "dvc.lock"):
            target = tmp / Path(path).relative_to("reports")
            target.parent.mkdir(parents=True, exist_ok=True)
            if (work / path).is_dir():
                shutil.copytree(work / path, target)
            else:
                shutil.copy2(work / path, target)
        for kept in KEPT:
            shutil.copy2(work / kept, tmp / kept)
    log.info("%s: results in %s (commit them with the code they came from)", name, out)
    return out


def checkout(root: Path, work: Path) -> None:
    """`work` as a git worktree of `root` at its HEAD commit (made, or moved there; the DVC
    outputs a previous run left in it stay, so finished stages are not run again)."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    if (work / ".git").exists():
        command(["git", "checkout", "--detach", "--force", head], work)
    else:
        work.parent.mkdir(parents=True, exist_ok=True)
        command(["git", "worktree", "add", "--detach", "--force", str(work), head], root)


def report_outputs(lock: Path) -> list[str]:
    """The outputs under reports/ of every stage in `lock` (a dvc.lock), sorted."""
    stages = yaml.safe_load(lock.read_text(encoding="utf-8"))["stages"]
    paths = {
        out["path"]
        for stage in stages.values()
        for out in stage.get("outs", [])
        if out["path"].startswith("reports/")
    }
    return sorted(paths)


def command(argv: list[str], cwd: Path) -> None:
    """Run `argv` in `cwd`, its output to ours; a failure names the command and the folder."""
    log.info("%s$ %s", cwd, " ".join(argv))
    done = subprocess.run(argv, cwd=cwd)
    if done.returncode != 0:
        raise NmtBottleneckError(
            f"`{' '.join(argv)}` failed in {cwd} (exit {done.returncode}); nothing was copied. "
            "Fix what it printed above and run the experiment again: finished stages are kept."
        )
