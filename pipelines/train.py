"""DVC stage `train@<variant>-<seed>`: train one variant (`variants.<id>` in params.yaml) with one
of the training seeds (`seeds`) on its regime's pairs of the tokenized data
(nmt_bottleneck.training.fit.fit_variant). Writes `--out` (models/<id>/<seed>/: the best
weights and the config) and `--metrics` (the run's facts: steps, epochs, wall time, memory, the
machine, best validation loss, parameter counts); Lightning's checkpoints, for resuming, go to
`--checkpoints`, outside the DVC output."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.atomic import write_json_atomic
from nmt_bottleneck.code_digest import code_digest, project_roots
from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.models.loggers import experiment_group
from nmt_bottleneck.training.fit import fit_variant
from pipelines.stage import load_params, run


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    params = load_params(args.params)
    if args.variant not in params.variants:
        raise ConfigError(
            f"unknown variant {args.variant!r}; valid: "
            f"{', '.join(params.variants)}. Fix: --variant or conf/config.yaml."
        )
    if args.seed not in params.seeds:
        raise ConfigError(
            f"--seed {args.seed} is not among seeds = {list(params.seeds)} in {args.params}. "
            "Fix: add it to `seeds` in conf/config.yaml (then `make params`) or pick one of them."
        )
    result = fit_variant(
        args.variant,
        params.variants[args.variant],
        params.train,
        params.trainer,
        params.logger,
        args.seed,
        widest=params.data.max_len,
        data=args.data,
        tokenizer=args.tokenizer,
        out=args.out,
        checkpoints=args.checkpoints,
        logs=args.logs,
        group=args.group or experiment_group(params.data.name, params.profile),
        code=code_digest("pipelines.train", project_roots(("nmt_bottleneck", "pipelines"))),
    )
    if result is not None:  # DDP: rank 0 alone
        write_json_atomic(result.as_dict(), args.metrics)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="id under `variants` in params.yaml")
    parser.add_argument("--seed", type=int, required=True, help="one of `seeds` in params.yaml")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--data", type=Path, required=True, help="tokenize stage DatasetDict")
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="models/<variant>/<seed>/")
    parser.add_argument("--metrics", type=Path, required=True, help="facts JSON (DVC metric)")
    parser.add_argument("--checkpoints", type=Path, required=True, help="resumable checkpoints")
    parser.add_argument("--logs", type=Path, default=Path("logs"))
    parser.add_argument("--group", help="W&B group (default: <data.name>-<profile>)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(main)
