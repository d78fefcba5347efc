"""Translate text with a trained variant: one sentence per line, from a file or stdin, to stdout.

    python -m pipelines.translate --model models/attention < sentences.en
    echo "Thank you, Mr. Speaker." | python -m pipelines.translate --model models/final_state \
        --search greedy

Decoding defaults come from `eval.decode` in params.yaml (what the evaluate stage uses); the
options override them. The device is the evaluate stage's (`eval.device` and
`trainer.accelerator`: CUDA where the trainer trains on a GPU and one is present), or
`--device`. The same `translate` function as the evaluate stage makes the output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.data.text_input import read_input
from nmt_bottleneck.data.tokenizer import load_tokenizers
from nmt_bottleneck.eval.device import DEVICES, decode_device
from nmt_bottleneck.eval.translate import DecodeSettings, load_model, translate
from pipelines.stage import load_params, run


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    params = load_params(args.params)
    settings = DecodeSettings.from_config(params.eval.decode)
    changes = {"search": args.search, "beam_size": args.beam_size}
    settings = DecodeSettings.from_config(
        {**settings._asdict(), **{k: v for k, v in changes.items() if v is not None}}
    )
    device = decode_device(
        args.device or params.eval.get("device"),
        params.trainer.accelerator,
        "--device" if args.device else "eval.device",
    )
    lines = read_input(args.input)
    model, _ = load_model(args.model, device)
    tokenizers = load_tokenizers(args.tokenizer)
    progress = "translating" if len(lines) > 100 else None
    out = translate(model, tokenizers, lines, settings, progress=progress)
    sys.stdout.write("".join(f"{h}\n" for h in out.hyps))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="models/<variant>/")
    parser.add_argument("--tokenizer", type=Path, default=Path("data/tokenizer"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--input", type=Path, help="a text file (default: stdin)")
    parser.add_argument("--search", choices=["greedy", "beam"])
    parser.add_argument("--beam-size", type=int)
    parser.add_argument(
        "--device", choices=DEVICES, help="decode here (default: params' eval.device, or auto)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(main)
