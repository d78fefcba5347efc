"""Word counts, the training length filter and its drop reasons, and encoding to int32 ids."""

from __future__ import annotations

import random

import datasets
import pytest

from nmt_bottleneck.data.corpus import column
from nmt_bottleneck.data.encode import add_word_counts, encode, filter_by_length, length_histogram
from nmt_bottleneck.data.length import word_count
from nmt_bottleneck.data.tokenizer import SubwordTrainer
from nmt_bottleneck.errors import ConfigError, DataError


def test_word_count_is_whitespace_words():
    assert word_count("Mr. Speaker, I rise.") == 4
    assert word_count("  deux\tmots\n") == 2
    assert word_count("l'honorable député") == 2
    assert word_count("") == 0
    assert word_count("non\u00a0breaking space") == 3  # NBSP is whitespace to str.split


def random_corpus(n: int, seed: int) -> datasets.DatasetDict:
    rng = random.Random(seed)
    words = "a bb ccc dddd".split()

    def sentence() -> str:
        return " ".join(rng.choices(words, k=rng.randint(1, 70)))

    rows = {
        "src": [sentence() for _ in range(n)],
        "tgt": [sentence() for _ in range(n)],
        "line": list(range(1, n + 1)),
    }
    return datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows)})


def test_a_column_read_through_arrow_equals_the_rows_values_also_after_a_selection():
    split = add_word_counts(random_corpus(300, seed=3))["train"]
    picked = split.select([7, 3, 250, 3], keep_in_memory=True)  # an indices mapping, reordered
    for data in (split, picked):
        for name in ("src", "line", "src_words"):
            assert column(data, name) == [row[name] for row in data]
    assert column(picked, "line") == [8, 4, 251, 4]


@pytest.mark.parametrize("min_len, max_len", [(1, 50), (1, 30), (5, 40)])
def test_length_filter_keeps_exactly_the_pairs_in_range(min_len, max_len):
    corpus = add_word_counts(random_corpus(500, seed=max_len))
    kept, dropped = filter_by_length(corpus["train"], min_len, max_len)
    src, tgt = corpus["train"]["src"], corpus["train"]["tgt"]

    def ok(s: str) -> bool:
        return min_len <= len(s.split()) <= max_len

    expected = [i + 1 for i, (s, t) in enumerate(zip(src, tgt, strict=True)) if ok(s) and ok(t)]
    assert kept["line"] == expected
    assert dropped["dropped_pairs"] == len(src) - len(expected)
    assert dropped["source_too_long"] == sum(len(s.split()) > max_len for s in src)
    assert dropped["target_too_long"] == sum(len(t.split()) > max_len for t in tgt)
    assert dropped["source_too_short"] == sum(len(s.split()) < min_len for s in src)


def test_length_filter_errors():
    corpus = add_word_counts(random_corpus(20, seed=1))
    with pytest.raises(ConfigError, match=r"data\.min_len"):
        filter_by_length(corpus["train"], 10, 5)
    with pytest.raises(DataError, match=r"raise data\.max_len"):
        filter_by_length(corpus["train"], 1000, 2000)


def test_encode_adds_int32_ids_equal_to_the_tokenizer(tmp_path):
    corpus = add_word_counts(random_corpus(300, seed=3))
    train = corpus["train"]
    tokenizers = SubwordTrainer("bpe", 300, True, 1.0, 10_000, 1, 2).train(
        train["src"], train["tgt"], tmp_path
    )
    encoded = encode(corpus, tokenizers)["train"]
    assert encoded.features["src_ids"].feature.dtype == "int32"
    assert encoded["src_ids"] == [tokenizers.src.encode(s) for s in train["src"]]
    assert encoded["tgt_ids"][7] == tokenizers.tgt.encode(train["tgt"][7])
    assert encoded["src"] == train["src"] and encoded["line"] == train["line"]


def test_length_histogram_gives_each_splits_percentages():
    corpus = add_word_counts(random_corpus(200, seed=4))
    corpus["test"] = add_word_counts(random_corpus(50, seed=9))["train"]
    rows = length_histogram(corpus)
    for name in ("train", "test"):
        lengths = [len(s.split()) for s in corpus[name]["src"]]
        assert sum(r[name] for r in rows) == pytest.approx(100)
        for row in rows:
            assert row[name] == pytest.approx(100 * lengths.count(row["src_words"]) / len(lengths))
    assert [r["src_words"] for r in rows] == sorted(
        {len(s.split()) for name in corpus for s in corpus[name]["src"]}
    )


def test_saved_encoding_does_not_depend_on_the_thread_count(tmp_path):
    """DVC hashes the saved folder: it must be the same on a 2-core and a 64-core machine."""
    corpus = add_word_counts(random_corpus(300, seed=5))
    train = corpus["train"]
    tokenizers = SubwordTrainer("unigram", 300, True, 1.0, 10_000, 1, 2).train(
        train["src"], train["tgt"], tmp_path
    )
    saved = []
    for threads in (1, 3):
        folder = tmp_path / f"threads{threads}"
        encode(corpus, tokenizers, threads=threads).save_to_disk(str(folder))
        saved.append(
            {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        )
    assert saved[0] == saved[1]
