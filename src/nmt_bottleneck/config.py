"""Building objects from config: Hydra `_target_` with explicit typed constructor arguments, so
a misspelled key fails and names the valid ones instead of vanishing into `**kwargs`."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.errors import ConfigError


def build(node: DictConfig | Mapping[str, Any], key: str) -> Any:
    """Instantiate `node` (a config with `_target_`) after checking its keys against the
    target's constructor. `key` is the node's dotted path, used in error messages."""
    cfg = node if isinstance(node, DictConfig) else OmegaConf.create(dict(node))
    target = cfg.get("_target_")
    if not target:
        raise ConfigError(f"{key} has no `_target_`: it must name the class to build.")
    try:
        cls = get_class(target)
    except Exception as e:
        raise ConfigError(f"{key}._target_ = {target!r} cannot be imported ({e}).") from None
    params = inspect.signature(cls).parameters
    check_keys(cfg, [*params, "_target_"], key)
    missing = [
        p for p, v in params.items() if v.default is inspect.Parameter.empty and p not in cfg
    ]
    if missing:
        raise ConfigError(
            f"{key} is missing {', '.join(missing)} (needed by {target}). Fix: "
            "add it to the config file in conf/ that defines " + key + "."
        )
    return instantiate(cfg, _convert_="all")


def check_keys(cfg: DictConfig | Mapping[str, Any], valid: Iterable[str], key: str) -> None:
    """Raise ConfigError naming any key of `cfg` not in `valid`, and listing the valid ones."""
    valid = list(valid)
    unknown = [k for k in cfg if k not in valid]
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(f'{key}.{k}' for k in unknown)}; valid keys of {key}: "
            f"{', '.join(v for v in valid if v != '_target_')}. Fix: correct the spelling in conf/ "
            "(or your -S override) and recompose params.yaml."
        )
