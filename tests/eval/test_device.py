"""The device a trained variant decodes on (eval/device.py): where its trainer trains unless
`eval.device` says otherwise; a CPU decode is what it was; on CUDA (the `gpu` marker) the same
hypotheses as on the CPU."""

from __future__ import annotations

import pytest
import torch

from nmt_bottleneck.data.tokenizer import EOS_ID
from nmt_bottleneck.errors import ConfigError
from nmt_bottleneck.eval.device import decode_device
from nmt_bottleneck.eval.translate import DecodeSettings, search, translate
from tests.models.variants import ALIGNING, model_for


@pytest.mark.parametrize(
    ("choice", "accelerator", "cuda", "expected"),
    [
        ("auto", "cpu", True, "cpu"),  # trainer=cpu decodes on the CPU, a GPU or not
        ("auto", "gpu", True, "cuda"),
        ("auto", "cuda", True, "cuda"),
        ("auto", "auto", True, "cuda"),  # Lightning's auto trains on the GPU when there is one
        ("auto", "gpu", False, "cpu"),  # no GPU here: the CPU
        ("auto", "auto", False, "cpu"),
        (None, "gpu", True, "cuda"),  # an absent eval.device reads as auto
        ("cpu", "gpu", True, "cpu"),  # the override wins
        ("cuda", "cpu", True, "cuda"),
    ],
)
def test_the_device_follows_the_trainer_unless_overridden(choice, accelerator, cuda, expected):
    assert decode_device(choice, accelerator, cuda_available=cuda) == torch.device(expected)


def test_cuda_without_a_gpu_names_the_key_and_the_fix():
    with pytest.raises(ConfigError, match=r"eval\.device = 'cuda'.*Fix: eval\.device=auto"):
        decode_device("cuda", "gpu", cuda_available=False)


def test_an_unknown_device_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"eval\.device = 'tpu'; valid: auto, cpu, cuda"):
        decode_device("tpu", "cpu", cuda_available=True)


def searched_one_by_one(model, tokenizers, sentences, settings) -> list[list[int]]:
    """The CPU decode as it was before devices: each sentence + EOS searched alone on the CPU."""
    out = []
    for s in sentences:
        src = torch.tensor([[*tokenizers.src.encode(s), EOS_ID]])
        out.append(search(model, src, torch.tensor([src.shape[1]]), settings, []).tokens[0])
    return out


@pytest.mark.parametrize("variant", ALIGNING)
def test_a_cpu_decode_is_unchanged(tokenizers, sentences, variant):
    model = model_for(variant, vocab=tokenizers.src.get_piece_size())
    model.to(decode_device("auto", "gpu", cuda_available=False))  # a GPU trainer, no GPU here
    settings = DecodeSettings("beam", 3, 1.0, 1.2, 120)
    out = translate(model, tokenizers, sentences, settings, progress=None)
    assert out.tokens == searched_one_by_one(model, tokenizers, sentences, settings)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("search_kind", ["greedy", "beam"])
@pytest.mark.parametrize("variant", ALIGNING)
def test_a_cuda_decode_gives_the_cpu_hypotheses(tokenizers, sentences, variant, search_kind):
    """fp32 on both; cuDNN's TF32 is turned off for the comparison (it rounds the GRU's
    products to 10 mantissa bits, which may flip an argmax of a random model)."""
    model = model_for(variant, vocab=tokenizers.src.get_piece_size())
    settings = DecodeSettings(search_kind, 3, 1.0, 1.2, 120)
    keep = {0, 5}
    on_cpu = translate(model, tokenizers, sentences, settings, keep, progress=None)
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        model.to(decode_device("auto", "gpu"))
        on_gpu = translate(model, tokenizers, sentences, settings, keep, progress=None)
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    assert next(model.parameters()).is_cuda
    assert on_gpu.tokens == on_cpu.tokens
    for i in keep & set(on_cpu.attention):
        assert on_gpu.attention[i].device.type == "cpu"
        torch.testing.assert_close(on_gpu.attention[i], on_cpu.attention[i], atol=1e-4, rtol=1e-3)
