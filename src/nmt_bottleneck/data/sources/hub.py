"""A parallel corpus read through Hugging Face `datasets`: a Hub dataset such as `wmt/wmt14`
(config `fr-en`), or local parquet/json files given as `data_files` (same code path).

Rows hold a `translation` dict keyed by language code (the `datasets` translation convention).
Splits are streamed, so a training subsample of N pairs reads about N/shards rows from each
shard, not all 40M WMT'14 pairs: each shard is shuffled with a seeded buffer and the shards are
taken from in turn, so every part of the corpus is represented. Each pair keeps its origin
(`shard` index and `line`, the row within that shard).
Before streaming from the Hub, a metadata request with a short timeout checks that the Hub is
reachable and resolves the revision to a commit, which the manifest records.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from typing import Any

import datasets
from tqdm.auto import tqdm

from nmt_bottleneck.data.corpus import Corpus, pairs_to_split
from nmt_bottleneck.errors import DataError, HubUnreachableError

log = logging.getLogger(__name__)
OFFLINE_HINT = (
    "This machine may be offline. Fix: use local files with `data=hansard_enfr` (see README, "
    "'Corpora') or the generated `data=synthetic`; or copy the dataset's parquet files here and "
    "set data.source.path=parquet and data.source.data_files (same code path, no network)."
)


class HubSource:
    """Sentence pairs from `datasets.load_dataset(path, name, revision, data_files, streaming)`.

    Args:
        path: a Hub dataset id ("wmt/wmt14") or a `datasets` builder ("parquet", "json").
        name: the dataset config ("fr-en"), or None.
        revision: the Hub commit (or tag/branch) to read; ignored for local builders.
        src_lang, tgt_lang: keys of the `translation` dict for the two sides.
        splits: output split name -> split name in the dataset, e.g. {"valid": "validation"}.
        data_files: split name -> files, for local builders; None for Hub datasets.
        train_size: pairs to keep from the `train` output split (seeded shuffle); None keeps all.
        seed: shuffle seed for the training subsample.
        shuffle_buffer: rows buffered per shard by the streaming shuffle.
        timeout_s: seconds to wait for the Hub before failing.
    """

    def __init__(
        self,
        path: str,
        name: str | None,
        revision: str | None,
        src_lang: str,
        tgt_lang: str,
        splits: dict[str, str],
        data_files: dict[str, list[str]] | None,
        train_size: int | None,
        seed: int,
        shuffle_buffer: int,
        timeout_s: float,
    ) -> None:
        if train_size is not None and train_size <= 0:
            raise DataError(f"data.source.train_size must be > 0 or null, got {train_size}.")
        if "train" not in splits:
            raise DataError(f"data.source.splits must name a `train` split, got {dict(splits)}.")
        if shuffle_buffer < 1 or timeout_s <= 0:
            raise DataError(
                f"data.source.shuffle_buffer ({shuffle_buffer}) must be >= 1 and "
                f"data.source.timeout_s ({timeout_s}) > 0. Fix: conf/data/."
            )
        self.path, self.name, self.revision = path, name, revision
        self.src_lang, self.tgt_lang = src_lang, tgt_lang
        self.splits = dict(splits)
        self.data_files = {k: list(v) for k, v in data_files.items()} if data_files else None
        self.train_size, self.seed = train_size, seed
        self.shuffle_buffer, self.timeout_s = shuffle_buffer, timeout_s

    @property
    def on_hub(self) -> bool:
        return self.data_files is None

    def load(self) -> Corpus:
        resolved = self.check_hub() if self.on_hub else None
        revision = (resolved or self.revision) if self.on_hub else None
        loaded, dropped = {}, {}
        for split, hub_split in self.splits.items():
            limit = self.train_size if split == "train" else None
            src, tgt, shard, row = self.read_split(hub_split, limit, revision)
            where = f"{self.path}:{self.name or ''}[{hub_split}]"
            loaded[split], dropped[split] = pairs_to_split(src, tgt, row, where, shards=shard)
        provenance: dict[str, Any] = {
            "type": "hub",
            "path": self.path,
            "name": self.name,
            "revision": self.revision,
            "resolved_commit": resolved,
            "data_files": self.data_files,
            "train_size": self.train_size,
            "seed": self.seed,
            "shuffle_buffer": self.shuffle_buffer,
        }
        return Corpus(datasets.DatasetDict(loaded), dropped, provenance)

    def check_hub(self) -> str | None:
        """Resolve the revision to a commit sha (the data is then streamed from that commit),
        failing within `timeout_s` if the Hub is unreachable."""
        from huggingface_hub import HfApi
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

        try:
            info = HfApi().dataset_info(self.path, revision=self.revision, timeout=self.timeout_s)
        except RevisionNotFoundError:
            raise DataError(
                f"Hugging Face dataset {self.path!r} has no revision {self.revision!r}. "
                "Fix: set data.source.revision to an existing commit, tag or branch."
            ) from None
        except RepositoryNotFoundError:
            raise DataError(
                f"Hugging Face dataset {self.path!r} not found. Fix: check data.source.path."
            ) from None
        except Exception as e:  # any transport failure: DNS, refused, timeout, proxy
            raise HubUnreachableError(
                f"cannot reach the Hugging Face Hub for {self.path!r} "
                f"({type(e).__name__}: {e}). {OFFLINE_HINT}"
            ) from None
        if info.sha and not re.fullmatch(r"[0-9a-f]{40}", self.revision or ""):
            log.warning(
                "data.source.revision %r is not a commit: it resolved to %s today. Set "
                "data.source.revision: %s to pin the data.",
                self.revision,
                info.sha,
                info.sha,
            )
        return info.sha

    def read_split(
        self, hub_split: str, limit: int | None, revision: str | None
    ) -> tuple[list[str], list[str], list[int], list[int]]:
        """Stream one split: every row, or with `limit` a seeded sample drawn evenly from all
        shards. Returns (src, tgt, shard, row) with each pair's origin: its shard (data file)
        index and 1-based row within that shard."""
        stream = self.open_stream(hub_split, revision)
        shards = [tagged(stream.shard(stream.num_shards, i), i) for i in range(stream.num_shards)]
        if limit is None:
            rows = chain.from_iterable(shards)
        else:
            # Hub parquet shards keep the corpus's order (WMT'14: CommonCrawl, Europarl,
            # Giga-fren, News Commentary, UN), so a sample must come from every shard:
            # shuffle each shard through a seeded buffer, then take from all in turn.
            rng = random.Random(self.seed)
            parts = [buffer_shuffle(part, rng, self.shuffle_buffer) for part in shards]
            rows = islice(round_robin(parts), limit)
        src, tgt, shard, row_no = [], [], [], []
        try:
            for row in tqdm(rows, total=limit, desc=f"read {hub_split}", unit=" pairs"):
                pair = row["translation"]
                src.append(pair[self.src_lang] or "")
                tgt.append(pair[self.tgt_lang] or "")
                shard.append(row["_shard"])
                row_no.append(row["_row"])
        except (KeyError, TypeError) as e:
            raise DataError(
                f"{self.path}[{hub_split}]: rows need a `translation` dict with keys "
                f"{self.src_lang!r} and {self.tgt_lang!r}; missing {e}. Fix: check "
                "data.src_lang / data.tgt_lang, or convert the files to that layout."
            ) from None
        except Exception as e:  # transport errors (httpx), or a broken local file
            raise self.read_error(hub_split, e) from None
        return src, tgt, shard, row_no

    def open_stream(self, hub_split: str, revision: str | None) -> datasets.IterableDataset:
        try:
            return datasets.load_dataset(
                self.path,
                self.name,
                revision=revision,
                data_files=self.data_files,
                split=hub_split,
                streaming=True,
            )
        except (FileNotFoundError, ValueError) as e:
            raise DataError(
                f"{self.path}: cannot open split {hub_split!r} ({e}). Fix: check "
                "data.source.splits and data.source.data_files."
            ) from None
        except Exception as e:
            raise self.read_error(hub_split, e) from None

    def read_error(self, hub_split: str, e: Exception) -> DataError:
        if self.on_hub:
            return HubUnreachableError(
                f"lost the Hugging Face Hub while reading {self.path}[{hub_split}] "
                f"({type(e).__name__}: {e}). {OFFLINE_HINT}"
            )
        return DataError(
            f"cannot read {self.path} files for split {hub_split!r} ({type(e).__name__}: {e}). "
            "Fix: check data.source.data_files."
        )


def tagged(rows: Iterable[dict], shard: int) -> Iterator[dict]:
    """Tag each row with where it came from: its shard and 1-based row within the shard."""
    for index, row in enumerate(rows, 1):
        yield {**row, "_shard": shard, "_row": index}


def buffer_shuffle(rows: Iterable[dict], rng: random.Random, size: int) -> Iterator[dict]:
    """A streaming shuffle: keep `size` rows, emit a random one as each new row arrives."""
    buffer: list[dict] = []
    for row in rows:
        if len(buffer) < size:
            buffer.append(row)
            continue
        i = rng.randrange(size)
        yield buffer[i]
        buffer[i] = row
    rng.shuffle(buffer)
    yield from buffer


def round_robin(iterators: list[Iterator[dict]]) -> Iterator[dict]:
    """One item from each iterator in turn, dropping each when it is exhausted."""
    active = list(iterators)
    while active:
        for it in list(active):
            item = next(it, None)
            if item is None:
                active.remove(it)
            else:
                yield item
