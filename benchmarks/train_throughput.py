"""Training throughput of the three variants: target tokens per second over timed optimizer
steps (after warm-up), on real tokenized data, side by side in one process. Prints a table;
`--json FILE` also writes it.

Configs (`--profiles`):
  reference  the performance issue's reference configuration: the `cpu` profile's training
             (Adam, clipping 1.0) at the reference's sizes (emb 256, bi-GRU 256 per
             direction, GRU decoder 512, 512-wide attention and maxout output; `cpu` now
             trains at half these), dropout 0.2 (`cpu` trains without) and batches of 64
             sentences, length-bucketed
  cpu, paper the experiment profiles as `dvc repro` trains them (token-budget batches)

Besides tokens/s it reports where the time could go: the matmul FLOPs of the timed training
steps (forward + backward, counted by torch's FlopCounterMode on the same real batches, padding
positions included) per real target token, the GFLOP/s that gives, and that as a share of a
matmul peak measured in the same run: the best GFLOP/s of a [3000, 512] x [512, 8000] product
(the output layer's shape). FlopCounterMode sees the matmuls torch dispatches: on CPU the GRU's
are (it is decomposed), but fused RNN kernels (cuDNN on a GPU, oneDNN's LSTM) are not counted,
so there the column is a lower bound.

    python benchmarks/train_throughput.py --data data/tokenized --tokenizer data/tokenizer \\
        --profiles reference cpu --steps 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from nmt_bottleneck.allocator import keep_freed_memory  # noqa: E402
from nmt_bottleneck.data.batching import TokenBudgetSampler, collate  # noqa: E402
from nmt_bottleneck.data.datamodule import Rows  # noqa: E402
from nmt_bottleneck.data.tokenizer import BOS_ID, EOS_ID, PAD_ID, load_tokenizers  # noqa: E402
from nmt_bottleneck.models.build import build_seq2seq  # noqa: E402
from nmt_bottleneck.models.lightning_module import Seq2SeqModule  # noqa: E402


def profile_params(profile: str, *overrides: str) -> dict:
    """params.yaml for `experiment=<profile>` and Hydra `overrides`, composed as DVC does."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "params.yaml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.compose_params",
                f"experiment={profile}",
                *overrides,
                "--out",
                str(out),
            ],
            cwd=ROOT,
            check=True,
            env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
        )
        return yaml.safe_load(out.read_text())


REFERENCE_SENTENCES = 64  # the reference configuration's batch size
# The reference's sizes and dropout; experiment=cpu trains at half these sizes, without dropout.
REFERENCE_SIZES = (
    "sizes={emb: 256, hidden: 256, decoder_hidden: 512, context: 512, attention: 512,"
    " output: 512, dropout: 0.2}"
)
NO_TOKEN_LIMIT = 10**9  # a token budget no batch of 64 sentences reaches


def batches(rows: Rows, train: dict, count: int) -> list:
    """The training sampler's length-bucketed batches as `train` (params.yaml's) sets it up."""
    sampler = TokenBudgetSampler(
        rows.lengths(),
        train["max_tokens"],
        shuffle=True,
        seed=0,
        bucket_batches=train["bucket_batches"],
        max_sentences=train["max_sentences"],
    )
    chosen = list(sampler)[:count]
    return [collate([rows[i] for i in b], PAD_ID, BOS_ID, EOS_ID) for b in chosen]


def matmul_peak(repeats: int = 10, trials: int = 3) -> float:
    """GFLOP/s of a [3000, 512] x [512, 8000] fp32 matmul (the output layer's shape), the best
    of a few trials."""
    a, b = torch.randn(3000, 512), torch.randn(512, 8000)
    for _ in range(2):
        a @ b
    best = 0.0
    for _ in range(trials):
        started = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * 3000 * 512 * 8000 * repeats / (time.perf_counter() - started) / 1e9)
    return best


