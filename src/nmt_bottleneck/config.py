"""Building objects from config: Hydra `_target_` with explicit typed constructor arguments, so
a misspelled key fails and names the valid ones instead of vanishing into `**kwargs`."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.errors import ConfigError


def build(
    node: DictConfig | Mapping[str, Any], key: str, derived: Mapping[str, Any] | None = None
) -> Any:
    """Construct `node`'s `_target_` class with `node`'s other keys as keyword arguments, after
    checking them against the constructor. `key` is the node's dotted path, for messages.
    `derived`: values computed in code (sizes that follow from other sizes), passed to the
    constructor when it takes them; a config must not set them itself.

    The class is called directly (not through `hydra.utils.instantiate`, which would wrap the
    constructor's own ConfigError/DataError in a traceback-laden InstantiationException).
    """
    cfg = node if isinstance(node, DictConfig) else OmegaConf.create(dict(node))
    target = cfg.get("_target_")
    if not target:
        raise ConfigError(f"{key} has no `_target_`. Fix: name the class to build.")
    try:
        cls = get_class(target)
    except Exception as e:
        raise ConfigError(
            f"{key}._target_ = {target!r} cannot be imported ({e}). Fix: use a "
            "class path under nmt_bottleneck."
        ) from None
    params = inspect.signature(cls).parameters
    derived = {k: v for k, v in (derived or {}).items() if k in params}
    check_keys(cfg, [*(p for p in params if p not in derived), "_target_"], key)
    missing = [
        p
        for p, v in params.items()
        if v.default is inspect.Parameter.empty and p not in cfg and p not in derived
    ]
    if missing:
        raise ConfigError(
            f"{key} is missing {', '.join(missing)} (needed by {target}). Fix: "
            f"add it to the config file in conf/ that defines {key}."
        )
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    del kwargs["_target_"]
    return cls(**kwargs, **derived)


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
