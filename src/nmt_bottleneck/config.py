"""Building objects from config: Hydra `_target_` with explicit typed constructor arguments, so
a misspelled key fails and names the valid ones instead of vanishing into `**kwargs`."""

from __future__ import annotations

import inspect
from collections.abc import Collection, Iterable, Mapping
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
    check_arguments(cfg, cls, key, given=derived)
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    del kwargs["_target_"]
    return cls(**kwargs, **derived)


def check_arguments(
    cfg: DictConfig | Mapping[str, Any], cls: type, key: str, given: Collection[str] = ()
) -> None:
    """Check `cfg` as the keyword arguments of `cls`, whose `given` arguments the code passes
    (and a `_target_` that names it, where `cfg` has one): no unknown key, so a misspelling
    fails, and none missing that has no default. `key`: the node's dotted path."""
    params = inspect.signature(cls).parameters
    valid = [p for p in params if p not in given]
    check_keys(cfg, [*valid, "_target_"] if "_target_" in cfg else valid, key)
    missing = [p for p in valid if params[p].default is inspect.Parameter.empty and p not in cfg]
    if missing:
        target = cfg.get("_target_") or f"{cls.__module__}.{cls.__qualname__}"
        raise ConfigError(
            f"{key} is missing {', '.join(missing)} (needed by {target}). Fix: "
            f"add it to the config file in conf/ that defines {key}."
        )


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
