"""DVC stage `download`: read the configured corpus (`data.source`) through its source and write
it as a DatasetDict (`--out`) plus a manifest of provenance and counts (`--manifest`)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.config import build, check_keys
from nmt_bottleneck.data.corpus import manifest_of, save_corpus
from pipelines.stage import load_params, run

log = logging.getLogger("nmt_bottleneck.download")
DATA_KEYS = "name src_lang tgt_lang input source min_len max_len test_sets novel_views".split()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, required=True, help="DatasetDict folder to write")
    parser.add_argument("--manifest", type=Path, required=True, help="manifest JSON to write")
    args = parser.parse_args(argv)

    data = load_params(args.params).data
    check_keys(data, DATA_KEYS, "data")
    source = build(data.source, "data.source")
    log.info("reading %s with %s", data.name, type(source).__name__)
    corpus = source.load()
    manifest = manifest_of(corpus, data.name, data.src_lang, data.tgt_lang)
    save_corpus(corpus, args.out, manifest, args.manifest)
    for split, facts in manifest["splits"].items():
        log.info("%s: %d pairs (dropped %s)", split, facts["pairs"], facts["dropped"])
    log.info("wrote %s and %s", args.out, args.manifest)


if __name__ == "__main__":
    run(main)
