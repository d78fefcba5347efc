"""Tokenized data shared by the jobs of a sweep: `<cache>/<key>`, made once per (corpus, data
settings, tokenizer settings) and reused by every job with the same key.

Jobs of a parallel launcher (SLURM) may ask for the same key at once. A lock file per key
(`<cache>/<key>.lock`, `fcntl.flock`, released by the system when its holder dies) lets one job
tokenize while the others wait; the folder is written as a temporary sibling and renamed into
place (`nmt_bottleneck.atomic`), so `<cache>/<key>` is complete whenever it exists, and the
leftovers of a killed job are swept by the next one to take the lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.atomic import atomic_dir
from nmt_bottleneck.config import build
from nmt_bottleneck.data.corpus import load_corpus, split_fingerprint
from nmt_bottleneck.data.tokenize import save_tokenized, tokenize_corpus
from nmt_bottleneck.errors import ConfigError, DataError

log = logging.getLogger(__name__)
Config = DictConfig | Mapping[str, Any]


class CachedTokenized(NamedTuple):
    """A cache entry: `path` holds `tokenizer/`, `tokenized/`, `stats.json` and `hist.csv`;
    `made` says whether this call tokenized (False: another job had, or was doing it)."""

    path: Path
    made: bool


def corpus_fingerprints(corpus: Path, manifest: Path, data: Config) -> dict[str, str]:
    """The `datasets` fingerprint of each split of `corpus`, after checking that the download
    stage's `manifest` says it holds the data `data` describes: a sweep composing another corpus
    would train on one and name the other."""
    corpus, manifest = Path(corpus), Path(manifest)
    if not (corpus / "dataset_dict.json").is_file() or not manifest.is_file():
        raise DataError(
            f"{corpus} or {manifest}: missing; the sweep jobs share the download stage's "
            "corpus. Fix: run `dvc repro download` first."
        )
    facts = json.loads(manifest.read_text())
    held = (facts["data"], facts["src_lang"], facts["tgt_lang"])
    composed = (data["name"], data["src_lang"], data["tgt_lang"])
    if held != composed:
        raise ConfigError(
            f"{corpus} holds {held[0]} ({held[1]}-{held[2]}, says {manifest}), but the "
            f"sweep composes data={composed[0]} ({composed[1]}-{composed[2]}). Fix: add "
            f"data={held[0]} to the sweep, or download that corpus first: set `data` in "
            "conf/config.yaml, then `make params && dvc repro download`."
        )
    splits = json.loads((corpus / "dataset_dict.json").read_text())["splits"]
    return {split: split_fingerprint(corpus, split) for split in splits}


def cache_key(corpus: Path, manifest: Path, data: Config, tokenizer: Config) -> str:
    """What tokenizing depends on: the corpus, the data and the tokenizer settings, hashed."""
    settings = (
        corpus_fingerprints(corpus, manifest, data),
        plain(data),
        plain(tokenizer),
    )
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def tokenized_cache(
    cache: Path, corpus: Path, manifest: Path, data: Config, tokenizer: Config
) -> CachedTokenized:
    """`<cache>/<cache_key>`: tokenized from `corpus` with `data.min_len/max_len` and the
    `tokenizer` node by the first job that asks (under the key's lock), then reused."""
    cache = Path(cache)
    where = cache / cache_key(corpus, manifest, data, tokenizer)
    if complete(where):
        return CachedTokenized(where, made=False)
    cache.mkdir(parents=True, exist_ok=True)
    with held_lock(cache / f"{where.name}.lock"):
        if complete(where):  # another job made it while this one waited
            return CachedTokenized(where, made=False)
        trainer = build(tokenizer, "tokenizer")
        with atomic_dir(where) as tmp:
            (tmp / "tokenizer").mkdir()
            result = tokenize_corpus(
                load_corpus(corpus), data["min_len"], data["max_len"], trainer, tmp / "tokenizer"
            )
            save_tokenized(result, tmp / "tokenized", tmp / "stats.json", tmp / "hist.csv")
    log.info("tokenized into %s", where)
    return CachedTokenized(where, made=True)


def complete(where: Path) -> bool:
    """An entry is renamed into place whole; `stats.json` also marks the complete entries that
    earlier versions wrote in place (they wrote it last)."""
    return (where / "stats.json").is_file()


def plain(node: Config) -> Any:
    """A config node as plain data, interpolations resolved against its own root."""
    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True)
    return OmegaConf.to_container(OmegaConf.create(dict(node)), resolve=True)


@contextmanager
def held_lock(path: Path) -> Iterator[None]:
    """An exclusive `flock` on `path` (created if missing) for the block; waits for it."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
