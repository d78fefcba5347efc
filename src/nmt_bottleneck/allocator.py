"""Keep freed memory in the process instead of giving it back to the system at every step.

Why: glibc's malloc serves an allocation above its mmap threshold (at most 32 MiB) with a fresh
`mmap` and unmaps it on free, and it trims the heap's top back to the system past 128 KiB. A
training step allocates and frees the same large tensors every time (the [tokens, vocabulary]
logits of a 1,500-token batch are 48 MB), so every step faults the same memory in again, page by
page, and zeroes it: kernel time the training waits for (benchmarks/README.md, "Freed memory",
measures it and what keeping the memory gives). The cure PyTorch's CPU tuning guide gives is
another allocator (jemalloc, tcmalloc) through LD_PRELOAD, which a `pip install` cannot bring;
glibc's own `mallopt` does the same here from inside the process: no allocation of the main
heap is served by mmap (`M_MMAP_MAX` = 0), and up to `TRIM_BYTES` of free memory at the heap's
top stays. Freed memory is reused by the next step, so the peak grows little, and no number
changes: torch aligns every tensor to 64 bytes either way, so the same kernels run on the same
values (tests/test_allocator.py trains byte-identical weights both ways).

Called at the start of a training or an evaluation (the library's, so a DVC stage, a Hydra
sweep job and a notebook all get it); `$NMT_KEEP_FREED=0` leaves the allocator as it was, to
measure or to debug memory. Only glibc has `mallopt`; with another C library, or another
allocator preloaded (jemalloc, tcmalloc: already the cure), nothing changes. What happened is
in the run's machine facts (machine.describe: `allocator`). Threads other than the main one
keep their own heaps, which this does not touch: on a CPU the forward and backward passes run
on the main thread.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

log = logging.getLogger(__name__)

ENV = "NMT_KEEP_FREED"  # "0": leave glibc's defaults
M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_MAX = -4
TRIM_BYTES = 1 << 30  # free memory at the heap's top kept (1 GiB)
KEPT = "glibc: freed memory kept (mallopt M_MMAP_MAX=0, M_TRIM_THRESHOLD=1 GiB)"

_state: str | None = None  # what keep_freed_memory did in this process


def keep_freed_memory() -> str:
    """Set glibc's malloc to keep freed memory (module docstring), once per process; returns
    what this process's allocator does, for the run's facts."""
    global _state
    if _state is not None:
        return _state
    preloaded = os.environ.get("LD_PRELOAD", "")
    if os.environ.get(ENV, "1").strip() == "0":
        _state = f"default (${ENV}=0)"
    elif platform.libc_ver()[0] != "glibc":
        _state = "default (not glibc)"
    elif "malloc" in preloaded:  # jemalloc, tcmalloc, mimalloc: glibc's malloc is not in use
        _state = f"preloaded ({preloaded})"
    else:
        _state = set_glibc_malloc()
    log.info("memory allocator: %s", _state)
    return _state


def set_glibc_malloc() -> str:
    """mallopt through ctypes; says which settings glibc took."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # this process's C library
    except (OSError, AttributeError) as e:
        return f"default (no mallopt: {e})"
    no_mmap = mallopt(M_MMAP_MAX, 0) == 1
    keep_top = mallopt(M_TRIM_THRESHOLD, TRIM_BYTES) == 1
    if no_mmap and keep_top:
        return KEPT
    return f"glibc took M_MMAP_MAX=0: {no_mmap}, M_TRIM_THRESHOLD=1 GiB: {keep_top}"


def allocator_state() -> str:
    """What this process's allocator does: keep_freed_memory's answer, or glibc's defaults."""
    return _state or "default"
