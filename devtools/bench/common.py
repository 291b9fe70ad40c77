"""Helpers the benchmark sections share: timing, medians, process CPU, the result line."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RESULT_PREFIX = "BENCH-RESULT "
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def median_seconds(action: Callable[[], object], *, rounds: int = 5, warm_up: int = 1) -> float:
    for _ in range(warm_up):
        action()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def emit(rows: list[dict]) -> None:
    """Hand the section's rows to the runner (one line on stdout)."""
    print(RESULT_PREFIX + json.dumps(rows), flush=True)


def row(measure: str, value: float, unit: str, baseline: float | None = None, baseline_label: str = "", note: str = "") -> dict:
    return {"measure": measure, "value": value, "unit": unit, "baseline": baseline, "baseline_label": baseline_label, "note": note}


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used so far) of a live process, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # After the name: state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based in man proc.
    ppid = int(fields[1])
    ticks = sum(int(value) for value in fields[11:15])
    return ppid, ticks / CLOCK_TICKS


def tree_cpu_seconds(root_pids: list[int]) -> float:
    """CPU seconds of these processes and every live descendant (reaped children are
    included through their parents' cutime/cstime)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat:
                parents[int(entry.name)], cpu[int(entry.name)] = stat
    wanted = set(root_pids)
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    return sum(cpu.get(pid, 0.0) for pid in wanted)
