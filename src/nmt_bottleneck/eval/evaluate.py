"""Evaluate a trained variant: translate every test set named in `data.test_sets` and score it
with sacrebleu (corpus BLEU and chrF; BLEU per source-length bucket with a bootstrap interval;
how much of its best bucket's BLEU the curve keeps in its last).

`evaluate_variant` is the evaluate stage's work (and the sweep's): it writes the hypotheses,
`<out>/<test_set>.hyp` (detokenized, one per line, aligned with the test set's sources in the
corpus), and for a context module that gives attention weights `<out>/attention.json` (a few
long sentences of the first test set, for the report's heatmaps); it returns the `Details`,
whose `metrics()` are the DVC metrics. Each test set named in `data.novel_views` is scored again
as `<set>_novel`, without the sentences whose source repeats a training source up to case,
numbers and punctuation; a view that would leave out no sentence (or every one) is not scored
but named in `Details.skipped_views`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import datasets
import torch
from omegaconf import DictConfig

from nmt_bottleneck.allocator import keep_freed_memory
from nmt_bottleneck.atomic import atomic_dir
from nmt_bottleneck.config import check_keys
from nmt_bottleneck.cores import CoreClaim
from nmt_bottleneck.data.corpus import column, load_corpus
from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.data.near_duplicates import near_duplicates
from nmt_bottleneck.data.tokenizer import Tokenizers, load_tokenizers
from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.eval.bleu import bucket_scores, last_over_best, scores_and_stats
from nmt_bottleneck.eval.buckets import Bucket, merge_small, source_buckets
from nmt_bottleneck.eval.device import decode_device
from nmt_bottleneck.eval.results import AttentionRecord, Details, SetScores, Timing
from nmt_bottleneck.eval.translate import DecodeSettings, Translations, load_model, translate
from nmt_bottleneck.machine import describe
from nmt_bottleneck.models.seq2seq import Seq2Seq

log = logging.getLogger(__name__)

EVAL_KEYS = (
    "decode",
    "bucket_edges",
    "min_bucket",
    "bootstrap_samples",
    "bootstrap_seed",
    "heatmaps",
    "device",
    "threads",
)
HEATMAP_WORDS = (30, 45)  # heatmap sentences: sources of this many words (Figure 3 style)
SkipReason = Literal["no near-duplicates", "all near-duplicates"]


class Skipped(NamedTuple):
    """A `<set>_novel` view that is not scored, and why."""

    reason: SkipReason


def evaluate_variant(
    variant: str,
    data: DictConfig,
    eval_cfg: DictConfig,
    *,
    corpus: Path,
    trained_on: Path,
    tokenizer: Path,
    model: Path,
    out: Path,
    accelerator: str | None = "cpu",
) -> Details:
    """Translate and score the test sets `data.test_sets` of the download stage's `corpus` with
    the model in `model` (models/<variant>/) and the tokenizers in `tokenizer`; `trained_on`: the
    tokenize stage's output, whose train split gives the training sources for the novel views.
    Writes the hypotheses folder `out` atomically; returns the scores. Decodes on the device
    `eval.device` and the trainer's `accelerator` (`trainer.accelerator`) give (eval/device.py),
    with this process's share of the cores (`eval.threads`, nmt_bottleneck.cores)."""
    check_keys(eval_cfg, EVAL_KEYS, "eval")
    settings = DecodeSettings.from_config(eval_cfg.decode)
    device = decode_device(eval_cfg.get("device"), accelerator)
    keep_freed_memory()
    with CoreClaim(eval_cfg.get("threads"), "eval.threads"):
        test_sets, skipped = decode_and_score(
            variant,
            data,
            eval_cfg,
            settings,
            device,
            corpus=corpus,
            trained_on=trained_on,
            tokenizer=tokenizer,
            model=model,
            out=out,
        )
    details = Details(variant, settings, describe(device), test_sets, skipped)
    for name, m in details.metrics().items():
        log.info("%s on %s: BLEU %.2f, chrF %.2f", variant, name, m["bleu"], m["chrf"])
    return details


