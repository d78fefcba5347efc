"""Two trainings side by side: each job's share of the cores (nmt_bottleneck.cores) against
torch's default threads in every process, and against one job after the other. Each job is a
child process training a variant at the `cpu` profile's sizes on real tokenized batches with the
project's training step (Seq2SeqModule.loss, clipping, Adam), for `--seconds` after warm-up; two
jobs at once start their timed window together. Prints a table (target tokens/s in all, steps/s
per job, the threads each ended with, the load average before each scenario) and whether 1 and
2 threads train byte-identical weights from the same seed.

Scenarios:
  one after the other   job 1, then job 2, each with all the cores' threads
  at once, default      both together, each with torch's default threads (the oversubscription)
  at once, share        both together, each registered with the "share" setting (cores // jobs,
                        re-counted every step, as the train stage's callback does), in a
                        registry of their own

    python benchmarks/parallel_training.py --data data/tokenized --tokenizer data/tokenizer \\
        --variant attention --seconds 45
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "benchmarks")]

import torch  # noqa: E402

from nmt_bottleneck.machine import cpu_model, usable_cores  # noqa: E402

WARMUP = 3


def job(args: argparse.Namespace) -> None:
    """A child: build the model and batches, warm up, say `ready`, wait for `go` on stdin, train
    for `seconds` (or `steps`), print the facts as JSON."""
    from nmt_bottleneck.allocator import keep_freed_memory
    from nmt_bottleneck.cores import CoreClaim

    keep_freed_memory()  # as the train stage does (benchmarks/README.md, "Freed memory")
    claim = None
    if args.threads == "share":
        claim = CoreClaim("share", "benchmark")
        claim.acquire()
    elif args.threads != "default":
        torch.set_num_threads(int(args.threads))
    module, optimizer, data = build(args)
    for batch in data[:WARMUP]:
        train_step(module, optimizer, batch)
        if claim is not None:
            claim.refresh()
    print("ready", flush=True)
    sys.stdin.readline()
    tokens, steps, started = 0, 0, time.perf_counter()
    for batch in data[WARMUP:]:
        tokens += train_step(module, optimizer, batch)
        steps += 1
        if claim is not None:
            claim.refresh()
        if time.perf_counter() - started >= args.seconds:
            break
    seconds = time.perf_counter() - started
    weights = b"".join(v.detach().numpy().tobytes() for v in module.state_dict().values())
    if args.save:
        torch.save(module.state_dict(), args.save)
    facts = {"steps": steps, "tokens": tokens, "seconds": seconds}
    facts |= {"threads": torch.get_num_threads(), "digest": hashlib.sha256(weights).hexdigest()}
    print(json.dumps(facts), flush=True)


def build(args: argparse.Namespace):
    """The variant's Seq2SeqModule (seeded), its Adam, and the training sampler's batches."""
    import datasets

    from nmt_bottleneck.data.datamodule import Rows
    from nmt_bottleneck.data.tokenizer import PAD_ID, load_tokenizers
    from nmt_bottleneck.models.build import build_seq2seq
    from nmt_bottleneck.models.lightning_module import Seq2SeqModule
    from train_throughput import batches

    params = json.loads(Path(args.params).read_text())
    train = datasets.load_from_disk(str(args.data))["train"]
    rows = Rows(train.select(range(20_000)))
    data = batches(rows, params["train"], WARMUP + args.steps)
    tok = load_tokenizers(args.tokenizer)
    torch.manual_seed(0)
    spec = params["variants"][args.variant]
    vocab = (tok.src.get_piece_size(), tok.tgt.get_piece_size())
    model = build_seq2seq(spec["arch"], *vocab, args.variant, rows.longest_source())
    module = Seq2SeqModule(
        model,
        **spec["optim"],
        lr=params["train"]["lr"],
        scheduler="none",
        warmup_steps=params["train"]["warmup_steps"],
        pad_id=PAD_ID,
    )
    optimizer = module.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    return module.train(), optimizer, data


def train_step(module, optimizer, batch) -> int:
    """One optimizer step as the train stage takes it; the batch's real target tokens."""
    optimizer.zero_grad(set_to_none=True)
    loss, tokens = module.loss(batch, module.label_smoothing)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
    optimizer.step()
    return int(tokens)


def start(args: argparse.Namespace, threads: str, env: dict, *extra: str) -> subprocess.Popen:
    command = [sys.executable, __file__, "--job", "--threads", threads, *child_args(args), *extra]
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )


