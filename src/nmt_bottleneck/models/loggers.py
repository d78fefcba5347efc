"""Experiment loggers from the `logger` config: W&B (offline unless told otherwise) or CSV.

W&B runs are named after the variant id and grouped by experiment, and get the variant's
resolved config; their files go under `logs/` (not a DVC output, so a restarted stage can
continue the same run). W&B gets that folder as an absolute path: a process started from one
that already runs W&B (a notebook, a test) joins its W&B service (WANDB_SERVICE), and the
service writes the run's data file relative to its own working directory, not the stage's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger

from nmt_bottleneck.errors import ConfigError

KINDS = ("wandb", "csv")


def experiment_group(data_name: str, profile: str) -> str:
    """The W&B group of the DVC pipeline's runs (training and report): `<data.name>-<profile>`."""
    return f"{data_name}-{profile}"


def make_logger(
    kind: Literal["wandb", "csv"],
    project: str,
    mode: Literal["offline", "online"],
    run: str,
    group: str,
    config: dict[str, Any],
    save_dir: Path,
    run_id: str | None = None,
) -> Logger:
    """`run`: the variant id; `group`: the experiment; `run_id` continues an earlier W&B run."""
    if kind not in KINDS:
        raise ConfigError(f"logger.kind = {kind!r}; valid options: {', '.join(KINDS)}.")
    if mode not in ("offline", "online"):
        raise ConfigError(f"logger.mode = {mode!r}; valid options: offline, online.")
    save_dir = save_dir.absolute()  # see the module docstring
    save_dir.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        return CSVLogger(save_dir=str(save_dir / "csv"), name=run)
    logger = WandbLogger(
        name=run,
        project=project,
        group=group,
        save_dir=str(save_dir),
        offline=mode == "offline",
        id=run_id,
        resume="allow" if run_id else None,
    )
    # Lightning passes `anonymous=None` to wandb.init, and W&B warns about any value of that
    # deprecated setting ("The anonymous setting has no effect") on every run: leave it out.
    logger._wandb_init.pop("anonymous", None)
    logger.log_hyperparams(config)
    return logger