def step_flops(module: Seq2SeqModule, batch) -> float:
    """Matmul FLOPs of one forward + backward on `batch`, as torch counts them."""
    counter = FlopCounterMode(display=False)
    with counter:
        loss, _ = module.loss(batch, module.label_smoothing)
        loss.backward()
    module.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def measure(module: Seq2SeqModule, data: list, warmup: int) -> dict:
    optimizer = module.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    module.train()
    tokens, started = 0, None
    for i, batch in enumerate(data):
        if i == warmup:
            started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss, n = module.loss(batch, module.label_smoothing)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
        tokens += n if i >= warmup else 0
    seconds = time.perf_counter() - started
    padded = sum(b.tgt_out.numel() for b in data[warmup:])
    return {
        "tokens": tokens,
        "tokens_per_s": tokens / seconds,
        "steps": len(data) - warmup,
        "seconds": seconds,
        "padding": 1 - tokens / padded,
        "sentences_per_batch": sum(len(b.index) for b in data) / len(data),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("data/tokenized"))
    parser.add_argument("--tokenizer", type=Path, default=Path("data/tokenizer"))
    parser.add_argument("--profiles", nargs="+", default=["reference", "cpu"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    allocator = keep_freed_memory()  # as the train stage does ($NMT_KEEP_FREED=0: not)
    torch.manual_seed(0)
    import datasets

    train = datasets.load_from_disk(str(args.data))["train"]
    longest = Rows(train).longest_source()  # concat_states' L, as the train stage sets it
    rows = Rows(train.select(range(20_000)))
    tok = load_tokenizers(args.tokenizer)
    peak = matmul_peak()
    results = []
    for profile in args.profiles:
        reference = profile == "reference"
        params = profile_params("cpu", REFERENCE_SIZES) if reference else profile_params(profile)
        count = args.warmup + args.steps
        if reference:  # batches of 64 sentences, the token budget not binding
            params["train"] |= {"max_sentences": REFERENCE_SENTENCES, "max_tokens": NO_TOKEN_LIMIT}
        data = batches(rows, params["train"], count)
        for name, spec in params["variants"].items():
            model = build_seq2seq(
                spec["arch"],
                tok.src.get_piece_size(),
                tok.tgt.get_piece_size(),
                name,
                longest,
            )
            module = Seq2SeqModule(  # the schedule is train's (fit.build_module); it costs nothing
                model,
                **spec["optim"],
                lr=params["train"]["lr"],
                scheduler="none",
                warmup_steps=params["train"]["warmup_steps"],
                pad_id=PAD_ID,
            )
            module.train()
            flops = sum(step_flops(module, b) for b in data[args.warmup :])
            system_s = resource.getrusage(resource.RUSAGE_SELF).ru_stime
            result = measure(module, data, args.warmup)
            system_s = resource.getrusage(resource.RUSAGE_SELF).ru_stime - system_s
            gflops = flops / result["seconds"] / 1e9
            results.append(
                {
                    "profile": profile,
                    "variant": name,
                    **result,
                    "mflop_per_token": flops / result["tokens"] / 1e6,
                    "gflop_per_s": gflops,
                    "matmul_peak_gflop_per_s": peak,
                    "share_of_peak": gflops / peak,
                    "system_s": system_s,  # kernel time (page faults) during warm-up and steps
                    "allocator": allocator,
                    "parameters": module.parameter_counts()["total"],
                    "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                }
            )
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def print_table(results: list[dict]) -> None:
    print(
        f"\nTraining throughput; {os.cpu_count()} cores, {platform.machine()}, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; matmul peak "
        f"{results[0]['matmul_peak_gflop_per_s']:.0f} GFLOP/s; allocator: "
        f"{results[0]['allocator']}\n"
    )
    print(
        "| config | variant | target tokens/s | vs final_state | steps | sentences/batch | "
        "padding | MFLOP/token | GFLOP/s | of peak | system s | parameters | peak RSS so far |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        base = next(
            x for x in results if x["profile"] == r["profile"] and x["variant"] == "final_state"
        )["tokens_per_s"]
        print(
            f"| {r['profile']} | {r['variant']} | {r['tokens_per_s']:,.0f} | "
            f"{r['tokens_per_s'] / base:.2f}x | {r['steps']} | {r['sentences_per_batch']:.0f} | "
            f"{r['padding']:.1%} | {r['mflop_per_token']:.1f} | {r['gflop_per_s']:.0f} | "
            f"{r['share_of_peak']:.0%} | {r['system_s']:.1f} | {r['parameters'] / 1e6:.1f} M | "
            f"{r['peak_rss_gb']:.1f} GB |"
        )


if __name__ == "__main__":
    main()
