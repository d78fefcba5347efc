"""Helper for test_resume.py, run as a script: the train stage exactly as `python -m
pipelines.train ARGS` runs it, except that the process stops itself (SIGSTOP) as soon as it has
written the resumable checkpoint of step STEP. The test then kills it (SIGKILL): a run
interrupted at a chosen step, whatever the machine's load. Test code only: the stage knows
nothing of it.

    python tests/models/stop_at_step.py STEP ARGS...
"""

from __future__ import annotations

import os
import runpy
import signal
import sys

from nmt_bottleneck.training.callbacks import SaveLast

STEP = int(sys.argv[1])
save = SaveLast.on_validation_end


def save_then_stop(self, trainer, pl_module) -> None:
    save(self, trainer, pl_module)
    if trainer.global_step == STEP and not trainer.sanity_checking:
        os.kill(os.getpid(), signal.SIGSTOP)


SaveLast.on_validation_end = save_then_stop
sys.argv = ["pipelines.train", *sys.argv[2:]]
runpy.run_module("pipelines.train", run_name="__main__", alter_sys=True)
