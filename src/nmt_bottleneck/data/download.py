"""The download stage's work: read the configured corpus (`data.source`) through its source and
describe it in a manifest (provenance and counts). Writing both is `corpus.save_corpus`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

from omegaconf import DictConfig

from nmt_bottleneck.config import build, check_keys
from nmt_bottleneck.data.corpus import Corpus, manifest_of

log = logging.getLogger(__name__)
DATA_KEYS = (
    *("name", "src_lang", "tgt_lang", "input", "source"),
    *("min_len", "max_len", "test_sets", "novel_views"),
)


class DownloadedCorpus(NamedTuple):
    """A corpus as read, and its manifest (`corpus.manifest_of`)."""

    corpus: Corpus
    manifest: dict[str, Any]


def download_corpus(data: DictConfig | Mapping[str, Any]) -> DownloadedCorpus:
    """Read the corpus that `data` (the `data` node of the composed config) describes.

    Raises ConfigError for an unknown key of `data` or `data.source`, DataError (naming the file,
    line or setting, and the fix) for input that cannot be read."""
    check_keys(data, DATA_KEYS, "data")
    source = build(data["source"], "data.source")
    log.info("reading %s with %s", data["name"], type(source).__name__)
    corpus = source.load()
    manifest = manifest_of(corpus, data["name"], data["src_lang"], data["tgt_lang"])
    for split, facts in manifest["splits"].items():
        log.info("%s: %d pairs (dropped %s)", split, facts["pairs"], facts["dropped"])
    return DownloadedCorpus(corpus, manifest)
