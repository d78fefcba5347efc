"""Compose conf/ into params.yaml exactly as `dvc exp run` does (DVC's own Hydra composition),
so plain `dvc repro` and `dvc exp run` see the same file. `make params` runs this.

    python -m pipelines.compose_params [override ...]   e.g. data=hansard_enfr data.max_len=30
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

from dvc.utils.hydra import compose_and_dump
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.errors import ConfigError
from pipelines.stage import run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. data=hansard_enfr")
    parser.add_argument("--conf", type=Path, default=Path("conf"))
    parser.add_argument("--out", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    conf_dir = str(args.conf.resolve())
    try:
        compose_and_dump(args.out, conf_dir, None, "config", "", args.overrides)
    except HydraException as e:
        raise ConfigError(explain(e, conf_dir, args.overrides)) from None


def explain(error: HydraException, conf_dir: str, overrides: list[str]) -> str:
    """Hydra's message without its search-path dump; for an unknown key, the valid keys."""
    message = str(error).split("Config search path:")[0].strip()
    unknown = re.search(r"Could not override '([^']+)'", message)
    if unknown:
        parent, _, _leaf = unknown.group(1).rpartition(".")
        others = [o for o in overrides if not o.lstrip("+~").startswith(unknown.group(1))]
        with initialize_config_dir(conf_dir, version_base=None):
            node = compose(config_name="config", overrides=others)
        node = OmegaConf.select(node, parent) if parent else node
        if isinstance(node, DictConfig):
            message = (
                f"unknown key {unknown.group(1)!r}; valid keys of {parent or 'the root'}: "
                f"{', '.join(map(str, node.keys()))}."
            )
    return f"cannot compose conf/ with {overrides}: {message} Fix: use one of the valid names."


if __name__ == "__main__":
    run(main)
