"""DVC stage `download`: read the configured corpus (`data.source`) through its source and write
it as a DatasetDict (`--out`) plus a manifest of provenance and counts (`--manifest`)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.data.corpus import save_corpus
from nmt_bottleneck.data.download import download_corpus
from pipelines.stage import load_params, run

log = logging.getLogger("nmt_bottleneck.download")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, required=True, help="DatasetDict folder to write")
    parser.add_argument("--manifest", type=Path, required=True, help="manifest JSON to write")
    args = parser.parse_args(argv)

    downloaded = download_corpus(load_params(args.params).data)
    save_corpus(downloaded.corpus, args.out, downloaded.manifest, args.manifest)
    log.info("wrote %s and %s", args.out, args.manifest)


if __name__ == "__main__":
    run(main)
