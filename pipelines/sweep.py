"""The Hydra multirun door: `python -m pipelines.sweep -m model=final_state,attention
data.max_len=30,50` runs one job per combination. A job composes the same conf/ as the DVC
pipeline (conf/sweep.yaml = config.yaml + the job's `model`), writes its composition as the
job's params.yaml, and calls the DVC stages' own entries (tokenize, train, evaluate) on it: there
is no second implementation. Tokenized data is made once per (data, tokenizer) setting under
`sweep.cache` and shared by the jobs that need it. Each job logs to W&B in the sweep's group
(`sweep-<the sweep's folder name>`), and the sweep ends with a summary table across jobs
(`summary.csv` and `summary.md` in the sweep folder).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.errors import ConfigError, DataError, NmtBottleneckError
from nmt_bottleneck.models.lightning_module import check_optim
from pipelines import evaluate, tokenize, train
from pipelines.stage import own_wandb_service

log = logging.getLogger("nmt_bottleneck")


def job_params(cfg: DictConfig, variant: str, out: Path) -> Path:
    """The job's params.yaml: the composition with `variants` = this job's one variant."""
    params = OmegaConf.to_container(cfg, resolve=True)
    params["variants"] = {variant: params.pop("model")}
    params.pop("sweep")
    path = out / "params.yaml"
    OmegaConf.save(OmegaConf.create(params), path)
    return path


def corpus_fingerprints(cfg: DictConfig) -> dict[str, str]:
    """The `datasets` fingerprint of each split of `sweep.corpus`, after checking that the
    download stage's manifest says it holds the data the sweep composes. The corpus is the one
    `dvc repro download` made from params.yaml, not from the sweep's `data=`: a sweep on another
    corpus would train on one and name the other."""
    corpus, manifest_path = Path(cfg.sweep.corpus), Path(cfg.sweep.manifest)
    if not (corpus / "dataset_dict.json").is_file() or not manifest_path.is_file():
        raise DataError(
            f"{corpus} or {manifest_path}: missing; the sweep jobs share the download stage's "
            "corpus. Fix: run `dvc repro download` first."
        )
    manifest = json.loads(manifest_path.read_text())
    held = (manifest["data"], manifest["src_lang"], manifest["tgt_lang"])
    composed = (cfg.data.name, cfg.data.src_lang, cfg.data.tgt_lang)
    if held != composed:
        raise ConfigError(
            f"{corpus} holds {held[0]} ({held[1]}-{held[2]}, says {manifest_path}), but the "
            f"sweep composes data={composed[0]} ({composed[1]}-{composed[2]}). Fix: add "
            f"data={held[0]} to the sweep, or download that corpus first: set `data` in "
            "conf/config.yaml, then `make params && dvc repro download`."
        )
    splits = json.loads((corpus / "dataset_dict.json").read_text())["splits"]
    return {split: train.split_fingerprint(corpus, split) for split in splits}


def cache_key(cfg: DictConfig) -> str:
    """What tokenizing depends on: the corpus, the data and the tokenizer settings, hashed."""
    settings = (
        corpus_fingerprints(cfg),
        OmegaConf.to_container(cfg.data, resolve=True),
        OmegaConf.to_container(cfg.tokenizer, resolve=True),
    )
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def tokenized(cfg: DictConfig, params: Path) -> Path:
    """data/sweep/<cache_key>: tokenized once, then reused."""
    where = Path(cfg.sweep.cache) / cache_key(cfg)
    if not (where / "stats.json").is_file():  # written last: its presence means complete
        where.mkdir(parents=True, exist_ok=True)
        tokenize.main(
            [
                *("--params", str(params), "--corpus", cfg.sweep.corpus),
                *("--tokenizer", str(where / "tokenizer"), "--out", str(where / "tokenized")),
                *("--stats", str(where / "stats.json"), "--histogram", str(where / "hist.csv")),
            ]
        )
    return where


@hydra.main(config_path="../conf", config_name="sweep", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    """One job. Our errors end the sweep with their message: Hydra would print the traceback of
    any exception that leaves the job, and SystemExit passes through it."""
    try:
        return run_job(cfg)
    except NmtBottleneckError as e:
        log.error("%s", e)
        raise SystemExit(1) from None


def run_job(cfg: DictConfig) -> dict:
    hc = HydraConfig.get()
    variant, out = hc.runtime.choices["model"], Path(hc.runtime.output_dir)
    check_optim(cfg.model.optim, cfg.train.max_steps, "model.optim")
    params = job_params(cfg, variant, out)
    data = tokenized(cfg, params)
    group = f"sweep-{Path(hc.sweep.dir).name}" if hc.mode.name == "MULTIRUN" else None
    train.main(
        [
            *("--variant", variant, "--params", str(params), "--data", str(data / "tokenized")),
            *("--tokenizer", str(data / "tokenizer"), "--out", str(out / "models" / variant)),
            *("--metrics", str(out / "train.json"), "--checkpoints", str(out / "checkpoints")),
            *("--logs", str(out / "logs")),
            *(("--group", group) if group else ()),
        ]
    )
    evaluate.main(
        [
            *("--variant", variant, "--params", str(params), "--corpus", cfg.sweep.corpus),
            *("--trained-on", str(data / "tokenized"), "--tokenizer", str(data / "tokenizer")),
            *("--model", str(out / "models" / variant)),
            *("--out", str(out / "evaluations"), "--metrics", str(out / "eval.json")),
            *("--details", str(out / "eval.details.json")),
        ]
    )
    summarize(Path(hc.sweep.dir) if hc.mode.name == "MULTIRUN" else out.parent)
    return json.loads((out / "eval.json").read_text())


def summarize(sweep_dir: Path) -> None:
    """summary.csv / summary.md: one row per finished job (overrides, BLEU per test set)."""
    rows = []
    for job in sorted(sweep_dir.glob("*/eval.json")):
        overrides = OmegaConf.load(job.parent / ".hydra" / "overrides.yaml")
        train_facts = json.loads((job.parent / "train.json").read_text())
        row = {"job": job.parent.name, "overrides": " ".join(overrides)}
        row |= {"steps": train_facts["steps"], "best_val_loss": train_facts["best_val_loss"]}
        row |= {f"{t}_bleu": m["bleu"] for t, m in json.loads(job.read_text()).items()}
        rows.append(row)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(sweep_dir / "summary.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    (sweep_dir / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def cli() -> None:
    own_wandb_service()  # a sweep killed in a notebook's terminal must not strand its runs there
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    main()


if __name__ == "__main__":
    cli()
