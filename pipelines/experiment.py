"""Run a second committed experiment on the committed code, in its own git worktree
(`.experiments/<name>/`), and copy its results, params.yaml and dvc.lock to `reports/<name>/`
(nmt_bottleneck.experiments.run_experiment). `make repro-seeds` runs:

    python -m pipelines.experiment seeds experiment=cpu_seeds
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.experiments import run_experiment
from pipelines.stage import run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", help="the results' folder under reports/, e.g. seeds")
    parser.add_argument("overrides", nargs="+", help="Hydra overrides, e.g. experiment=cpu_seeds")
    parser.add_argument("--root", type=Path, default=Path("."), help="the project's checkout")
    args = parser.parse_args(argv)
    run_experiment(args.name, args.overrides, args.root)


if __name__ == "__main__":
    run(main)
