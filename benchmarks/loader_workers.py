"""The training loader's worker processes (`train.num_workers`): the train stage itself, run
as a child process (`python -m pipelines.train`) for `--steps` steps and one validation, with
each worker count in turn, the order alternating between rounds. Prints a table: the stage's
own wall time (`wall_time_s` in its facts file: training, the validation, writing the model),
the child's CPU seconds (user + kernel, from wait4) and peak RSS, the time against the first
worker count, and whether the weights are byte-identical (they should be: batches are made in
the main process's order whatever the number of workers, training/fit.py).

    python benchmarks/loader_workers.py --params params.yaml --variant attention \\
        --workers 0 1 --steps 200 --rounds 2

Needs the tokenize stage's outputs (`--data`, `--tokenizer`); writes only to a temporary
folder. On a machine with few cores a worker process competes with torch's threads for them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import yaml

from nmt_bottleneck.machine import cpu_model

ROOT = Path(__file__).resolve().parent.parent


def run_stage(args: argparse.Namespace, workers: int, tmp: Path) -> dict[str, float | str]:
    """One train stage with `workers` loader workers: its wall time, CPU s, peak RSS MB and
    the md5 of the weights it wrote."""
    params = yaml.safe_load(args.params.read_text())
    params["train"].update(
        max_steps=args.steps,
        val_every_steps=args.steps,
        warmup_steps=max(1, args.steps // 10),
        num_workers=workers,
    )
    run = tmp / f"w{workers}"
    run.mkdir()
    (run / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    command = [sys.executable, "-m", "pipelines.train", "--variant", args.variant]
    command += ["--seed", str(params["seeds"][0]), "--params", str(run / "params.yaml")]
    command += ["--data", str(args.data), "--tokenizer", str(args.tokenizer)]
    command += ["--out", str(run / "model"), "--metrics", str(run / "facts.json")]
    command += ["--checkpoints", str(run / "checkpoints"), "--logs", str(run / "logs")]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    with open(run / "stage.log", "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"{' '.join(command)} failed; its output: {run / 'stage.log'}")
    facts = json.loads((run / "facts.json").read_text())
    weights = hashlib.md5((run / "model" / "model.pt").read_bytes()).hexdigest()
    return {
        "wall": facts["wall_time_s"],
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": usage.ru_maxrss / 1024,
        "weights": weights,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--data", type=Path, default=Path("data/tokenized"))
    parser.add_argument("--tokenizer", type=Path, default=Path("data/tokenizer"))
    parser.add_argument("--variant", default="attention")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    args.params, args.data, args.tokenizer = (
        p.resolve() for p in (args.params, args.data, args.tokenizer)
    )

    runs: dict[int, list[dict]] = {w: [] for w in args.workers}
    for r in range(args.rounds):
        order = args.workers if r % 2 == 0 else args.workers[::-1]  # neither always first
        for workers in order:
            print(f"round {r + 1}/{args.rounds}: num_workers={workers}", file=sys.stderr)
            with tempfile.TemporaryDirectory() as tmp:
                runs[workers].append(run_stage(args, workers, Path(tmp)))

    first = args.workers[0]
    base = [run["wall"] for run in runs[first]]
    reference = runs[first][0]["weights"]
    print(
        f"\nThe train stage with train.num_workers = {', '.join(map(str, args.workers))}; "
        f"{cpu_model()}, {os.cpu_count()} cores, {platform.machine()}, torch "
        f"{torch.__version__}; {args.variant}, {args.steps} steps and one validation, "
        f"{args.rounds} rounds alternating\n"
    )
    print(
        f"| num_workers | stage wall s (rounds) | / num_workers={first} | CPU s | peak RSS MB "
        "| weights as the first |"
    )
    print("|---:|---|---:|---:|---:|---|")
    for workers, done in runs.items():
        walls = [run["wall"] for run in done]
        each = ", ".join(f"{w:.1f}" for w in walls)
        same = all(run["weights"] == reference for run in done)
        print(
            f"| {workers} | {statistics.mean(walls):.1f} ({each}) | "
            f"{statistics.mean(walls) / statistics.mean(base):.3f} | "
            f"{statistics.mean(run['cpu'] for run in done):.0f} | "
            f"{max(run['rss'] for run in done):,.0f} | {'yes' if same else 'NO'} |"
        )


if __name__ == "__main__":
    main()
