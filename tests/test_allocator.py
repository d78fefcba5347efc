"""Keeping freed memory (nmt_bottleneck.allocator): large allocations come from the heap, not a
fresh mapping each; `$NMT_KEEP_FREED=0` leaves glibc's defaults; training trains the same weights
either way. Each case runs in a child process of its own, because the setting is per process and
cannot be undone."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import child_env

ROOT = Path(__file__).resolve().parents[1]
glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# Allocates a 64 MiB tensor (twice glibc's largest mmap threshold), and says whether its memory
# lies in the process's heap ([heap] in /proc/self/maps) or in a mapping of its own.
WHERE = """
import json, torch
from nmt_bottleneck.allocator import keep_freed_memory
from nmt_bottleneck.machine import describe
state = keep_freed_memory()
t = torch.ones(16 << 20)
ptr = t.data_ptr()
heap = []
for line in open("/proc/self/maps"):
    if line.rstrip().endswith("[heap]"):
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        heap.append((lo, hi))
print(json.dumps({"state": state, "facts": describe()["allocator"],
                  "in_heap": any(lo <= ptr < hi for lo, hi in heap)}))
"""

# Trains each distinct model of the configuration for a few Adam steps on seeded batches whose
# logits are 80 MB, and prints a digest of the weights.
TRAIN = """
import hashlib, torch
import torch.nn.functional as F
from nmt_bottleneck.allocator import keep_freed_memory
from tests.models.variants import VARIANTS, make_model
keep_freed_memory()
digest = hashlib.sha256()
for variant in VARIANTS:
    torch.manual_seed(7)
    model = make_model(variant, vocab=8000, max_src_len=40)
    opt = torch.optim.Adam(model.parameters(), lr=4e-3)
    for _ in range(3):
        src = torch.randint(4, 8000, (64, 40))
        lens = torch.full((64,), 40)
        tgt = torch.randint(4, 8000, (64, 41))
        logits = model(src, lens, tgt[:, :-1]).logits
        loss = F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    for name, value in model.state_dict().items():
        digest.update(name.encode() + value.numpy().tobytes())
print(digest.hexdigest())
"""


def run_child(code: str, keep: str, **env_changes: str) -> str:
    env = child_env(ROOT, NMT_KEEP_FREED=keep, **env_changes)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@glibc
@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_a_large_tensor_comes_from_the_heap_only_when_freed_memory_is_kept():
    kept = json.loads(run_child(WHERE, "1"))
    assert kept["state"].startswith("glibc: freed memory kept")
    assert kept["facts"] == kept["state"]  # the run's machine facts say it
    assert kept["in_heap"]
    default = json.loads(run_child(WHERE, "0"))
    assert default["state"] == default["facts"] == "default ($NMT_KEEP_FREED=0)"
    assert not default["in_heap"]  # glibc mapped it on its own


@glibc
def test_training_gives_the_same_weights_with_freed_memory_kept_or_not():
    assert run_child(TRAIN, "1") == run_child(TRAIN, "0")


@glibc
def test_a_preloaded_allocator_is_left_in_charge():
    """jemalloc or tcmalloc through LD_PRELOAD already keep freed memory; glibc's is not in use.
    (The library named here does not exist: the loader says so and goes on without it.)"""
    preloaded = json.loads(run_child(WHERE, "1", LD_PRELOAD="libjemalloc-absent.so.2"))
    assert preloaded["state"] == preloaded["facts"] == "preloaded (libjemalloc-absent.so.2)"
