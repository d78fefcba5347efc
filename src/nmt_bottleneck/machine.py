"""The machine a stage ran on, written beside its wall times so a reader can tell whose seconds
they are: seconds from a 2-core EPYC and from a 16-core Xeon, or from a CPU and a GPU, are not
comparable, and a report may hold stages run on different machines (a re-run of evaluate after
a code change, say)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from nmt_bottleneck.allocator import allocator_state


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name: Linux's /proc/cpuinfo `model name`, else `platform.processor()`
    (the architecture on some systems), else "unknown"."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """Cores this process may run on (its affinity, which containers and `taskset` narrow),
    where the system says; else all the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def describe(device: torch.device | str = "cpu", processes: int = 1) -> dict:
    """The machine as a JSON-ready dict: CPU model, usable cores, torch's intra-op threads and
    version, what the memory allocator does (nmt_bottleneck.allocator), and for a CUDA `device`
    the GPU's name. `processes`: how many ran the work (the
    DDP world size when training; 1 otherwise)."""
    out = {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "processes": processes,
        "allocator": allocator_state(),
    }
    device = torch.device(device)
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    return out
