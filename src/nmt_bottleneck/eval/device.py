"""The device a trained variant decodes on: where its trainer trains, unless `eval.device` says.

`eval.device`: "auto" (CUDA when `trainer.accelerator` is gpu, cuda or auto and a CUDA device is
present; the CPU otherwise), "cpu", or "cuda" (an error where there is none). The evaluate
stage, the `translate` command and the sweep decode on it, so the `paper` profile does not
decode thousands of sentences with beam 5 on a CPU after training on a GPU.
"""

from __future__ import annotations

import logging
from typing import Literal

import torch

from nmt_bottleneck.errors import ConfigError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
CUDA_ACCELERATORS = ("gpu", "cuda", "auto")  # Lightning's names that train on CUDA when present
EvalDevice = Literal["auto", "cpu", "cuda"]


def decode_device(
    choice: str | None,
    accelerator: str | None,
    key: str = "eval.device",
    cuda_available: bool | None = None,
) -> torch.device:
    """The decoding device for `choice` (`key`'s value; None reads as "auto") and the trainer's
    `accelerator` (`trainer.accelerator`); `cuda_available`: torch.cuda.is_available() unless
    given (tests)."""
    asked = choice = "auto" if choice is None else str(choice)
    if choice not in DEVICES:
        raise ConfigError(f"{key} = {choice!r}; valid: {', '.join(DEVICES)}. Fix: {key}=auto.")
    cuda = torch.cuda.is_available() if cuda_available is None else cuda_available
    if choice == "cuda" and not cuda:
        raise ConfigError(
            f"{key} = 'cuda', but torch finds no CUDA device on this machine. Fix: {key}=auto "
            "(decode where the trainer trains: here the CPU) or cpu, or run where a GPU is."
        )
    if choice == "auto":
        on_cuda = cuda and str(accelerator).lower() in CUDA_ACCELERATORS
        choice = "cuda" if on_cuda else "cpu"
    log.info("decoding on %s (%s = %s, trainer.accelerator = %s)", choice, key, asked, accelerator)
    return torch.device(choice)
