"""The download stage on local aligned files: good input round-trips, and every bad input gets an
error that names the file, the line and the fix, and leaves no output behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf

from nmt_bottleneck.data.corpus import load_corpus, save_corpus
from nmt_bottleneck.data.download import download_corpus
from nmt_bottleneck.errors import NmtBottleneckError
from tests.helpers import run_module, write_lines

EN = ["The House met at two.", "Some hon. members: Agreed.", "I thank the minister."]
FR = ["La séance est ouverte à deux heures.", "Des voix: D'accord.", "Je remercie la ministre."]


def data_for(directory: Path, **source) -> DictConfig:
    """The `data` config for hansard-style local files in `directory`."""
    return OmegaConf.create(
        {
            "name": "local_test",
            "src_lang": "en",
            "tgt_lang": "fr",
            "input": str(directory),
            "min_len": 1,
            "max_len": 50,
            "source": {
                "_target_": "nmt_bottleneck.data.sources.local_text.LocalTextSource",
                "directory": str(directory),
                "src_lang": "en",
                "tgt_lang": "fr",
                "splits": {"train": "train", "test": "test"},
                "max_line_chars": 1000,
                **source,
            },
        }
    )


def run_download(tmp_path: Path, data: DictConfig) -> tuple[Path, Path]:
    """The download stage's library call and its writes."""
    out, manifest = tmp_path / "out" / "corpus", tmp_path / "out" / "manifest.json"
    downloaded = download_corpus(data)
    save_corpus(downloaded.corpus, out, downloaded.manifest, manifest)
    return out, manifest


