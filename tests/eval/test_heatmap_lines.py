"""A heatmap's caption names the sentence's line in its input file, not its row in the test set:
the download stage drops pairs empty on one side, so after one the two differ. Real files through
the local_text source, a real (untrained) model and tokenizer, the evaluate stage's library call
and the report's heatmap drawing."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from omegaconf import OmegaConf

from nmt_bottleneck.data.corpus import save_corpus
from nmt_bottleneck.data.download import download_corpus
from nmt_bottleneck.data.tokenizer import SubwordTrainer
from nmt_bottleneck.eval.evaluate import evaluate_variant
from nmt_bottleneck.eval.results import AttentionRecord
from nmt_bottleneck.report.assemble import draw_heatmaps
from tests.data.test_local_text import EN, FR, data_for
from tests.helpers import write_lines
from tests.models.variants import ALIGNING, composed, make_model

LONG = " ".join(f"word{i % 7} the house" for i in range(11))  # 33 words: the heatmap sentence


def test_the_caption_names_the_file_line_after_a_dropped_empty_pair(tmp_path: Path):
    variant = ALIGNING[0]
    corpus_dir = tmp_path / "files"
    write_lines(corpus_dir / "train.en", EN * 20)
    write_lines(corpus_dir / "train.fr", FR * 20)
    # line 2 is empty on the French side and dropped: the long sentence is row 3 but line 4
    write_lines(corpus_dir / "test.en", [EN[0], EN[1], EN[2], LONG])
    write_lines(corpus_dir / "test.fr", [FR[0], "", FR[2], LONG])
    data = OmegaConf.merge(data_for(corpus_dir), {"test_sets": ["test"], "novel_views": []})
    downloaded = download_corpus(data)
    assert list(downloaded.corpus.splits["test"]["line"]) == [1, 3, 4]
    corpus = tmp_path / "corpus"
    save_corpus(downloaded.corpus, corpus, downloaded.manifest, tmp_path / "manifest.json")
    train = downloaded.corpus.splits["train"]
    (tmp_path / "tokenizer").mkdir()
    tokenizers = SubwordTrainer("unigram", 300, True, 1.0, 10_000, 1, 1).train(
        train["src"], train["tgt"], tmp_path / "tokenizer"
    )
    vocab = tokenizers.src.get_piece_size()
    model_dir = tmp_path / "models" / variant
    model_dir.mkdir(parents=True)
    arch = OmegaConf.to_container(composed().variants[variant].arch, resolve=True)
    derived = {"src_vocab": vocab, "tgt_vocab": vocab, "max_src_len": 200}
    OmegaConf.save(OmegaConf.create({"arch": arch, "derived": derived}), model_dir / "config.yaml")
    torch.save(make_model(variant, vocab=vocab).state_dict(), model_dir / "model.pt")
    eval_cfg = OmegaConf.merge(  # short outputs: the untrained model's heatmap stays small to draw
        composed().eval,
        {"heatmaps": 1, "min_bucket": 1, "bootstrap_samples": 10, "decode": {"max_len_ratio": 0.2}},
    )
    evaluations = tmp_path / "eval"
    evaluate_variant(
        variant,
        data,
        eval_cfg,
        corpus=corpus,
        trained_on=corpus,
        tokenizer=tmp_path / "tokenizer",
        model=model_dir,
        out=evaluations / variant / "1234",  # evaluations/<variant>/<seed>/
    )
    (record,) = json.loads((evaluations / variant / "1234" / "attention.json").read_text())
    assert (record["index"], record["line"], record["shard"]) == (2, 4, None)
    (tmp_path / "figures").mkdir()
    ((caption, _),) = draw_heatmaps(evaluations, [variant], [1, 1234], tmp_path / "figures")
    assert caption == f"{variant} (seed 1234), test line 4"  # the first seed that has one


def test_records_written_before_lines_were_kept_read_as_before():
    old = {"test_set": "test", "index": 6, "source": ["a"], "output": ["b"], "weights": [[1.0]]}
    record = AttentionRecord.from_json(old)
    assert (record.line, record.shard, record.where) == (7, None, "line 7")
    assert AttentionRecord.from_json(record._replace(shard=2).to_json()).where == "shard 2 line 7"
