"""Configuration: params.yaml is the composition of conf/; every option composes and builds;
unknown names and keys are refused with the valid ones listed; conf/ holds no machine paths."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml
from omegaconf import OmegaConf

from nmt_bottleneck.config import build
from nmt_bottleneck.errors import ConfigError
from tests.helpers import ROOT, run_module

DATA_CONFIGS = sorted(p.stem for p in (ROOT / "conf" / "data").glob("*.yaml"))


def compose(tmp_path, *overrides: str) -> dict:
    out = tmp_path / "params.yaml"
    result = run_module("pipelines.compose_params", *overrides, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(out.read_text())


def test_committed_params_equal_the_composition_of_conf(tmp_path):
    out = tmp_path / "params.yaml"
    result = run_module("pipelines.compose_params", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (ROOT / "params.yaml").read_text() == out.read_text(), (
        "params.yaml differs from conf/: run `make params` and commit both"
    )


def test_the_data_configs_exist():
    assert DATA_CONFIGS == ["hansard_enfr", "local_text", "synthetic", "wmt14_enfr"]


@pytest.mark.parametrize("name", DATA_CONFIGS)
def test_every_data_config_composes_and_builds(tmp_path, name):
    params = compose(tmp_path, f"data={name}")
    data = params["data"]
    assert data["name"] == name
    assert {"src_lang", "tgt_lang", "input", "source", "min_len", "max_len"} <= set(data)
    source = build(OmegaConf.create(data["source"]), "data.source")
    assert type(source).__name__ in {"LocalTextSource", "HubSource", "SyntheticSource"}
    assert type(build(OmegaConf.create(params["tokenizer"]), "tokenizer")).__name__ == (
        "SubwordTrainer"
    )


def test_length_filter_is_a_one_line_change(tmp_path):
    assert compose(tmp_path)["data"]["max_len"] == 50
    assert compose(tmp_path, "data.max_len=30")["data"]["max_len"] == 30


def test_another_local_folder_is_one_override(tmp_path):
    data = compose(tmp_path, "data=local_text", "data.input=corpora/europarl_deen")["data"]
    assert data["source"]["directory"] == "corpora/europarl_deen"
    assert data["source"]["splits"] == {"train": "train", "valid": "valid", "test": "test"}


def test_another_local_folder_is_a_three_line_file(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    (conf / "data" / "europarl.yaml").write_text(
        "defaults: [local_text, _self_]\nname: europarl\ninput: corpora/europarl\n"
    )
    out = tmp_path / "params.yaml"
    result = run_module(
        "pipelines.compose_params", "data=europarl", "--conf", str(conf), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(out.read_text())["data"]
    assert (data["name"], data["source"]["directory"]) == ("europarl", "corpora/europarl")
    assert data["max_len"] == 50  # the shared defaults still apply


@pytest.mark.parametrize(
    "override, expected",
    [
        ("data=nope", ["data/nope", *DATA_CONFIGS]),
        ("data.max_lenn=30", ["data.max_lenn", "valid keys of data", "max_len", "min_len"]),
        ("tokenizer.vocab=5", ["tokenizer.vocab", "vocab_size", "model_type"]),
    ],
)
def test_unknown_names_and_keys_list_the_valid_ones(tmp_path, override, expected):
    result = run_module("pipelines.compose_params", override, "--out", str(tmp_path / "p.yaml"))
    assert result.returncode == 1
    for fragment in expected:
        assert fragment in result.stderr
    assert "Fix:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "p.yaml").exists()


def test_conf_holds_no_machine_paths_or_environment_lookups():
    for path in (ROOT / "conf").rglob("*.yaml"):
        text = path.read_text()
        for value in re.findall(r":\s*([^\s#{][^#\n]*)", text):
            assert not value.strip().startswith(("/", "~", "..")), f"{path}: {value}"
        assert "oc.env" not in text and "now:" not in text, path


def test_dvc_reads_conf_through_hydra():
    config = (ROOT / ".dvc" / "config").read_text()
    assert re.search(r"\[hydra\]\s+enabled = true", config)


def test_a_constructor_check_is_a_one_line_error_in_the_stage(tmp_path):
    """Checks inside a source's constructor reach the user as one line, not a traceback."""
    params = tmp_path / "params.yaml"
    composed = run_module(
        "pipelines.compose_params",
        "data=synthetic",
        "data.source.min_len=10",
        "data.source.max_len=5",
        "--out",
        str(params),
    )
    assert composed.returncode == 0, composed.stderr
    result = run_module(
        "pipelines.download",
        "--params",
        str(params),
        "--out",
        str(tmp_path / "c"),
        "--manifest",
        str(tmp_path / "m.json"),
    )
    assert result.returncode == 1
    assert "min_len <= max_len" in result.stderr and "Fix:" in result.stderr
    assert "Traceback" not in result.stderr


GROUPS = {
    group: sorted(
        p.stem for p in (ROOT / "conf" / group).glob("*.yaml") if not p.stem.startswith("_")
    )
    for group in ("model", "trainer", "logger", "experiment")
}


