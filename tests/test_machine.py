"""The machine facts written beside wall times: the CPU's name as the system reports it and
the cores this process may use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nmt_bottleneck.machine import cpu_model, describe


def test_the_cpu_name_is_the_first_model_name_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC  7B13 64-Core "
        "Processor\n\nprocessor\t: 1\nmodel name\t: something else\n"
    )
    assert cpu_model(cpuinfo) == "AMD EPYC 7B13 64-Core Processor"  # spaces collapsed


def test_without_cpuinfo_the_platform_names_something(tmp_path):
    assert cpu_model(tmp_path / "missing")  # platform.processor() or the architecture


CPUINFO = Path("/proc/cpuinfo")
NAMED = CPUINFO.is_file() and "model name" in CPUINFO.read_text(errors="replace")


@pytest.mark.skipif(not (shutil.which("lscpu") and NAMED), reason="needs lscpu and a model name")
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
    one = str(min(os.sched_getaffinity(0)))  # a core this process may use
    pinned = subprocess.run(
        ["taskset", "-c", one, sys.executable, "-c", code], capture_output=True, text=True
    )
    assert pinned.returncode == 0, pinned.stderr
    machine = json.loads(pinned.stdout)
    assert machine["cores"] == 1
    assert machine["processes"] == 1 and "gpu" not in machine


def test_describe_is_json_ready():
    machine = describe()
    assert json.loads(json.dumps(machine)) == machine
    assert set(machine) == {
        "cpu",
        "cores",
        "torch_threads",
        "torch",
        "processes",
        "allocator",
    }  # no GPU
