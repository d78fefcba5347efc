"""Benchmark the download and tokenize stages on a real corpus (default: the full Canadian
Hansard, 934k training pairs) and print a table.

It runs the stage entries exactly as `dvc repro` does (`python -m pipelines.<stage>` on a
params.yaml composed from conf/), with outputs in a temporary folder, and then compares ways of
encoding side by side in one process: one thread, SentencePiece's own threads (what the stage
uses), and `datasets.map(num_proc=N)`.

    python benchmarks/data_stages.py                      # data=hansard_enfr from ./corpora
    python benchmarks/data_stages.py data=hansard_enfr data.max_len=30 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_stage(module: str, *args: str) -> float:
    """Run one stage entry as DVC would; return its wall time in seconds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def encode_side_by_side(corpus_dir: Path, tokenizer_dir: Path, pairs: int) -> list[tuple]:
    """Encode the same `pairs` training pairs three ways; return (way, seconds) rows."""
    import datasets

    from nmt_bottleneck.data.encode import encode
    from nmt_bottleneck.data.tokenizer import load_tokenizers

    datasets.disable_progress_bars()
    train = datasets.load_from_disk(str(corpus_dir))["train"].select(range(pairs))
    corpus = datasets.DatasetDict({"train": train})
    tokenizers = load_tokenizers(tokenizer_dir)
    cores = os.cpu_count() or 1
    rows = []
    for name, threads in (("1 thread", 1), (f"SentencePiece, {cores} threads (stage)", cores)):
        started = time.perf_counter()
        encode(corpus, tokenizers, threads=threads)
        rows.append((name, time.perf_counter() - started))

    def one_thread(batch):
        return {
            "src_ids": tokenizers.src.encode(batch["src"]),
            "tgt_ids": tokenizers.tgt.encode(batch["tgt"]),
        }

    started = time.perf_counter()
    train.map(one_thread, batched=True, batch_size=10_000, num_proc=cores, keep_in_memory=True)
    rows.append((f"datasets.map num_proc={cores}", time.perf_counter() - started))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("overrides", nargs="*", default=["data=hansard_enfr"])
    parser.add_argument("--encode-pairs", type=int, default=200_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        out = Path(tmp)
        params = out / "params.yaml"
        run_stage("pipelines.compose_params", *args.overrides, "--out", str(params))
        t_download = run_stage(
            "pipelines.download",
            "--params",
            str(params),
            "--out",
            str(out / "corpus"),
            "--manifest",
            str(out / "m.json"),
        )
        t_tokenize = run_stage(
            "pipelines.tokenize",
            "--params",
            str(params),
            "--corpus",
            str(out / "corpus"),
            "--tokenizer",
            str(out / "tok"),
            "--out",
            str(out / "tokenized"),
            "--stats",
            str(out / "s.json"),
            "--histogram",
            str(out / "h.csv"),
        )
        manifest = json.loads((out / "m.json").read_text())
        stats = json.loads((out / "s.json").read_text())
        encode_rows = encode_side_by_side(out / "corpus", out / "tok", args.encode_pairs)

    pairs_in = sum(s["pairs"] for s in manifest["splits"].values())
    kept = stats["splits"]["train"]["pairs"]
    total = t_download + t_tokenize
    print(
        f"\nData stages, {' '.join(args.overrides)}; {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}\n"
    )
    print("| stage | wall time | pairs | pairs/s |")
    print("|---|---:|---:|---:|")
    print(
        f"| download (read, validate, save) | {t_download:.1f} s | {pairs_in:,} | "
        f"{pairs_in / t_download:,.0f} |"
    )
    print(
        f"| tokenize (filter, train tokenizer, encode, save) | {t_tokenize:.1f} s | "
        f"{pairs_in:,} in, {kept:,} train kept | {pairs_in / t_tokenize:,.0f} |"
    )
    print(f"| **both** | **{total:.1f} s** ({total / 60:.1f} min) | | {pairs_in / total:,.0f} |")
    base = encode_rows[0][1]
    print(f"\nEncoding {args.encode_pairs:,} training pairs (both sides), side by side:\n")
    print("| way | time | pairs/s | speed-up vs 1 thread |")
    print("|---|---:|---:|---:|")
    for name, seconds in encode_rows:
        print(
            f"| {name} | {seconds:.2f} s | {args.encode_pairs / seconds:,.0f} | "
            f"{base / seconds:.2f}x |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "overrides": args.overrides,
                    "cores": os.cpu_count(),
                    "download_s": t_download,
                    "tokenize_s": t_tokenize,
                    "pairs": pairs_in,
                    "train_kept": kept,
                    "encode": dict(encode_rows),
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
