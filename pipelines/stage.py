"""What every stage entry shares: logging, reading params.yaml, turning the library's input
errors into one readable line and exit status 1 (no traceback for a user's mistake), and a W&B
service of its own.

A stage started from a process that runs W&B (a notebook, a test) inherits WANDB_SERVICE and
would log through that process's W&B service. If the stage is then killed, its run stays open
in that service, and the restarted stage, which continues the same run id, is refused ("run ID
... is in use"). So a stage drops the variable and W&B starts a service for it alone.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.errors import NmtBottleneckError

log = logging.getLogger("nmt_bottleneck")


def load_params(path: Path) -> DictConfig:
    """The composed parameters (params.yaml). A missing file names the command that makes it."""
    path = Path(path)
    if not path.is_file():
        raise NmtBottleneckError(
            f"{path}: not found. Fix: run `make params` to compose it from conf/."
        )
    return OmegaConf.load(path)


def own_wandb_service() -> None:
    """Make this process start a W&B service of its own (module docstring). For the entry of a
    process: it changes this process's environment."""
    os.environ.pop("WANDB_SERVICE", None)


def run(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None) -> None:
    """Run a stage's `main`; exit 1 with the message alone on an input or config error."""
    own_wandb_service()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"
    )
    try:
        main(argv)
    except NmtBottleneckError as e:
        log.error("%s", e)
        sys.exit(1)
