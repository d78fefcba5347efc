"""Attention's energy pass, the readable form against `additive_energy`, side by side.

    python benchmarks/attention_energy.py [--repeats 30] [--threads N] [--json FILE]

e = v^T tanh(W s + U h) over an [M, K, S, A] intermediate is what attention adds to every
decoder step. Four ways, timed interleaved (one call of each in turn, `--repeats` rounds, the
best reported: on a shared machine the best is the least disturbed) on the shapes of training
(forward and backward), greedy and beam search:
- readable: F.linear(tanh(w_s + u_h), v), in one pass;
- readable, in parts: the same, in cache-sized parts of whole Memory rows;
- sigmoid, whole: `additive_energy` with its parts switched off (one pass);
- sigmoid, in parts: `additive_energy` as the model runs it on a CPU.
Then end to end, an attention model at `experiment=cpu`'s sizes (built by build_seq2seq,
random weights, vocabulary 8,000): one training step (forward, backward) of 64 sentences of 25
tokens, and greedy search over 250 sources of 25 tokens (30 steps each), with the model's
`additive_energy` and with the readable form in its place.
Prints tables and the ratios to the readable form; results in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch
from torch import Tensor

from nmt_bottleneck.models import context
from nmt_bottleneck.models.build import build_seq2seq
from nmt_bottleneck.models.search import greedy

CPU_ARCH = {  # experiment=cpu's attention variant (conf/model/_shared.yaml, attention.yaml)
    "cell": "gru",
    "emb_size": 128,
    "hidden_size": 128,
    "decoder_hidden_size": 256,
    "bidirectional": True,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "dropout": 0.0,
    "output_size": 256,
    "maxout": True,
    "tie_embeddings": False,
    "init": "uniform",
    "init_range": 0.1,
    "context": {
        "_target_": "nmt_bottleneck.models.context.BahdanauAttention",
        "attention_size": 256,
    },
}

# (name, M rows, K queries per row, S source length, A attention size, backward too)
SHAPES = [
    ("training, batch of 64 x 25, A 256", 64, 1, 25, 256, True),
    ("training, batch of 64 x 25, A 512", 64, 1, 25, 512, True),
    ("greedy, 250 x 25, A 256", 250, 1, 25, 256, False),
    ("greedy, 250 x 25, A 512", 250, 1, 25, 512, False),
    ("beam 5, 250 x 5 x 25, A 256", 250, 5, 25, 256, False),
    ("beam 5, 250 x 5 x 25, A 512", 250, 5, 25, 512, False),
]


def in_parts(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Callable:
    def run(w_s: Tensor, u_h: Tensor, v: Tensor) -> Tensor:
        rows, k, _, size = w_s.shape
        step = max(1, context.CPU_PASS_ELEMENTS // (k * u_h.shape[2] * size))
        return torch.cat(
            [fn(w_s[i : i + step], u_h[i : i + step], v) for i in range(0, rows, step)]
        )

    return run


def sigmoid_whole(w_s: Tensor, u_h: Tensor, v: Tensor) -> Tensor:
    saved, context.CPU_PASS_ELEMENTS = context.CPU_PASS_ELEMENTS, 2**62
    try:
        return context.additive_energy(w_s, u_h, v)
    finally:
        context.CPU_PASS_ELEMENTS = saved


WAYS = {
    "readable": context.readable_energy,
    "readable, in parts": in_parts(context.readable_energy),
    "sigmoid, whole": sigmoid_whole,
    "sigmoid, in parts": context.additive_energy,
}


def time_shape(rows: int, k: int, src: int, size: int, backward: bool, repeats: int) -> dict:
    g = torch.Generator().manual_seed(0)
    w_s = torch.randn(rows, k, 1, size, generator=g, requires_grad=backward)
    u_h = torch.randn(rows, 1, src, size, generator=g, requires_grad=backward)
    v = torch.randn(1, size, generator=g, requires_grad=backward)
    times: dict[str, list[float]] = {name: [] for name in WAYS}
    for _ in range(repeats + 2):  # two warm-up rounds
        for name, fn in WAYS.items():
            start = time.perf_counter()
            with torch.set_grad_enabled(backward):
                e = fn(w_s, u_h, v)
                if backward:
                    torch.autograd.grad(e.square().sum(), [w_s, u_h, v])
            times[name].append(time.perf_counter() - start)
    return {name: min(t[2:]) * 1e3 for name, t in times.items()}


def end_to_end(repeats: int) -> dict[str, dict[str, float]]:
    """ms per training step and per greedy batch, with additive_energy and the readable form."""
    torch.manual_seed(0)
    model = build_seq2seq(CPU_ARCH, 8000, 8000, "benchmark", 100)
    g = torch.Generator().manual_seed(0)
    src = torch.randint(4, 8000, (250, 25), generator=g)
    src_lens = torch.full((250,), 25)
    tgt_in = torch.randint(4, 8000, (64, 25), generator=g)

    def train_step() -> None:
        model.train()
        logits = model(src[:64], src_lens[:64], tgt_in).logits
        torch.autograd.grad(logits.logsumexp(-1).sum(), list(model.parameters()))

    def decode() -> None:
        model.eval()
        greedy(model, src, src_lens, 0.01, 30)  # floor(0.01 * 25) + 30 = 30 steps at most

    results: dict[str, dict[str, float]] = {}
    energies = {"readable": context.readable_energy, "additive_energy": context.additive_energy}
    for task, fn in (
        ("training step, 64 x 25", train_step),
        ("greedy, 250 x 25, 30 steps", decode),
    ):
        times: dict[str, list[float]] = {name: [] for name in energies}
        for _ in range(repeats + 1):
            for name, energy in energies.items():
                context.additive_energy = energy  # the name BahdanauAttention.forward calls
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        context.additive_energy = energies["additive_energy"]
        results[task] = {name: min(t[1:]) * 1e3 for name, t in times.items()}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {args.repeats}")
    print("| shape | " + " | ".join(f"{n} (ms)" for n in WAYS) + " | readable / sigmoid in parts |")
    print("|---|" + "---:|" * (len(WAYS) + 1))
    results = []
    for name, rows, k, src, size, backward in SHAPES:
        ms = time_shape(rows, k, src, size, backward, args.repeats)
        ratio = ms["readable"] / ms["sigmoid, in parts"]
        cells = " | ".join(f"{ms[n]:.2f}" for n in WAYS)
        print(f"| {name}{' (+ backward)' if backward else ''} | {cells} | {ratio:.2f}x |")
        results.append({"shape": name, "backward": backward, "ms": ms})
    print("\n| end to end, `cpu` sizes | readable (ms) | additive_energy (ms) | ratio |")
    print("|---|---:|---:|---:|")
    whole = end_to_end(max(3, args.repeats // 5))
    for task, ms in whole.items():
        ratio = ms["readable"] / ms["additive_energy"]
        print(f"| {task} | {ms['readable']:.1f} | {ms['additive_energy']:.1f} | {ratio:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"energy": results, "end_to_end": whole}, f, indent=1)


if __name__ == "__main__":
    main()
