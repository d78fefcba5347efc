"""The machine facts written beside wall times: the CPU's name as the system reports it, the
cores this process may use, and the one-line summary the report prints."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nmt_bottleneck.machine import cpu_model, describe, summary


def test_the_cpu_name_is_the_first_model_name_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC  7B13 64-Core "
        "Processor\n\nprocessor\t: 1\nmodel name\t: something else\n"
    )
    assert cpu_model(cpuinfo) == "AMD EPYC 7B13 64-Core Processor"  # spaces collapsed


def test_without_cpuinfo_the_platform_names_something(tmp_path):
    assert cpu_model(tmp_path / "missing")  # platform.processor() or the architecture


@pytest.mark.skipif(not shutil.which("lscpu"), reason="needs lscpu")
def test_the_cpu_name_agrees_with_lscpu():
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, env={"LC_ALL": "C"})
    lines = [line for line in out.stdout.splitlines() if line.startswith("Model name:")]
    names = [line.split(":", 1)[1].strip() for line in lines]
    if not names:
        pytest.skip("lscpu names no model here")
    assert cpu_model() == " ".join(names[0].split())


@pytest.mark.skipif(not shutil.which("taskset"), reason="needs taskset")
def test_cores_are_the_ones_this_process_may_use():
    code = "import json; from nmt_bottleneck.machine import describe; print(json.dumps(describe()))"
    pinned = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True
    )
    assert pinned.returncode == 0, pinned.stderr
    machine = json.loads(pinned.stdout)
    assert machine["cores"] == 1
    assert machine["processes"] == 1 and "gpu" not in machine


def test_the_summary_names_cpu_cores_torch_and_any_gpu_or_processes():
    cpu = {"cpu": "Xeon", "cores": 2, "torch_threads": 2, "torch": "2.13.0+cpu", "processes": 1}
    assert summary(cpu) == "Xeon, 2 cores, torch 2.13.0+cpu (2 threads)"
    gpu = {**cpu, "cores": 16, "gpu": "NVIDIA H200", "processes": 4}
    assert (
        summary(gpu) == "NVIDIA H200 on Xeon, 16 cores, 4 processes, torch 2.13.0+cpu (2 threads)"
    )
    assert summary(None) == "not recorded"


def test_describe_is_json_ready_and_reads_this_process():
    import torch

    machine = describe()
    assert json.loads(json.dumps(machine)) == machine
    assert machine["torch"] == torch.__version__
    assert machine["torch_threads"] == torch.get_num_threads()
    assert machine["cpu"] == cpu_model(Path("/proc/cpuinfo"))
