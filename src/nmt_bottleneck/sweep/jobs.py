"""A sweep's jobs as their folders hold them, typed: what each job was asked (its overrides,
Hydra's `.hydra/overrides.yaml`), which variant it ran and from where (`.hydra/hydra.yaml`), and
what it left: a finished job its training facts (`train.json`), its composition (`params.yaml`)
and its scores (`eval.details.json`, with the hypotheses under `evaluations/`); a failed job its
error (`error.txt`, written by `job.record_failure`), or nothing when it was killed.

A job counts as finished when it wrote its evaluation: `eval.details.json` and `eval.json`
(`job.evaluate_job` writes them last, in that order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, NamedTuple

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.errors import DataError
from nmt_bottleneck.eval.results import Details, SetScores

ERROR_FILE = "error.txt"  # in a job folder: the error that stopped it (`job.record_failure`)
SEED_KEY = "seed"  # the override that makes jobs seeds of one curve, not curves of their own


class Override(NamedTuple):
    """One of a job's overrides: its key (`data.max_len`, `model@variants.x`), as Hydra parses
    it, and its text as given (`data.max_len=30`)."""

    key: str
    text: str
    value: str


class Job(NamedTuple):
    name: str  # the job folder's name: Hydra's job number
    folder: Path
    overrides: list[Override]
    variant: str  # the job's `model` choice: its variant id
    cwd: Path  # where the sweep was launched from: the job's relative paths start there
    facts: dict[str, Any] | None  # train.json; None for a failed job
    details: Details | None  # eval.details.json; None for a failed job
    params: DictConfig | None  # params.yaml, with `sweep` (Hydra's record of it where it lacks)
    error: str | None  # a failed job's error: the first line of error.txt, or what is missing

    @property
    def status(self) -> Literal["ok", "failed"]:
        return "failed" if self.details is None else "ok"

    @property
    def seed(self) -> int | str | None:
        """The seed it trained with (train.json), else its `seed=` override, else None."""
        if self.facts is not None:
            return self.facts["seed"]
        value = next((o.value for o in self.overrides if o.key == SEED_KEY), None)
        return int(value) if value is not None and value.isdigit() else value

    def scores(self) -> dict[str, SetScores]:
        """Its whole test sets' scores, in evaluate's order (the `<set>_novel` views left out:
        they have no hypotheses of their own)."""
        sets = self.details.test_sets if self.details else {}
        return {n: t for n, t in sets.items() if t.novel_of is None}

    def hypotheses(self, test_set: str) -> Path:
        """Its hypotheses of `test_set`, one per line, aligned with the corpus's test split."""
        path = self.folder / "evaluations" / f"{test_set}.hyp"
        if not path.is_file():
            raise DataError(
                f"{path}: missing, though {self.folder / 'eval.details.json'} scores "
                f"`{test_set}`. Fix: rerun the job (its overrides: {self.command()})."
            )
        return path

    def corpus(self) -> Path:
        """The corpus it was evaluated on (`sweep.corpus`; a relative path from the sweep's
        launch folder)."""
        return self.cwd / self.params.sweep.corpus

    def command(self) -> str:
        return " ".join(o.text for o in self.overrides) or "none"


def read_jobs(sweep_dir: Path) -> list[Job]:
    """Every job folder of `sweep_dir` (one holding Hydra's `.hydra/`), in job order (0, 1, ...,
    10: by number, not as text)."""
    folders = sorted((p.parent for p in Path(sweep_dir).glob("*/.hydra")), key=job_order)
    return [read_job(f) for f in folders]


def read_job(folder: Path) -> Job:
    texts = list(OmegaConf.load(folder / ".hydra" / "overrides.yaml"))
    parsed = OverridesParser.create().parse_overrides(overrides=texts)
    overrides = [
        Override(key(o.key_or_group, o.package), text, o.get_value_element_as_str())
        for o, text in zip(parsed, texts, strict=True)
    ]
    runtime = OmegaConf.load(folder / ".hydra" / "hydra.yaml").hydra.runtime
    variant, cwd = runtime.choices.model, Path(runtime.cwd)
    if not (folder / "eval.details.json").is_file():
        return Job(folder.name, folder, overrides, variant, cwd, None, None, None, failure(folder))
    facts = json.loads((folder / "train.json").read_text(encoding="utf-8"))
    details = Details.from_json(json.loads((folder / "eval.details.json").read_text("utf-8")))
    return Job(folder.name, folder, overrides, variant, cwd, facts, details, params(folder), None)


def key(name: str, package: str | None) -> str:
    return name if package is None else f"{name}@{package}"


def params(folder: Path) -> DictConfig:
    """The job's params.yaml; its `sweep` node (the corpus) from Hydra's record of the job's
    composition (`.hydra/config.yaml`) where params.yaml leaves it out."""
    out = OmegaConf.load(folder / "params.yaml")
    if "sweep" not in out:
        out.sweep = OmegaConf.load(folder / ".hydra" / "config.yaml").sweep
    return out


def failure(folder: Path) -> str:
    """A job without an evaluation: its recorded error, or what it left (killed, or stopped by
    an error that is not ours: see its log)."""
    path = folder / ERROR_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    if lines:
        return lines[0]
    if (folder / "eval.json").is_file():
        return "eval.json but no eval.details.json (a job of an older version?): rerun it"
    return f"no eval.json and no {ERROR_FILE}"


def job_order(folder: Path) -> tuple[int, int | str]:
    return (0, int(folder.name)) if folder.name.isdigit() else (1, folder.name)
