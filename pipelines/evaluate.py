"""evaluate@<variant>: translate every test set named in `data.test_sets`, score with sacrebleu
(`nmt_bottleneck.eval.evaluate.evaluate_variant`).

Writes `<out>/<test_set>.hyp` (and `<out>/attention.json` for a model with attention weights),
the metrics JSON (corpus BLEU and chrF per test set, as DVC metrics) and the details JSON
(`nmt_bottleneck.eval.results.Details`: signatures, decode settings, BLEU with a bootstrap
interval per source-length bucket, the `<set>_novel` views). With the W&B logger, the scores also
go into the model's training run (`nmt_bottleneck.eval.wandb_log`; its id from `--train-facts`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from nmt_bottleneck.atomic import write_json_atomic
from nmt_bottleneck.eval.evaluate import evaluate_variant
from nmt_bottleneck.eval.wandb_log import log_evaluation
from pipelines.stage import load_params, run


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    params = load_params(args.params)
    details = evaluate_variant(
        args.variant,
        params.data,
        params.eval,
        corpus=args.corpus,
        trained_on=args.trained_on,
        tokenizer=args.tokenizer,
        model=args.model,
        out=args.out,
        accelerator=params.trainer.accelerator,
    )
    write_json_atomic(details.to_json(), args.details)
    write_json_atomic(details.metrics(), args.metrics)
    trained = json.loads(args.train_facts.read_text(encoding="utf-8"))
    log_evaluation(params.logger, trained, details, args.logs)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--corpus", type=Path, required=True, help="download stage output")
    parser.add_argument(
        "--trained-on", type=Path, required=True, help="tokenize stage output: its train split"
    )
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="models/<variant>/")
    parser.add_argument("--out", type=Path, required=True, help="hypotheses folder")
    parser.add_argument("--metrics", type=Path, required=True, help="BLEU/chrF per test set")
    parser.add_argument("--details", type=Path, required=True, help="buckets, signatures")
    parser.add_argument(
        "--train-facts", type=Path, required=True, help="the train facts JSON: its W&B run"
    )
    parser.add_argument("--logs", type=Path, default=Path("logs"), help="W&B folder, as train's")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(main)