def decode_and_score(
    variant: str,
    data: DictConfig,
    eval_cfg: DictConfig,
    settings: DecodeSettings,
    device: torch.device,
    *,
    corpus: Path,
    trained_on: Path,
    tokenizer: Path,
    model: Path,
    out: Path,
) -> tuple[dict[str, SetScores], dict[str, str]]:
    """evaluate_variant's work on `device`: the hypotheses folder written, the scores per test
    set (and view), the views skipped."""
    splits = load_corpus(corpus)
    check_test_sets(data, list(splits), corpus)
    views = check_novel_views(data)
    train_sources = column(load_corpus(trained_on)["train"], "src") if views else []
    seq2seq, _ = load_model(model, device)
    tokenizers = load_tokenizers(tokenizer)
    test_sets: dict[str, SetScores] = {}
    skipped: dict[str, str] = {}
    heatmaps: list[AttentionRecord] = []
    with atomic_dir(out) as tmp:
        for n, name in enumerate(data.test_sets):
            srcs, refs = column(splits[name], "src"), column(splits[name], "tgt")
            keep = heatmap_sources(srcs, eval_cfg.heatmaps) if n == 0 else set()
            progress = f"{variant} {name}"
            translations, scores = evaluate_test_set(
                seq2seq, tokenizers, srcs, refs, settings, eval_cfg, keep, progress
            )
            (tmp / f"{name}.hyp").write_text("".join(f"{h}\n" for h in translations.hyps), "utf-8")
            test_sets[name] = scores
            if name in views:
                view = novel_view(name, translations.hyps, srcs, refs, train_sources, eval_cfg)
                if isinstance(view, Skipped):
                    skipped[f"{name}_novel"] = view.reason
                else:
                    test_sets[f"{name}_novel"] = view
            positions = where_in_input(splits[name]) if keep else []
            heatmaps += attention_records(translations, tokenizers, srcs, name, keep, positions)
        if heatmaps:
            records = [r.to_json() for r in heatmaps]
            (tmp / "attention.json").write_text(json.dumps(records), "utf-8")
    return test_sets, skipped


def evaluate_test_set(
    model: Seq2Seq,
    tokenizers: Tokenizers,
    srcs: list[str],
    refs: list[str],
    settings: DecodeSettings,
    eval_cfg: DictConfig,
    keep_attention: set[int] = frozenset(),
    progress: str | None = None,
) -> tuple[Translations, SetScores]:
    """Translate one test set's raw sources and score the hypotheses against `refs`, in the
    buckets of `eval.bucket_edges` merged to `eval.min_bucket`; attention weights are kept for
    the sources `keep_attention`."""
    started = time.perf_counter()
    out = translate(model, tokenizers, srcs, settings, keep_attention, progress)
    seconds = time.perf_counter() - started
    timing = Timing(round(seconds, 1), round(len(srcs) / max(seconds, 1e-9), 1))
    buckets = source_buckets(srcs, eval_cfg.bucket_edges, eval_cfg.min_bucket)
    return out, score(out.hyps, srcs, refs, eval_cfg, buckets, out.truncated, timing)


def score(
    hyps: list[str],
    srcs: list[str],
    refs: list[str],
    eval_cfg: DictConfig,
    buckets: list[Bucket],
    truncated: int | None = None,
    timing: Timing | None = None,
) -> SetScores:
    """Corpus scores and the per-bucket scores with their intervals (`eval.bootstrap_samples`
    resamples seeded with `eval.bootstrap_seed`), and `last_over_best`: the last non-empty
    bucket's BLEU over the best one's, with its bootstrap interval (`bleu.last_over_best`). A
    whole test set's decoding adds its truncated sources and `timing`."""
    n, seed = eval_cfg.bootstrap_samples, eval_cfg.bootstrap_seed
    whole, stats = scores_and_stats(hyps, refs)  # sacrebleu's n-gram counting, once
    by_bucket = bucket_scores(hyps, refs, srcs, buckets, n, seed, stats=stats)
    fall = last_over_best(hyps, refs, srcs, buckets, n, seed, stats=stats)
    return SetScores.from_scores(whole, by_bucket, fall, truncated, timing)


def check_test_sets(data: DictConfig, splits: list[str], corpus: Path) -> None:
    """Every name in `data.test_sets` is a split of the corpus."""
    missing = [name for name in data.test_sets if name not in splits]
    if missing:
        raise ConfigError(
            f"data.test_sets names {missing}, not in {corpus} (splits: {splits}). "
            "Fix: name existing splits, or add them to data.source.splits and rerun download."
        )