def child_args(args: argparse.Namespace) -> list[str]:
    return [
        *("--data", str(args.data), "--tokenizer", str(args.tokenizer)),
        *("--params", str(args.params), "--variant", args.variant),
        *("--seconds", str(args.seconds), "--steps", str(args.steps)),
    ]


def together(args: argparse.Namespace, threads: list[str], env: dict) -> list[dict]:
    """Jobs started at once; their timed windows open together once all are warm."""
    procs = [start(args, t, env) for t in threads]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    out = [json.loads(p.stdout.readline()) for p in procs]
    for p in procs:
        p.wait()
    return out


def scenario(name: str, runs: list[dict], sequential: bool) -> dict:
    window = sum(r["seconds"] for r in runs) if sequential else max(r["seconds"] for r in runs)
    return {
        "scenario": name,
        "tokens_per_s": sum(r["tokens"] for r in runs) / window,
        "steps_per_s": [r["steps"] / r["seconds"] for r in runs],
        "steps": [r["steps"] for r in runs],
        "threads": [r["threads"] for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("data/tokenized"))
    parser.add_argument("--tokenizer", type=Path, default=Path("data/tokenizer"))
    parser.add_argument("--variant", default="attention")
    parser.add_argument("--seconds", type=float, default=45.0, help="timed window per job")
    parser.add_argument("--steps", type=int, default=400, help="at most this many timed steps")
    parser.add_argument("--identity-steps", type=int, default=20)
    parser.add_argument("--params", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--job", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        return job(args)
    from train_throughput import profile_params

    cores = usable_cores()
    with tempfile.TemporaryDirectory() as tmp:
        args.params = Path(tmp) / "params.json"
        args.params.write_text(json.dumps(profile_params("cpu")))
        env = {**os.environ, "NMT_JOBS_DIR": str(Path(tmp) / "jobs")}
        env.pop("NMT_THREADS", None)
        rows, loads = [], []
        loads.append(os.getloadavg()[0])
        runs = [together(args, [str(cores)], env)[0] for _ in range(2)]
        rows.append(scenario("one after the other", runs, sequential=True))
        loads.append(os.getloadavg()[0])
        rows.append(scenario("at once, default", together(args, ["default"] * 2, env), False))
        loads.append(os.getloadavg()[0])
        rows.append(scenario("at once, share", together(args, ["share"] * 2, env), False))
        identity = same_weights(args, env, Path(tmp))
    print_table(args, cores, rows, loads, identity)


def same_weights(args: argparse.Namespace, env: dict, tmp: Path) -> dict:
    """`identity_steps` steps from the same seed on the same batches with 1 and with 2 threads,
    one after the other: the weights' digests and their largest difference."""
    quick = argparse.Namespace(**{**vars(args), "seconds": 1e9, "steps": args.identity_steps})
    saved = [tmp / f"w{t}.pt" for t in (1, 2)]
    runs = [run_saved(quick, t, env, p) for t, p in zip(("1", "2"), saved, strict=True)]
    a, b = (torch.load(p, weights_only=True) for p in saved)
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    return {"identical": runs[0]["digest"] == runs[1]["digest"], "max_abs_diff": diff}


def run_saved(args: argparse.Namespace, threads: str, env: dict, path: Path) -> dict:
    """One job alone with `threads`, its weights saved to `path`."""
    proc = start(args, threads, env, "--save", str(path))
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    out = json.loads(proc.stdout.readline())
    proc.wait()
    return out


def print_table(args, cores: int, rows: list[dict], loads: list[float], identity: dict) -> None:
    print(
        f"\nTwo trainings of {args.variant} (cpu profile sizes), {args.seconds:.0f} s timed per "
        f"job; {cpu_model()}, {cores} usable cores, {platform.machine()}, torch "
        f"{torch.__version__}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
    )
    print(
        "| scenario | load avg (1 min) before | total target tokens/s | steps/s per job | "
        "steps per job | threads per job (at the end) |"
    )
    print("|---|---:|---:|---|---|---|")
    for r, load in zip(rows, loads, strict=True):
        print(
            f"| {r['scenario']} | {load:.2f} | {r['tokens_per_s']:,.0f} | "
            f"{' / '.join(f'{s:.2f}' for s in r['steps_per_s'])} | "
            f"{' / '.join(map(str, r['steps']))} | {' / '.join(map(str, r['threads']))} |"
        )
    verdict = "identical" if identity["identical"] else "NOT identical"
    print(
        f"\n{args.identity_steps} steps from the same seed, 1 thread vs 2: weights {verdict} "
        f"(largest difference {identity['max_abs_diff']:.3g})"
    )


if __name__ == "__main__":
    main()
