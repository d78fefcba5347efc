"""What the sweep tests share: the checks of a sweep's W&B run `sweep-summary` and of a CSV cell,
and sweep folders made by hand, as the jobs of a Hydra multirun leave them (pipelines/sweep.py,
nmt_bottleneck/sweep/job.py): Hydra's `.hydra/` (overrides.yaml; hydra.yaml with the launch
folder and the `model` choice; config.yaml, whose `sweep.corpus` is relative to that folder), and
for a finished job params.yaml (without `sweep`, as `job.job_params` writes it), train.json,
the hypotheses `evaluations/test.hyp` and their scores, eval.details.json and eval.json, scored
by the evaluate stage's own `score` over a saved corpus (tests/seeded.py's test set); for a
failed job its error.txt, or nothing (a killed job)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import datasets
from omegaconf import OmegaConf

from nmt_bottleneck.eval.buckets import source_buckets
from nmt_bottleneck.eval.evaluate import score
from nmt_bottleneck.eval.results import Details
from nmt_bottleneck.eval.translate import DecodeSettings
from tests.seeded import EDGES, make_test_set
from tests.wandb_log import md5_base64, summarize

CORPUS = "corpus"  # sweep.corpus, relative to the launch folder (the sweep folder's parent)
EVAL = {"bucket_edges": EDGES, "min_bucket": 10, "bootstrap_samples": 60, "bootstrap_seed": 12345}
CSV_LOGGER = {"kind": "csv", "project": "nmt-bottleneck-test", "mode": "offline"}
WANDB_LOGGER = {**CSV_LOGGER, "kind": "wandb"}


def saved_corpus(launch: Path) -> tuple[list[str], list[str]]:
    """tests/seeded.py's test set (90 sentences of 1..70 words) saved as `launch/corpus`'s test
    split (and a tiny train split: a saved corpus has one); its sources and references."""
    srcs, refs = make_test_set()
    test = datasets.Dataset.from_dict({"src": srcs, "tgt": refs})
    train = datasets.Dataset.from_dict({"src": srcs[:3], "tgt": refs[:3]})
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(launch / CORPUS))
    return srcs, refs


def job_folder(sweep: Path, name: str, overrides: list[str], variant: str = "attention") -> Path:
    """A job folder with Hydra's record of the job, and nothing else (a job killed at once)."""
    hydra = sweep / name / ".hydra"
    hydra.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(overrides), hydra / "overrides.yaml")
    runtime = {"cwd": str(sweep.parent), "choices": {"model": variant}}
    OmegaConf.save(OmegaConf.create({"hydra": {"runtime": runtime}}), hydra / "hydra.yaml")
    OmegaConf.save(OmegaConf.create({"sweep": {"corpus": CORPUS}}), hydra / "config.yaml")
    return sweep / name


def failed_job(
    sweep: Path, name: str, overrides: list[str], error: str | None, variant: str = "attention"
) -> None:
    """A job stopped by our error (`error` written to error.txt) or killed (`error` None)."""
    folder = job_folder(sweep, name, overrides, variant)
    if error is not None:
        (folder / "error.txt").write_text(error + "\n")


def finished_job(
    sweep: Path,
    name: str,
    overrides: list[str],
    hyps: list[str],
    seed: int,
    variant: str = "attention",
    eval_cfg: dict | None = None,
    logger: dict | None = None,
) -> dict:
    """A finished job whose hypotheses of `test` are `hyps` (over `saved_corpus`); returns its
    eval.details.json."""
    folder = job_folder(sweep, name, overrides, variant)
    eval_cfg = OmegaConf.create(eval_cfg or EVAL)
    params = {
        "data": {"name": "synthetic"},
        "profile": "smoke",
        "eval": eval_cfg,
        "judge": {"baseline": "final_state"},
        "logger": logger or CSV_LOGGER,
        "variants": {variant: {"max_len": 50}},
    }
    OmegaConf.save(OmegaConf.create(params), folder / "params.yaml")
    steps = 5 + int(name)
    facts = {"variant": variant, "seed": seed, "steps": steps, "best_val_loss": 1 / steps}
    (folder / "train.json").write_text(json.dumps(facts))
    (folder / "evaluations").mkdir()
    (folder / "evaluations/test.hyp").write_text("".join(f"{h}\n" for h in hyps))
    split = datasets.load_from_disk(str(sweep.parent / CORPUS))["test"]
    srcs, refs = list(split["src"]), list(split["tgt"])
    buckets = source_buckets(srcs, eval_cfg.bucket_edges, eval_cfg.min_bucket)
    scores = score(hyps, srcs, refs, eval_cfg, buckets)
    view = scores._replace(novel_of="test", near_duplicates=1)  # no hypotheses of its own
    decode = DecodeSettings("greedy", 1, 1.0, 1.5, 6000)
    details = Details(variant, decode, {}, {"test": scores, "test_novel": view}, {}).to_json()
    (folder / "eval.details.json").write_text(json.dumps(details))
    (folder / "eval.json").write_text(json.dumps({"test": scores.metrics()}))
    return details


def same(text: str, number: float | int | None) -> bool:
    """A CSV cell holds the JSON's number (None: empty; NaN: nan)."""
    if number is None:
        return text == ""
    if isinstance(number, float) and math.isnan(number):
        return text == "nan"
    return float(text) == number


def check_summary_run(sweep: Path) -> None:
    """The sweep's W&B run (tests/wandb_log.py reads its `.wandb` file): `sweep-summary` in
    group `sweep-<folder>`, finished cleanly; its table holds summary.csv's rows, each figure
    is an image, and summary.md with those figures is its artifact of type `sweep-summary`."""
    (run,) = (sweep / "logs/wandb").glob("offline-run-*/run-*.wandb")
    logged = summarize(run)
    name, group = "sweep-summary", f"sweep-{sweep.name}"
    assert (logged["name"], logged["group"], logged["job_type"]) == (name, group, name)
    assert logged["exit_code"] == 0
    (history,) = logged["history"]
    assert history["summary/_type"] == "table-file"
    stored = json.loads((run.parent / "files" / history["summary/path"]).read_text())
    rows = list(csv.reader((sweep / "summary.csv").open()))
    assert [stored["columns"], *stored["data"]] == rows
    pngs = sorted(sweep.glob("bleu_vs_length_*.png"))
    assert pngs
    for png in pngs:
        image = f"figures/{png.stem}/"
        assert history[image + "_type"] == "image-file"
        assert (run.parent / "files" / history[image + "path"]).stat().st_size > 0
    (artifact,) = [a for a in logged["artifacts"] if a["type"] == name]
    kept = [sweep / "summary.md", *pngs]  # summary.md and the figures it shows, as written
    assert artifact["contents"] == {p.name: md5_base64(p) for p in kept}
