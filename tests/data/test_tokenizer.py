"""Subword tokenizer: specials, the round trip detokenize(tokenize(s)) == normalize(s) on the
real Hansard test set, byte fallback for unseen characters, joint and separate vocabularies."""

from __future__ import annotations

import gzip
import itertools
import unicodedata

import pytest

from nmt_bottleneck.data.tokenizer import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    SubwordTrainer,
    load_tokenizers,
    normalize,
)
from nmt_bottleneck.errors import ConfigError


def read_gz(path, limit=None):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in itertools.islice(f, limit)]


def trainer(**changes) -> SubwordTrainer:
    args = dict(
        model_type="unigram",
        vocab_size=4000,
        joint=True,
        character_coverage=1.0,
        input_sentence_size=200_000,
        seed=1,
        num_threads=2,
    )
    return SubwordTrainer(**{**args, **changes})


@pytest.fixture(scope="module")
def hansard_tokenizers(corpora, tmp_path_factory):
    """A joint tokenizer trained on the first 40k Hansard training pairs (the test set is never
    seen in training, as in the pipeline)."""
    directory = corpora / "hansard_enfr"
    src = read_gz(directory / "train.en.gz", 40_000)
    tgt = read_gz(directory / "train.fr.gz", 40_000)
    return trainer().train(src, tgt, tmp_path_factory.mktemp("tok"))


def test_specials_have_fixed_ids(hansard_tokenizers):
    sp = hansard_tokenizers.src
    assert [sp.id_to_piece(i) for i in (PAD_ID, UNK_ID, BOS_ID, EOS_ID)] == [
        "<pad>",
        "<unk>",
        "<s>",
        "</s>",
    ]
    ids = sp.encode("Mr. Speaker, I rise on a point of order.")
    assert BOS_ID not in ids and EOS_ID not in ids and PAD_ID not in ids


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_round_trip_on_the_hansard_test_set(hansard_tokenizers, corpora, lang):
    sp = hansard_tokenizers.src
    lines = [s for s in read_gz(corpora / "hansard_enfr" / f"test.{lang}.gz") if s.strip()]
    assert len(lines) > 9000
    decoded = sp.decode(sp.encode(lines))
    mismatches = [(s, d) for s, d in zip(lines, decoded, strict=True) if d != normalize(sp, s)]
    assert not mismatches, mismatches[:3]
    # normalization is NFKC plus whitespace collapsing: check it independently of SentencePiece
    expected = [" ".join(unicodedata.normalize("NFKC", s).split()) for s in lines]
    assert decoded == expected


def test_unseen_characters_round_trip_through_bytes(hansard_tokenizers):
    sp = hansard_tokenizers.src
    text = "Député Žižek a dit « 議会 » 🙂 — voilà"
    ids = sp.encode(text)
    assert UNK_ID not in ids
    assert sp.decode(ids) == normalize(sp, text)


def test_separate_vocabularies_are_written_and_loaded(tmp_path):
    src = [f"the cat number {i} sat on mat {i % 7}" for i in range(2000)]
    tgt = [f"le chat numéro {i} était sur tapis {i % 7}" for i in range(2000)]
    trainer(joint=False, vocab_size=400).train(src, tgt, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "src.model",
        "tgt.model",
        "tokenizer.json",
    ]
    loaded = load_tokenizers(tmp_path)
    assert not loaded.joint and loaded.src is not loaded.tgt
    assert loaded.tgt.decode(loaded.tgt.encode(tgt[5])) == tgt[5]
    assert loaded.src.piece_to_id("▁chat") in (UNK_ID, loaded.src.unk_id())  # not in src vocab


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"model_type": "wordpiece"}, "model_type"),
        ({"vocab_size": 100}, "vocab_size"),
        ({"character_coverage": 0.5}, "character_coverage"),
    ],
)
def test_bad_settings_name_the_key(changes, key):
    with pytest.raises(ConfigError, match=rf"tokenizer\.{key}"):
        trainer(**changes)


def test_same_config_gives_a_byte_identical_model(tmp_path):
    """`dvc repro` on a fresh clone must rebuild the committed results exactly."""
    src = [f"the {i % 13} cats sat on {i % 7} mats" for i in range(3000)]
    tgt = [f"les {i % 13} chats sur {i % 7} tapis" for i in range(3000)]
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    trainer(vocab_size=400).train(src, tgt, first)
    trainer(vocab_size=400).train(src, tgt, second)
    assert (first / "spm.model").read_bytes() == (second / "spm.model").read_bytes()
