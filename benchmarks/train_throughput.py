"""Training throughput of the three variants at the experiment profiles' sizes: target tokens
per second over timed optimizer steps (after warm-up), on real tokenized data, side by side in
one process. Prints a table; `--json FILE` also writes it.

    python benchmarks/train_throughput.py --data data/tokenized --tokenizer data/tokenizer \\
        --profiles cpu paper --steps 10
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

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from nmt_bottleneck.data.batching import TokenBudgetSampler, collate  # noqa: E402
from nmt_bottleneck.data.datamodule import Rows  # noqa: E402
from nmt_bottleneck.data.tokenizer import BOS_ID, EOS_ID, PAD_ID, load_tokenizers  # noqa: E402
from nmt_bottleneck.models.build import build_seq2seq  # noqa: E402
from nmt_bottleneck.models.lightning_module import Seq2SeqModule  # noqa: E402


def profile_params(profile: str) -> dict:
    """params.yaml for `experiment=<profile>`, composed as DVC does."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "params.yaml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.compose_params",
                f"experiment={profile}",
                "--out",
                str(out),
            ],
            cwd=ROOT,
            check=True,
            env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
        )
        return yaml.safe_load(out.read_text())


def batches(rows: Rows, max_tokens: int, count: int) -> list:
    sampler = TokenBudgetSampler(rows.lengths(), max_tokens, shuffle=True, seed=0)
    chosen = list(sampler)[:count]
    return [collate([rows[i] for i in b], PAD_ID, BOS_ID, EOS_ID) for b in chosen]


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
    parser.add_argument("--profiles", nargs="+", default=["cpu", "paper"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.manual_seed(0)
    import datasets

    rows = Rows(datasets.load_from_disk(str(args.data))["train"].select(range(20_000)))
    tok = load_tokenizers(args.tokenizer)
    results = []
    for profile in args.profiles:
        params = profile_params(profile)
        data = batches(rows, params["train"]["max_tokens"], args.warmup + args.steps)
        for name, spec in params["variants"].items():
            model = build_seq2seq(
                spec["arch"],
                tok.src.get_piece_size(),
                tok.tgt.get_piece_size(),
                name,
                rows.longest_source(),
            )
            optim = {**spec["optim"], "scheduler": "none"}  # the lr schedule costs nothing
            module = Seq2SeqModule(model, **optim, pad_id=PAD_ID)
            result = measure(module, data, args.warmup)
            results.append(
                {
                    "profile": profile,
                    "variant": name,
                    **result,
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
        f"{torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    print(
        "| profile | variant | target tokens/s | vs final_state | steps | sentences/batch | "
        "padding | parameters | peak RSS so far |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        base = next(
            x for x in results if x["profile"] == r["profile"] and x["variant"] == "final_state"
        )["tokens_per_s"]
        print(
            f"| {r['profile']} | {r['variant']} | {r['tokens_per_s']:,.0f} | "
            f"{r['tokens_per_s'] / base:.2f}x | {r['steps']} | {r['sentences_per_batch']:.0f} | "
            f"{r['padding']:.1%} | {r['parameters'] / 1e6:.1f} M | {r['peak_rss_gb']:.1f} GB |"
        )


if __name__ == "__main__":
    main()