def check_novel_views(data: DictConfig) -> list[str]:
    """`data.novel_views`, checked: each must be one of `data.test_sets`."""
    views = data.get("novel_views") or []
    if not isinstance(views, Sequence) or isinstance(views, str):
        raise ConfigError(
            f"data.novel_views = {views!r}: it must be a list of test sets. "
            "Fix: e.g. data.novel_views=[test], or [] for none."
        )
    views = list(views)
    unknown = [v for v in views if v not in data.test_sets]
    if unknown:
        raise ConfigError(
            f"data.novel_views names {unknown}, not among data.test_sets {list(data.test_sets)}. "
            "Fix: name test sets from data.test_sets, or set data.novel_views=[]."
        )
    return views


def novel_view(
    name: str,
    hyps: list[str],
    srcs: list[str],
    refs: list[str],
    train_sources: Sequence[str],
    eval_cfg: DictConfig,
) -> SetScores | Skipped:
    """Scores of test set `name` without its sentences whose source repeats a training source
    (of the pairs the models trained on, after the length filter) up to case, numbers and
    punctuation, in the whole set's buckets (merged further where one falls under
    `eval.min_bucket`). Skipped when no sentence repeats one (the view would equal the set) or
    every one does (nothing is left to score)."""
    repeats = near_duplicates(srcs, train_sources)
    kept = [i for i, r in enumerate(repeats) if not r]
    if len(kept) == len(srcs):
        log.info("%s_novel not scored: no %s source repeats a training source", name, name)
        return Skipped("no near-duplicates")
    if not kept:
        log.warning("%s_novel not scored: every %s source repeats a training source", name, name)
        return Skipped("all near-duplicates")
    whole = source_buckets(srcs, eval_cfg.bucket_edges, eval_cfg.min_bucket)
    srcs = [srcs[i] for i in kept]
    buckets = merge_small(whole, [word_count(s) for s in srcs], eval_cfg.min_bucket)
    scores = score([hyps[i] for i in kept], srcs, [refs[i] for i in kept], eval_cfg, buckets)
    log.info("%s_novel: %s without %d near-duplicates of training", name, name, sum(repeats))
    return scores._replace(novel_of=name, near_duplicates=sum(repeats))


def heatmap_sources(srcs: list[str], k: int) -> set[int]:
    """k heatmap sentences: the first sources of HEATMAP_WORDS words, made up to k with the
    longest of the others where fewer are that long."""
    lo, hi = HEATMAP_WORDS
    lengths = [word_count(s) for s in srcs]
    picked = [i for i, n in enumerate(lengths) if lo <= n <= hi][:k]
    others = sorted(set(range(len(srcs))) - set(picked), key=lambda i: (-lengths[i], i))
    return set(picked + others[: k - len(picked)])


def where_in_input(split: datasets.Dataset) -> list[tuple[int, int | None]]:
    """(line, shard) of each row in its input file, from the corpus's `line` column (and `shard`
    for sources read from several files): rows are not lines where empty pairs were dropped."""
    shards = column(split, "shard") if "shard" in split.column_names else [None] * split.num_rows
    return list(zip(column(split, "line"), shards, strict=True))


def attention_records(
    out: Translations,
    tokenizers: Tokenizers,
    srcs: list[str],
    test_set: str,
    keep: set[int],
    positions: Sequence[tuple[int, int | None]],
) -> list[AttentionRecord]:
    """Source and output subwords with the weights between them, for each kept sentence;
    `positions`: each row's (line, shard) in its input file (`where_in_input`)."""
    records = []
    for i in sorted(keep):
        if i not in out.attention:
            continue
        weights = out.attention[i]  # [T_out (+1 for EOS), S_real]
        src = [*tokenizers.src.encode(srcs[i], out_type=str), "</s>"]
        hyp = [tokenizers.tgt.id_to_piece(t) for t in out.tokens[i]]
        hyp += ["</s>"] * (weights.shape[0] - len(hyp))
        rows = [[round(float(w), 4) for w in row] for row in weights]
        line, shard = positions[i]
        records.append(
            AttentionRecord(test_set, i, line, shard, src[: weights.shape[1]], hyp, rows)
        )
    return records
