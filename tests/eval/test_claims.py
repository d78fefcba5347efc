"""The `judge` config: the committed one parses into typed claims; a mistake names the key and
the valid options."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.eval.claims import Claim, JudgeSettings
from tests.helpers import ROOT
from tests.judged import JUDGE, VARIANTS, settings

FIGURE2 = [  # issue 22's claims (a)-(e), written out: what conf/curves/figure2.yaml must say
    {"kind": "falls", "variant": "final_state"},
    {"kind": "holds", "variant": "attention"},
    {"kind": "ahead", "better": "attention", "worse": "attention_30", "beyond": 30},
    {"kind": "ordering", "better": "attention_30", "worse": "final_state"},
    {"kind": "ahead", "better": "attention", "worse": "final_state", "beyond": 20},
]


def test_the_committed_judge_section_parses_into_typed_claims():
    params = OmegaConf.load(ROOT / "params.yaml")
    parsed = JudgeSettings.from_config(params.judge, list(params.variants))
    assert parsed.baseline in params.variants
    assert all(isinstance(c, Claim) for c in parsed.claims)
    assert parsed == settings(list(params.variants), claims=FIGURE2, alpha=0.05)
    assert JudgeSettings.from_json(parsed.to_json()) == parsed


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"baseline": "finalstate"},
            r"judge.baseline = 'finalstate' is not a variant; variants: "
            r"final_state, concat_states, attention",
        ),
        (
            {"claims": [{"kind": "beats", "better": "attention", "worse": "final_state"}]},
            r"judge.claims\[0\].kind = 'beats': unknown kind; valid kinds: falls, holds, "
            r"separated, ordering, ahead",
        ),
        (
            {"claims": [{"kind": "ahead", "better": "attention", "worse": "final_state"}]},
            r"judge.claims\[0\] \(kind ahead\) is missing beyond",
        ),
        (
            {"claims": [{"kind": "ahead", "better": "attention", "worse": "x", "beyond": 20}]},
            r"judge.claims\[0\].worse = 'x' is not a variant",
        ),
        (
            {
                "claims": [
                    {"kind": "ahead", "better": "attention", "worse": "final_state", "beyond": 20.5}
                ]
            },
            r"judge.claims\[0\].beyond = 20.5: it must be an integer",
        ),
        ({"alpha": 1.5}, r"judge.alpha = 1.5: it must be between 0 and 1"),
        (
            {"claims": [{"kind": "holds", "variant": "atention"}]},
            r"judge.claims\[0\].variant = 'atention' is not a variant; variants: final_state, ",
        ),
        (
            {"claims": [JUDGE["claims"][0], {"kind": "separated", "better": "attention"}]},
            r"judge.claims\[1\] \(kind separated\) is missing worse",
        ),
        (
            {"claims": [{"kind": "holds", "variant": "attention", "better": "final_state"}]},
            r"unknown key\(s\) judge.claims\[0\].better; valid keys of judge.claims\[0\]: kind, "
            r"variant",
        ),
        ({"claims": ["holds"]}, r"judge.claims\[0\] = 'holds': a claim is a mapping with a `kind`"),
        ({"claims": "holds"}, r"judge.claims = 'holds': it must be a list of claims"),
        ({"falls_below": 0.9}, r"judge.falls_below = 0.9: it must be between 0 and 0.8"),
        ({"long_from": 30.5}, r"judge.long_from = 30.5: it must be an integer"),
        ({"holdsat": 0.8}, r"unknown key\(s\) judge.holdsat; valid keys of judge: baseline, "),
    ],
)
def test_a_mistake_names_the_key_and_the_valid_options(changes, message):
    with pytest.raises(ConfigError, match=message):
        settings(VARIANTS, **changes)


def test_a_missing_key_is_named():
    node = OmegaConf.create({k: v for k, v in JUDGE.items() if k != "claims"})
    with pytest.raises(ConfigError, match=r"judge is missing claims"):
        JudgeSettings.from_config(node, VARIANTS)


def test_the_paired_claims_name_the_tests_compare_runs():
    claims = [
        {"kind": "falls", "variant": "final_state"},
        {"kind": "ahead", "better": "attention", "worse": "concat_states", "beyond": 30},
        {"kind": "ordering", "better": "concat_states", "worse": "final_state"},
        {"kind": "ahead", "better": "attention", "worse": "concat_states", "beyond": 20},
    ]
    parsed = settings(VARIANTS, claims=claims, alpha=0.01)
    assert parsed.alpha == 0.01
    assert parsed.pairs() == [("attention", "concat_states"), ("concat_states", "final_state")]
    assert settings(VARIANTS).alpha == 0.05  # a judge section without alpha: the default
