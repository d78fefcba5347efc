"""Subword tokenization with SentencePiece (Kudo & Richardson 2018).

Why SentencePiece: it treats the text as a raw character stream with whitespace as a symbol, so
`decode(encode(s))` gives back `s` after its documented normalization (NFKC, whitespace runs
collapsed, ends trimmed: the `nmt_nfkc` rule), with no language-specific detokenizer; byte fallback
makes that hold for any character, unknown ones included. The model is one self-contained file.

Ids are the same in every model: 0 <pad>, 1 <unk>, 2 <s> (BOS), 3 </s> (EOS). Encoded sentences
carry no BOS/EOS; batching adds them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import sentencepiece as spm

from nmt_bottleneck.errors import ConfigError, DataError

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIALS = {"pad": PAD_ID, "unk": UNK_ID, "bos": BOS_ID, "eos": EOS_ID}
MIN_VOCAB = 300  # 4 specials + 256 byte-fallback pieces + some real pieces
META_FILE = "tokenizer.json"


class Tokenizers(NamedTuple):
    """The source and target tokenizers (the same object when the vocabulary is joint)."""

    src: spm.SentencePieceProcessor
    tgt: spm.SentencePieceProcessor
    joint: bool


class SubwordTrainer:
    """Trains the SentencePiece model(s) on the training split.

    Args:
        model_type: "unigram" (Kudo 2018) or "bpe" (Sennrich et al. 2016).
        vocab_size: pieces per model, specials and byte pieces included. Used as an upper bound
            (SentencePiece's soft limit), so a small corpus yields a smaller vocabulary.
        joint: one model for both languages (shared pieces, e.g. names and numbers) or one each.
        character_coverage: share of characters covered by pieces; the rest use byte fallback.
        input_sentence_size: at most this many sentences (per model) are sampled for training.
        seed: seeds SentencePiece's sampling.
        num_threads: training threads. Part of the result, not a machine setting: the trained
            model differs with the thread count (measured), so it is fixed in the config.
    """

    def __init__(
        self,
        model_type: Literal["unigram", "bpe"],
        vocab_size: int,
        joint: bool,
        character_coverage: float,
        input_sentence_size: int,
        seed: int,
        num_threads: int,
    ) -> None:
        if model_type not in ("unigram", "bpe"):
            raise ConfigError(
                f"tokenizer.model_type = {model_type!r}; valid options: 'unigram', 'bpe'."
            )
        if vocab_size < MIN_VOCAB:
            raise ConfigError(
                f"tokenizer.vocab_size = {vocab_size}; it must be >= {MIN_VOCAB} "
                "(4 specials + 256 byte-fallback pieces + real pieces)."
            )
        if not 0.9 <= character_coverage <= 1.0:
            raise ConfigError(f"tokenizer.character_coverage = {character_coverage}; use 0.9-1.0.")
        self.model_type, self.vocab_size, self.joint = model_type, vocab_size, joint
        self.character_coverage = character_coverage
        if num_threads < 1:
            raise ConfigError(f"tokenizer.num_threads = {num_threads}; it must be >= 1.")
        self.input_sentence_size, self.seed = input_sentence_size, seed
        self.num_threads = num_threads

    def train(self, src: Sequence[str], tgt: Sequence[str], out_dir: Path) -> Tokenizers:
        """Train on the (already length-filtered) training pairs and write the model(s) and
        `tokenizer.json` into `out_dir`."""
        out_dir = Path(out_dir)
        if self.joint:
            files = {"src": "spm.model", "tgt": "spm.model"}
            (out_dir / "spm.model").write_bytes(self.train_one([*src, *tgt]))
        else:
            files = {"src": "src.model", "tgt": "tgt.model"}
            (out_dir / "src.model").write_bytes(self.train_one(src))
            (out_dir / "tgt.model").write_bytes(self.train_one(tgt))
        meta = {
            "joint": self.joint,
            "model_type": self.model_type,
            "files": files,
            "specials": SPECIALS,
            "normalization": "nmt_nfkc",
        }
        (out_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return load_tokenizers(out_dir)

    def train_one(self, sentences: Iterable[str]) -> bytes:
        spm.set_random_generator_seed(self.seed)
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            model_type=self.model_type,
            vocab_size=self.vocab_size,
            hard_vocab_limit=False,
            character_coverage=self.character_coverage,
            byte_fallback=True,
            normalization_rule_name="nmt_nfkc",
            input_sentence_size=self.input_sentence_size,
            shuffle_input_sentence=True,
            max_sentence_length=1 << 16,
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
            pad_piece="<pad>",
            unk_piece="<unk>",
            bos_piece="<s>",
            eos_piece="</s>",
            num_threads=self.num_threads,
            minloglevel=2,
        )
        return model.getvalue()


def load_tokenizers(directory: Path) -> Tokenizers:
    """Load the model(s) written by `SubwordTrainer.train`."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise DataError(f"{meta_path}: tokenizer not found. Fix: run `dvc repro tokenize`.")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    src = spm.SentencePieceProcessor(model_file=str(directory / meta["files"]["src"]))
    tgt = (
        src
        if meta["joint"]
        else spm.SentencePieceProcessor(model_file=str(directory / meta["files"]["tgt"]))
    )
    return Tokenizers(src, tgt, meta["joint"])


def normalize(model: spm.SentencePieceProcessor, text: str) -> str:
    """`text` as the model's normalizer sees it, spaces shown as spaces: what a round trip
    `model.decode(model.encode(text))` must give back."""
    return model.normalize(text).replace("\u2581", " ").strip()
