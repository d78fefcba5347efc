"""The report's machine line: where the train and evaluate stages ran, whose are the times in
the tables (`nmt_bottleneck.machine.describe` as the stages recorded it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nmt_bottleneck.eval.results import Details


def machines(facts: Mapping[str, dict | None], details: Mapping[str, Details | None]) -> str:
    """The host (CPU, cores, torch) once when the stages share one, else the stages grouped by
    host; then how each ran on it (GPU, processes, threads, memory allocator) when that is not
    the same for all."""
    ran = {f"train@{v}": f.get("machine") for v, f in facts.items() if f}
    ran |= {f"evaluate@{v}": d.machine for v, d in details.items() if d}
    recorded = {s: m for s, m in ran.items() if m}
    if not recorded:
        return "- Machine: not recorded."
    hosts, runs = grouped(recorded, host), grouped(recorded, how)
    if len(hosts) == 1:
        out = f"- Machine: {next(iter(hosts))}"
    else:
        out = "- Machines: " + "; ".join(f"{stages(ss)}: {h}" for h, ss in hosts.items())
    if len(runs) == 1:
        out += f", {next(iter(runs))}"
    else:
        out += "; run with " + "; ".join(f"{stages(ss)}: {r}" for r, ss in runs.items())
    missing = [s for s, m in ran.items() if not m]
    if missing:
        out += f"; not recorded for {stages(missing)}"
    if len(hosts) > 1:
        out += ". Times measured on different machines do not compare"
    return out + "."


def host(machine: dict[str, Any]) -> str:
    return f"{machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}"


def how(machine: dict[str, Any]) -> str:
    parts = [machine["gpu"]] if machine.get("gpu") else []
    if machine.get("processes", 1) > 1:
        parts.append(f"{machine['processes']} processes")
    parts.append(f"{machine['torch_threads']} threads")
    if machine.get("allocator"):  # nmt_bottleneck.allocator; facts before it lack the key
        parts.append(f"memory allocator {machine['allocator']}")
    return ", ".join(parts)


def grouped(
    machines: Mapping[str, dict[str, Any]], key: Callable[[dict[str, Any]], str]
) -> dict[str, list[str]]:
    """Stage names grouped by `key(machine)`, in first-seen order."""
    out: dict[str, list[str]] = {}
    for stage, machine in machines.items():
        out.setdefault(key(machine), []).append(stage)
    return out


def stages(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)
