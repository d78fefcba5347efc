"""The whole Canadian Hansard (934k training pairs) through real DVC: `dvc exp run -S
data=hansard_enfr tokenize` (download and tokenize, the stages whose work grows with the corpus)
in a temporary git repo whose `corpora` links to the real corpora, as `make corpora` sets it up.
Training and evaluating every (variant, seed) of the smoke profile on this corpus would decode
its full test sets ten times over, which tests nothing the data stages do not: the committed run
does that. Several minutes: marked slow (`.ci/run` runs it when time allows)."""

from __future__ import annotations

import gzip
import json

import datasets
import pytest
import yaml

from nmt_bottleneck.data.tokenizer import load_tokenizers, normalize
from tests.helpers import dvc

pytestmark = pytest.mark.slow


def count_pairs(directory, stem: str) -> tuple[int, int, int]:
    """(lines, pairs non-empty on both sides, pairs of 1-50 words on both sides), counted
    directly from the gzipped files, independently of the pipeline."""
    with (
        gzip.open(directory / f"{stem}.en.gz", "rt", encoding="utf-8") as en,
        gzip.open(directory / f"{stem}.fr.gz", "rt", encoding="utf-8") as fr,
    ):
        lines = nonempty = short = 0
        for s, t in zip(en, fr, strict=True):
            lines += 1
            ns, nt = len(s.split()), len(t.split())
            nonempty += ns > 0 and nt > 0
            short += 0 < ns <= 50 and 0 < nt <= 50
    return lines, nonempty, short


def test_full_hansard_download_and_tokenize(full_repo, corpora):
    repo = full_repo
    (repo / "corpora").symlink_to(corpora, target_is_directory=True)
    dvc(repo, "exp", "run", "-S", "data=hansard_enfr", "tokenize")

    directory = corpora / "hansard_enfr"
    lines, nonempty, short = count_pairs(directory, "train")
    manifest = json.loads((repo / "reports/data/manifest.json").read_text())
    assert manifest["splits"]["train"]["pairs"] == nonempty
    assert lines - nonempty == sum(manifest["splits"]["train"]["dropped"].values())
    assert nonempty > 900_000

    tokenized = datasets.load_from_disk(str(repo / "data/tokenized"))
    assert tokenized["train"].num_rows == short
    assert tokenized["test"].num_rows == count_pairs(directory, "test_unseen")[1]

    # the pipeline's own tokenizer round-trips every test_unseen sentence, both languages
    tokenizers = load_tokenizers(repo / "data/tokenizer")
    test = tokenized["test"]
    for side, model in (("src", tokenizers.src), ("tgt", tokenizers.tgt)):
        decoded = model.decode(test[f"{side}_ids"])
        wrong = [
            (t, d) for t, d in zip(test[side], decoded, strict=True) if d != normalize(model, t)
        ]
        assert not wrong, wrong[:3]

    stats = json.loads((repo / "reports/data/tokenize_stats.json").read_text())
    configured = yaml.safe_load((repo / "params.yaml").read_text())["tokenizer"]["vocab_size"]
    assert stats["vocab"]["src"] == configured  # reached in full on the real corpus
    assert "up to date" in dvc(repo, "repro", "tokenize").stdout
