"""evaluate@<variant>: translate every test set named in `data.test_sets`, score with sacrebleu.

Writes `<out>/<test_set>.hyp` (detokenized hypotheses, one per line, aligned with the test set's
sources in the corpus) and, for the attention variant, `<out>/attention.json` (the weights of a
few long test sentences, for the report's heatmaps); the metrics JSON (corpus BLEU and chrF per
test set, as DVC metrics) and a details JSON (sacrebleu signatures, decode settings, and BLEU
with a bootstrap confidence interval per source-length bucket). Each test set named in
`data.novel_views` is scored again in the details as `<set>_novel`, without the sentences whose
source repeats a training source up to case, numbers and punctuation.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from nmt_bottleneck.atomic import atomic_dir, write_json_atomic
from nmt_bottleneck.config import check_keys
from nmt_bottleneck.data.corpus import load_corpus
from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.data.near_duplicates import near_duplicates
from nmt_bottleneck.data.tokenizer import load_tokenizers
from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.eval.bleu import bucket_scores, corpus_scores, last_over_best
from nmt_bottleneck.eval.buckets import Bucket, make_buckets, merge_small
from nmt_bottleneck.eval.translate import DecodeSettings, Translations, load_model, translate
from nmt_bottleneck.machine import describe
from pipelines.stage import load_params, run

FIGURES = ("value", "ci_lo", "ci_hi")
log = logging.getLogger("nmt_bottleneck")

EVAL_KEYS = ("decode", "bucket_edges", "min_bucket", "bootstrap_samples", "heatmaps")
HEATMAP_WORDS = (30, 45)  # heatmap sentences: sources of this many words (Figure 3 style)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    params = load_params(args.params)
    check_keys(params.eval, EVAL_KEYS, "eval")
    settings = DecodeSettings.from_config(params.eval.decode)
    corpus = load_corpus(args.corpus)
    missing = [name for name in params.data.test_sets if name not in corpus]
    if missing:
        raise ConfigError(
            f"data.test_sets names {missing}, not in {args.corpus} (splits: {list(corpus)}). "
            "Fix: name existing splits, or add them to data.source.splits and rerun download."
        )
    novel_views = check_novel_views(params.data)
    train_sources = load_corpus(args.trained_on)["train"]["src"] if novel_views else []
    model, _ = load_model(args.model)
    tokenizers = load_tokenizers(args.tokenizer)
    metrics, details, heatmaps = {}, {}, []
    with atomic_dir(args.out) as tmp:
        for n, name in enumerate(params.data.test_sets):
            srcs, refs = list(corpus[name]["src"]), list(corpus[name]["tgt"])
            keep = long_sentences(srcs, params.eval.heatmaps) if n == 0 else set()
            started = time.perf_counter()
            out = translate(model, tokenizers, srcs, settings, keep, f"{args.variant} {name}")
            seconds = time.perf_counter() - started
            (tmp / f"{name}.hyp").write_text("".join(f"{h}\n" for h in out.hyps), "utf-8")
            lengths = [word_count(s) for s in srcs]
            buckets = merge_small(
                make_buckets(list(params.eval.bucket_edges)), lengths, params.eval.min_bucket
            )
            timing = {
                "decode_s": round(seconds, 1),
                "sentences_per_s": round(len(srcs) / max(seconds, 1e-9), 1),
            }
            metrics[name], details[name] = score(
                out.hyps, srcs, refs, params.eval, buckets, out.truncated, timing
            )
            view = None
            if name in novel_views:
                view = novel_view(name, out.hyps, srcs, refs, train_sources, params.eval, buckets)
            if view:
                details[f"{name}_novel"] = view
            heatmaps += attention_records(out, tokenizers, srcs, name, keep)
        if heatmaps:
            (tmp / "attention.json").write_text(json.dumps(heatmaps), "utf-8")
    details = {
        "variant": args.variant,
        "decode": settings._asdict(),
        "machine": describe(),  # load_model puts the model on the CPU
        "test_sets": details,
    }
    write_json_atomic(details, args.details)
    write_json_atomic(metrics, args.metrics)
    for name, m in metrics.items():
        log.info("%s on %s: BLEU %.2f, chrF %.2f", args.variant, name, m["bleu"], m["chrf"])


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
    buckets: list[Bucket],
) -> dict | None:
    """Scores of test set `name` without its sentences whose source repeats a training source
    (of the pairs the models trained on, after the length filter) up to case, numbers and
    punctuation, in the whole set's buckets (merged further where one falls under
    `eval.min_bucket`). None when no sentence is left."""
    repeats = near_duplicates(srcs, train_sources)
    kept = [i for i, r in enumerate(repeats) if not r]
    if not kept:
        log.warning("%s_novel not scored: every %s source repeats a training source", name, name)
        return None
    srcs = [srcs[i] for i in kept]
    buckets = merge_small(buckets, [word_count(s) for s in srcs], eval_cfg.min_bucket)
    _, details = score([hyps[i] for i in kept], srcs, [refs[i] for i in kept], eval_cfg, buckets)
    log.info("%s_novel: %s without %d near-duplicates of training", name, name, sum(repeats))
    return {"novel_of": name, "near_duplicates": sum(repeats), **details}


def score(
    hyps: list[str],
    srcs: list[str],
    refs: list[str],
    eval_cfg: DictConfig,
    buckets: list[Bucket],
    truncated: int | None = None,
    timing: dict | None = None,
) -> tuple[dict, dict]:
    """Corpus scores (the metrics) and the per-bucket scores with their intervals. A whole test
    set's decoding adds its truncated sources (metrics and details) and `timing` (details).

    `last_over_best` (details): the last non-empty bucket's BLEU over the best one's, with its
    bootstrap interval (`bleu.last_over_best`); how much of its best a curve keeps at the
    longest sentences. None with fewer than two non-empty buckets; its numbers are None (JSON
    has no NaN) where the best bucket scores 0."""
    scores = corpus_scores(hyps, refs)
    by_bucket = bucket_scores(hyps, refs, srcs, buckets, eval_cfg.bootstrap_samples, seed=12345)
    q = last_over_best(hyps, refs, srcs, buckets, eval_cfg.bootstrap_samples, seed=12345)
    fall = q and {"last": q.last, "best": q.best, **{k: rounded(getattr(q, k)) for k in FIGURES}}
    metrics = {
        "bleu": round(scores.bleu, 4),
        "chrf": round(scores.chrf, 4),
        "sentences": scores.n,
        "empty_hyps": scores.empty_hyps,
        **({} if truncated is None else {"truncated_sources": truncated}),
    }
    details = {
        **metrics,
        "bleu_signature": scores.bleu_signature,
        "chrf_signature": scores.chrf_signature,
        **(timing or {}),
        "last_over_best": fall,
        "buckets": [
            {
                "lo": b.bucket.lo,
                "hi": b.bucket.hi,
                "label": b.bucket.label,
                "n": b.n,
                "bleu": round(b.bleu, 4),
                "ci_lo": round(b.ci_lo, 4),
                "ci_hi": round(b.ci_hi, 4),
                "length_ratio": round(b.length_ratio, 4),
            }
            for b in by_bucket
        ],
    }
    return metrics, details


def rounded(x: float) -> float | None:
    """x to 4 places; None for NaN, which JSON has no literal for."""
    return None if math.isnan(x) else round(x, 4)


def long_sentences(srcs: list[str], k: int) -> set[int]:
    """The first k sources of HEATMAP_WORDS words (else the k longest): heatmap material."""
    lo, hi = HEATMAP_WORDS
    lengths = [word_count(s) for s in srcs]
    picked = [i for i, n in enumerate(lengths) if lo <= n <= hi][:k]
    return set(picked or sorted(range(len(srcs)), key=lambda i: -lengths[i])[:k])


def attention_records(out: Translations, tokenizers, srcs, test_set: str, keep) -> list[dict]:
    """Source and output subwords with the weights between them, for each kept sentence."""
    records = []
    for i in sorted(keep):
        if i not in out.attention:
            continue
        weights = out.attention[i]  # [T_out (+1 for EOS), S_real]
        src = [*tokenizers.src.encode(srcs[i], out_type=str), "</s>"]
        hyp = [tokenizers.tgt.id_to_piece(t) for t in out.tokens[i]]
        hyp += ["</s>"] * (weights.shape[0] - len(hyp))
        records.append(
            {
                "test_set": test_set,
                "index": i,
                "source": src[: weights.shape[1]],
                "output": hyp,
                "weights": [[round(float(w), 4) for w in row] for row in weights],
            }
        )
    return records


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--corpus", type=Path, required=True, help="download stage output")
    parser.add_argument(
        "--trained-on", type=Path, required=True, help="tokenize stage output: its train split"
    )
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="models/<variant>/")
    parser.add_argument("--out", type=Path, required=True, help="hypotheses folder")
    parser.add_argument("--metrics", type=Path, required=True, help="BLEU/chrF per test set")
    parser.add_argument("--details", type=Path, required=True, help="buckets, signatures")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(main)