def test_the_groups_hold_the_agreed_options():
    assert GROUPS == {
        "model": ["attention", "attention_30", "concat_states", "final_state", "final_state_30"],
        "trainer": ["cpu", "ddp", "gpu"],
        "logger": ["csv", "wandb"],
        "experiment": ["cpu", "cpu_seeds", "paper", "smoke"],
    }


@pytest.mark.parametrize("experiment", GROUPS["experiment"])
def test_every_variant_builds_at_every_experiment_size(tmp_path, experiment):
    """Each profile's sizes give a model per variant that runs a forward pass."""
    import torch

    from nmt_bottleneck.models.build import build_seq2seq

    params = compose(tmp_path, f"experiment={experiment}", "curves=figure2")
    assert set(params["variants"]) == set(GROUPS["model"])  # every model file is a curve
    for name, spec in params["variants"].items():
        model = build_seq2seq(spec["arch"], 300, 300, f"variants.{name}.arch", 12)
        logits = model(
            torch.randint(4, 300, (2, 5)), torch.tensor([5, 3]), torch.randint(4, 300, (2, 4))
        ).logits
        assert logits.shape == (2, 4, 300)


@pytest.mark.parametrize("trainer", GROUPS["trainer"])
def test_every_trainer_option_gives_a_lightning_trainer(tmp_path, trainer):
    import lightning as L

    settings = compose(tmp_path, f"trainer={trainer}")["trainer"]
    if settings["accelerator"] in ("gpu", "auto"):
        settings = {**settings, "accelerator": "cpu", "precision": "32-true"}  # no GPU here
    built = L.Trainer(**settings, logger=False, enable_checkpointing=False)
    assert built.world_size == settings["devices"] * settings["num_nodes"]


@pytest.mark.parametrize("logger", GROUPS["logger"])
def test_every_logger_option_builds(tmp_path, logger):
    from nmt_bottleneck.models.loggers import make_logger

    settings = compose(tmp_path, f"logger={logger}")["logger"]
    assert settings.pop("every_steps") > 0  # the Trainer's logging interval (training/trainer.py)
    built = make_logger(
        **settings, run="attention", group="test", config={}, save_dir=tmp_path / "logs"
    )
    assert type(built).__name__ == {"wandb": "WandbLogger", "csv": "CSVLogger"}[logger]
    if logger == "wandb":
        assert settings["mode"] == "offline"  # works with no account
        built.experiment.finish()


def test_a_variants_setting_is_its_own():
    """-S variants.attention.arch.hidden_size changes one variant: the sizes are resolved per
    variant in params.yaml, which is what lets DVC re-run only train@attention."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for spec in params["variants"].values():
        assert isinstance(spec["arch"]["hidden_size"], int)  # resolved, not ${sizes.hidden}


def test_a_node_missing_an_argument_names_it_and_its_class():
    node = OmegaConf.load(ROOT / "params.yaml").tokenizer
    del node["vocab_size"]  # SubwordTrainer has no default for it
    with pytest.raises(ConfigError, match=r"tokenizer is missing vocab_size \(needed by nmt_"):
        build(node, "tokenizer")


def test_a_novel_view_must_name_a_test_set():
    from nmt_bottleneck.eval.evaluate import check_novel_views

    data = OmegaConf.create({"test_sets": ["test", "newstest2014"], "novel_views": ["tset"]})
    with pytest.raises(ConfigError, match=r"data.novel_views names \['tset'\].*Fix:"):
        check_novel_views(data)
    data.novel_views = ["newstest2014"]
    assert check_novel_views(data) == ["newstest2014"]
    assert check_novel_views(OmegaConf.create({"test_sets": ["test"]})) == []  # no key, no view
    data.novel_views = "test"  # `-S data.novel_views=test`: a string, not a list
    with pytest.raises(ConfigError, match=r"must be a list of test sets.*Fix:"):
        check_novel_views(data)


def test_the_logging_interval_is_a_logging_setting_the_train_stage_does_not_read(tmp_path):
    """`logger.every_steps` (how often to log and redraw the progress bar) changes no weight:
    changing it, with either logger, leaves every param the train stage declares unchanged,
    so DVC re-trains nothing. Each profile sets its own interval over the logger's default."""
    declared = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train"]["params"]

    def train_params(*overrides: str) -> dict:
        composed = compose(tmp_path, *overrides)
        assert composed["logger"]["every_steps"] > 0
        return {
            key: OmegaConf.select(
                OmegaConf.create(composed), key.replace("${item.variant}", "attention")
            )
            for key in declared
        }

    assert train_params("logger.every_steps=7", "logger=csv") == train_params()
    smoke = OmegaConf.load(ROOT / "conf/experiment/smoke.yaml").logger.every_steps
    assert compose(tmp_path, "experiment=smoke", "logger=csv")["logger"]["every_steps"] == smoke
