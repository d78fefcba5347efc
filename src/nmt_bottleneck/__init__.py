"""nmt-bottleneck: the fixed-vector bottleneck of RNN encoder-decoders, and its fixes.

Bahdanau, Cho, Bengio (2015), "Neural Machine Translation by Jointly Learning to Align and
Translate", Figure 2: BLEU against source sentence length. The library knows nothing of DVC,
argv or params.yaml; `pipelines/` wires it to the DVC stages.
"""

from __future__ import annotations

__version__ = "0.1.0"
