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
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    if result.returncode != 0:
        sys.exit(f"{module} failed:\n{result.stderr[-3000:]}")
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


def measure(overrides: list[str], encode_pairs: int) -> dict:
    """Run both stages on the composed config, then the encoding comparison."""
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        out = Path(tmp)
        params = str(out / "params.yaml")
        run_stage("pipelines.compose_params", *overrides, "--out", params)
        download_s = run_stage(
            "pipelines.download",
            "--params",
            params,
            "--out",
            str(out / "corpus"),
            "--manifest",
            str(out / "m.json"),
        )
        tokenize_s = run_stage(
            "pipelines.tokenize",
            "--params",
            params,
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
        encoding = encode_side_by_side(out / "corpus", out / "tok", encode_pairs)
    return {
        "overrides": overrides,
        "cores": os.cpu_count(),
        "download_s": download_s,
        "tokenize_s": tokenize_s,
        "train_kept": stats["splits"]["train"]["pairs"],
        "pairs": sum(s["pairs"] for s in manifest["splits"].values()),
        "encode_pairs": encode_pairs,
        "encode_s": dict(encoding),
    }


def print_tables(r: dict) -> None:
    pairs, total = r["pairs"], r["download_s"] + r["tokenize_s"]
    print(
        f"\nData stages, {' '.join(r['overrides'])}; {r['cores']} cores, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}\n"
    )
    print("| stage | wall time | pairs | pairs/s |\n|---|---:|---:|---:|")
    print(
        f"| download (read, validate, save) | {r['download_s']:.1f} s | {pairs:,} | "
        f"{pairs / r['download_s']:,.0f} |"
    )
    print(
        f"| tokenize (filter, train tokenizer, encode, save) | {r['tokenize_s']:.1f} s | "
        f"{pairs:,} in, {r['train_kept']:,} train kept | {pairs / r['tokenize_s']:,.0f} |"
    )
    print(f"| **both** | **{total:.1f} s** ({total / 60:.1f} min) | | {pairs / total:,.0f} |")
    n, base = r["encode_pairs"], next(iter(r["encode_s"].values()))
    print(f"\nEncoding {n:,} training pairs (both sides), side by side:\n")
    print("| way | time | pairs/s | speed-up vs 1 thread |\n|---|---:|---:|---:|")
    for name, seconds in r["encode_s"].items():
        print(f"| {name} | {seconds:.2f} s | {n / seconds:,.0f} | {base / seconds:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("overrides", nargs="*", default=["data=hansard_enfr"])
    parser.add_argument("--encode-pairs", type=int, default=200_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results = measure(args.overrides, args.encode_pairs)
    print_tables(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
