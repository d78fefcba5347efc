"""How the parameters start, shared by every variant (`arch.init`, `arch.init_range`).

- `uniform`: every parameter drawn from U(-r, r), r = `init_range`, as in the RNN translation
  models of Sutskever et al. 2014 (Section 3.4, r = 0.08), Luong et al. 2015 (Section 4.1,
  r = 0.1) and OpenNMT-py's default (`param_init 0.1`); the padding embedding stays zero.
- `pytorch`: each layer's own default: embeddings N(0, 1); linear and recurrent weights
  U(-1/sqrt(n), 1/sqrt(n)) with n the fan-in (linear) or the hidden size (GRU, LSTM).

`uniform` is the default: it trained every variant to a lower validation loss than `pytorch`
at equal steps (benchmarks/README.md, "Quality per compute", Initialization).

Deviation from the papers: neither is Bahdanau et al.'s own scheme (2015, Appendix B.1:
orthogonal recurrent matrices, N(0, 0.01^2) elsewhere, zero biases), which was tuned for
Adadelta over days of training; this project's runs are minutes to hours of Adam.
`uniform` ignores fan-in: concat_states' projection sees L x D inputs, so at the `paper` sizes
its pre-activations start larger than at the sizes where `uniform` was chosen.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from nmt_bottleneck.errors import ConfigError

INITS = ("uniform", "pytorch")


def initialize(
    model: nn.Module, init: Literal["uniform", "pytorch"], init_range: float, where: str
) -> None:
    """Set `model`'s parameters in place by the scheme `init` (module docstring); `where` is
    the config key of the model's `arch`, for error messages."""
    if init not in INITS:
        raise ConfigError(f"{where}.init = {init!r}; valid options: {', '.join(INITS)}.")
    if isinstance(init_range, bool) or not isinstance(init_range, (int, float)) or init_range <= 0:
        raise ConfigError(f"{where}.init_range = {init_range!r}; it must be a number > 0.")
    if init == "pytorch":
        return
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_(-init_range, init_range)
        for module in model.modules():
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
