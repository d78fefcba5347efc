"""Helper for test_ddp.py, run as a script: train on CPU with Lightning's DDP strategy
(2 processes, gloo) and let every rank save its final weights and the rows it trained on.

    python tests/models/ddp_run.py DATA_DIR OUT_DIR VOCAB_SIZE
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.models.train_parts import datamodule, make_module  # noqa: E402
from tests.models.train_parts import trainer as make_trainer  # noqa: E402


class SaveRank(L.Callback):
    def __init__(self, out: Path) -> None:
        self.out, self.rows = out, []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.rows.append(batch.index.tolist())

    def on_train_end(self, trainer, module) -> None:
        rank = trainer.global_rank
        torch.save(module.model.state_dict(), self.out / f"rank{rank}.pt")
        (self.out / f"rank{rank}.json").write_text(json.dumps(self.rows))


def main() -> None:
    data, out, vocab = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    L.seed_everything(0, verbose=False)
    trainer = make_trainer(
        devices=2, strategy="ddp", max_steps=6, limit_val_batches=0, callbacks=[SaveRank(out)]
    )
    trainer.fit(make_module("attention", vocab), datamodule=datamodule(data))


if __name__ == "__main__":
    main()