def expect_failure(tmp_path: Path, data: DictConfig, *fragments: str) -> str:
    """Expect the download to fail with every fragment and a fix in the message, and leave no
    output, not even a temporary one, behind."""
    out_parent = tmp_path / "out"
    with pytest.raises(NmtBottleneckError) as exc:
        run_download(tmp_path, data)
    message = str(exc.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "Fix:" in message
    assert not out_parent.exists() or not any(out_parent.iterdir())
    return message


def test_the_stage_prints_the_message_alone_and_exits_1(tmp_path):
    """As DVC runs it (a child process): exit status 1, the message without a traceback."""
    corpus_dir = tmp_path / "corpus"
    write_lines(corpus_dir / "train.en", EN)
    write_lines(corpus_dir / "train.fr", FR[:-1])
    params = tmp_path / "params.yaml"
    OmegaConf.save(OmegaConf.create({"data": data_for(corpus_dir)}), params)
    out, manifest = tmp_path / "out" / "corpus", tmp_path / "out" / "manifest.json"
    result = run_module(
        "pipelines.download",
        *("--params", str(params), "--out", str(out), "--manifest", str(manifest)),
    )
    assert result.returncode == 1, result.stderr
    assert f"{corpus_dir / 'train.en'} has {len(EN)} lines" in result.stderr
    assert "Fix:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_reads_aligned_files_plain_or_gzip(tmp_path, suffix):
    corpus_dir = tmp_path / "corpus"
    for split in ("train", "test"):
        write_lines(corpus_dir / f"{split}.en{suffix}", EN)
        write_lines(corpus_dir / f"{split}.fr{suffix}", FR)
    out, manifest_path = run_download(tmp_path, data_for(corpus_dir))
    corpus = load_corpus(out)
    assert corpus["train"]["src"] == EN and corpus["train"]["tgt"] == FR
    assert corpus["test"]["line"] == [1, 2, 3]
    manifest = json.loads(manifest_path.read_text())
    assert manifest["splits"]["train"]["pairs"] == len(EN)
    files = manifest["source"]["files"]["train"]
    assert [Path(f["path"]).name for f in files] == [f"train.en{suffix}", f"train.fr{suffix}"]
    import hashlib

    assert files[0]["sha256"] == hashlib.sha256(Path(files[0]["path"]).read_bytes()).hexdigest()


def test_lines_empty_on_one_side_are_dropped_and_counted(tmp_path):
    en = ["one", "", "three", "  ", "five", ""]
    fr = ["un", "deux", "", "", "cinq", "six"]
    corpus_dir = tmp_path / "corpus"
    for split in ("train", "test"):
        write_lines(corpus_dir / f"{split}.en", en)
        write_lines(corpus_dir / f"{split}.fr", fr)
    out, manifest_path = run_download(tmp_path, data_for(corpus_dir))
    kept = [
        (s, t, n) for n, (s, t) in enumerate(zip(en, fr, strict=True), 1) if s.strip() and t.strip()
    ]
    corpus = load_corpus(out)["train"]
    assert list(zip(corpus["src"], corpus["tgt"], corpus["line"], strict=True)) == kept
    dropped = json.loads(manifest_path.read_text())["splits"]["train"]["dropped"]
    assert dropped == {
        "empty_source": sum(1 for s, t in zip(en, fr, strict=True) if not s.strip() and t.strip()),
        "empty_target": sum(1 for s, t in zip(en, fr, strict=True) if s.strip() and not t.strip()),
        "empty_both": sum(
            1 for s, t in zip(en, fr, strict=True) if not s.strip() and not t.strip()
        ),
    }


def test_unequal_line_counts(tmp_path):
    corpus_dir = tmp_path / "corpus"
    write_lines(corpus_dir / "train.en", EN)
    write_lines(corpus_dir / "train.fr", FR[:-1])
    write_lines(corpus_dir / "test.en", EN)
    write_lines(corpus_dir / "test.fr", FR)
    expect_failure(
        tmp_path,
        data_for(corpus_dir),
        str(corpus_dir / "train.en"),
        f"has {len(EN)} lines",
        str(corpus_dir / "train.fr"),
        f"has {len(FR) - 1}",
    )


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_invalid_utf8_names_the_line(tmp_path, suffix):
    corpus_dir = tmp_path / "corpus"
    bad_line = 2  # 1-based: the Latin-1 "é" below sits on this line
    raw = "\n".join(FR).encode("utf-8").split(b"\n")
    raw[bad_line - 1] = "Des voix: réglé.".encode("latin-1")
    write_lines(corpus_dir / f"train.fr{suffix}", b"\n".join(raw) + b"\n")
    write_lines(corpus_dir / f"train.en{suffix}", EN)
    expect_failure(
        tmp_path,
        data_for(corpus_dir),
        f"train.fr{suffix}: line {bad_line}",
        "not valid UTF-8",
        "iconv",
    )


def test_missing_directory(tmp_path):
    missing = tmp_path / "no_such_corpus"
    expect_failure(tmp_path, data_for(missing), str(missing), "not found", "make corpora")


def test_missing_split_file_lists_what_is_there(tmp_path):
    corpus_dir = tmp_path / "corpus"
    write_lines(corpus_dir / "train.en", EN)
    write_lines(corpus_dir / "train.fr", FR)
    write_lines(corpus_dir / "valid.en", EN)
    expect_failure(
        tmp_path,
        data_for(corpus_dir),
        str(corpus_dir / "test.en"),
        "split file not found",
        "train.en, train.fr",
        "data.source.splits",
    )


def test_empty_corpus_file(tmp_path):
    corpus_dir = tmp_path / "corpus"
    write_lines(corpus_dir / "train.en", b"")
    write_lines(corpus_dir / "train.fr", b"")
    expect_failure(tmp_path, data_for(corpus_dir), str(corpus_dir / "train.en"), "empty")


def test_all_pairs_empty_on_a_side(tmp_path):
    corpus_dir = tmp_path / "corpus"
    write_lines(corpus_dir / "train.en", ["a", "", "c"])
    write_lines(corpus_dir / "train.fr", ["", "b", " "])
    expect_failure(
        tmp_path,
        data_for(corpus_dir),
        str(corpus_dir / "train.en"),
        "no usable sentence pair",
        "3 lines read",
    )


def test_absurdly_long_line(tmp_path):
    corpus_dir = tmp_path / "corpus"
    limit = 1000
    en = [*EN, "word " * (limit // 5 + 10)]
    write_lines(corpus_dir / "train.en", en)
    write_lines(corpus_dir / "train.fr", [*FR, "mot"])
    expect_failure(
        tmp_path,
        data_for(corpus_dir, max_line_chars=limit),
        f"train.en: line {len(en)}",
        f"has {len(en[-1])} characters",
        "data.source.max_line_chars",
    )


def test_corrupt_gzip(tmp_path):
    corpus_dir = tmp_path / "corpus"
    write_lines(corpus_dir / "train.en.gz", EN)
    (corpus_dir / "train.fr.gz").write_bytes(b"\x1f\x8b\x08\x00 this is not deflate data")
    expect_failure(tmp_path, data_for(corpus_dir), str(corpus_dir / "train.fr.gz"), "gzip")


def test_plain_and_gzip_both_present_is_ambiguous(tmp_path):
    corpus_dir = tmp_path / "corpus"
    write_lines(corpus_dir / "train.en", EN)
    write_lines(corpus_dir / "train.en.gz", EN)
    write_lines(corpus_dir / "train.fr", FR)
    expect_failure(tmp_path, data_for(corpus_dir), "train.en", "train.en.gz", "ambiguous")


def test_unknown_source_key_lists_valid_keys(tmp_path):
    corpus_dir = tmp_path / "corpus"
    expect_failure(
        tmp_path,
        data_for(corpus_dir, max_line_char=5),
        "data.source.max_line_char",
        "valid keys of data.source",
        "max_line_chars",
    )


def test_a_failed_run_keeps_the_previous_output(tmp_path):
    corpus_dir = tmp_path / "corpus"
    for split in ("train", "test"):
        write_lines(corpus_dir / f"{split}.en", EN)
        write_lines(corpus_dir / f"{split}.fr", FR)
    data = data_for(corpus_dir)
    out, manifest = run_download(tmp_path, data)
    before = manifest.read_text()
    write_lines(corpus_dir / "test.fr", FR[:1])  # now broken
    with pytest.raises(NmtBottleneckError):
        run_download(tmp_path, data)
    assert manifest.read_text() == before
    assert load_corpus(out)["test"]["tgt"] == FR
    assert sorted(p.name for p in out.parent.iterdir()) == ["corpus", "manifest.json"]


def test_splits_without_train_are_refused(tmp_path):
    corpus_dir = tmp_path / "corpus"
    write_lines(corpus_dir / "test.en", EN)
    write_lines(corpus_dir / "test.fr", FR)
    data = data_for(corpus_dir, splits={"test": "test"})
    expect_failure(tmp_path, data, "no `train` split", "data.source.splits")


def composed_data(tmp_path: Path, *overrides: str) -> DictConfig:
    """The `data` node of `data=local_text` composed from conf/ with `overrides`, as
    `dvc exp run -S` composes it (by the compose_params entry, in a child process)."""
    params = tmp_path / "params.yaml"
    result = run_module(
        "pipelines.compose_params", "data=local_text", *overrides, "--out", str(params)
    )
    assert result.returncode == 0, result.stderr
    return OmegaConf.load(params).data


def test_other_split_names_map_by_override(tmp_path):
    """The README's recipe: `-S data.source.splits.valid=valid_unseen` reads the valid split
    from `valid_unseen.<lang>`."""
    corpus_dir = tmp_path / "corpus"
    files = {"train": (EN, FR), "valid_unseen": (EN[:2], FR[:2]), "test": (EN[1:], FR[1:])}
    for stem, (en, fr) in files.items():
        write_lines(corpus_dir / f"{stem}.en.gz", en)
        write_lines(corpus_dir / f"{stem}.fr.gz", fr)
    data = composed_data(
        tmp_path, f"data.input={corpus_dir}", "data.source.splits.valid=valid_unseen"
    )
    assert dict(data.source.splits) == {"train": "train", "valid": "valid_unseen", "test": "test"}
    corpus = load_corpus(run_download(tmp_path, data)[0])
    assert sorted(corpus) == ["test", "train", "valid"]
    assert (corpus["valid"]["src"], corpus["valid"]["tgt"]) == files["valid_unseen"]
    assert (corpus["test"]["src"], corpus["test"]["tgt"]) == files["test"]


def test_a_split_mapped_to_a_missing_stem_names_the_key_and_the_files(tmp_path):
    corpus_dir = tmp_path / "corpus"
    for stem in ("train", "valid", "test"):
        write_lines(corpus_dir / f"{stem}.en", EN)
        write_lines(corpus_dir / f"{stem}.fr", FR)
    data = composed_data(tmp_path, f"data.input={corpus_dir}", "data.source.splits.test=tst")
    expect_failure(
        tmp_path,
        data,
        f"{corpus_dir / 'tst.en'}[.gz]: split file not found",
        "data.source.splits.test = 'tst'",
        "test.en, test.fr, train.en, train.fr, valid.en, valid.fr",
        "-S data.source.splits.test=<stem>",
    )
