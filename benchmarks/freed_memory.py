"""Freed memory given back to the system (glibc's defaults) or kept (nmt_bottleneck.allocator,
what the train and evaluate stages do): training and greedy decoding throughput both ways, side
by side in one run. The setting is per process, so each measurement is a child process of its
own (benchmarks/train_throughput.py and benchmarks/decode_throughput.py with $NMT_KEEP_FREED
0 or 1), the two settings alternating, `--rounds` times. Prints a table: the mean over rounds of
each setting, their quotient, the kernel (system) seconds of the children, where the page
faults of memory mapped afresh show, and their peak resident memory, which keeping freed memory
raises (the heap keeps its high-water mark).

    python benchmarks/freed_memory.py --data data/tokenized --tokenizer data/tokenizer \\
        --models models --seed 1234 --corpus data/corpus --steps 20 --rounds 2

Without `--models` (no trained models yet) only training is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from nmt_bottleneck.machine import cpu_model

HERE = Path(__file__).resolve().parent
SETTINGS = {"0": "default", "1": "kept"}


def child(script: str, args: list[str], keep: str) -> tuple[list[dict], float, float]:
    """Run a benchmark script with $NMT_KEEP_FREED=keep: its JSON rows, its kernel seconds and
    its peak resident memory in MB (from wait4, this child's alone)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        env = {**os.environ, "NMT_KEEP_FREED": keep}
        command = [sys.executable, str(HERE / script), *args, "--json", str(out)]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, command)
        return json.loads(out.read_text()), usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("data/tokenized"))
    parser.add_argument("--tokenizer", type=Path, default=Path("data/tokenizer"))
    parser.add_argument("--models", type=Path)
    parser.add_argument("--seed", default="1234")
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    train_args = ["--data", str(args.data), "--tokenizer", str(args.tokenizer)]
    train_args += ["--profiles", "cpu", "--steps", str(args.steps), "--warmup", str(args.warmup)]
    jobs = [("train", "train_throughput.py", train_args, "tokens_per_s", "target tokens/s")]
    if args.models:
        variants = sorted(p.name for p in args.models.iterdir() if (p / args.seed).is_dir())
        if not variants:
            sys.exit(
                f"{args.models}: no <variant>/{args.seed}/ model folder. Fix: --models "
                "the train stage's models/ folder and --seed one of its seeds"
            )
        decode_args = ["--models", str(args.models), "--seed", args.seed, "--variants", *variants]
        decode_args += ["--corpus", str(args.corpus), "--tokenizer", str(args.tokenizer)]
        decode_args += ["--searches", "greedy", "--sentences", str(args.sentences)]
        jobs.append(("greedy", "decode_throughput.py", decode_args, "sentences_per_s", "sent./s"))

    speed: dict[tuple[str, str, str], list[float]] = {}  # (work, variant, setting) -> rounds
    system: dict[tuple[str, str], list[float]] = {}  # (work, setting) -> kernel s per round
    peak: dict[tuple[str, str], list[float]] = {}  # (work, setting) -> peak RSS MB per round
    for r in range(args.rounds):
        for work, script, script_args, key, _ in jobs:
            order = list(SETTINGS.items())
            for keep, setting in order if r % 2 == 0 else order[::-1]:  # neither always first
                print(f"round {r + 1}/{args.rounds}: {work}, {setting}", file=sys.stderr)
                rows, kernel, rss = child(script, script_args, keep)
                system.setdefault((work, setting), []).append(kernel)
                peak.setdefault((work, setting), []).append(rss)
                for row in rows:
                    speed.setdefault((work, row["variant"], setting), []).append(row[key])

    print(
        f"\nFreed memory default vs kept; {cpu_model()}, {platform.machine()}, torch "
        f"{torch.__version__}; {args.rounds} rounds, each setting in its own process, "
        f"alternating; train: {args.steps} timed steps per variant (profile cpu), greedy: the "
        f"first {args.sentences} sentences of test\n"
    )
    print("| work | variant | default | kept | kept / default (rounds) |")
    print("|---|---|---:|---:|---|")
    for work, _, _, _, unit in jobs:
        for variant in dict.fromkeys(v for w, v, _ in speed if w == work):
            d, k = (speed[(work, variant, s)] for s in SETTINGS.values())
            each = ", ".join(f"{b / a:.2f}" for a, b in zip(d, k, strict=True))
            print(
                f"| {work} ({unit}) | {variant} | {statistics.mean(d):,.0f} | "
                f"{statistics.mean(k):,.0f} | {statistics.mean(k) / statistics.mean(d):.2f}x "
                f"({each}) |"
            )
    print(
        "\n| work | kernel s per run, default | kept | peak RSS MB, default | kept |"
        "\n|---|---:|---:|---:|---:|"
    )
    for work, *_ in jobs:
        d, k = (statistics.mean(system[(work, s)]) for s in SETTINGS.values())
        dm, km = (max(peak[(work, s)]) for s in SETTINGS.values())
        print(f"| {work} | {d:.1f} | {k:.1f} | {dm:,.0f} | {km:,.0f} |")


if __name__ == "__main__":
    main()
