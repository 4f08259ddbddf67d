"""Where the CPU goes during a benchmark, and pinning processes to cores (Linux /proc only).

On a 2-core machine that also runs the Kafka broker and PostgreSQL, a stream-vs-bare ratio is as
much about those neighbours as about the worker; these helpers let a benchmark say how much CPU
each took, and run a variant with the infrastructure on a core of its own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def infra_pids() -> dict[str, list[int]]:
    """The local Kafka broker (JVM running kafka.Kafka) and every PostgreSQL server process."""
    found: dict[str, list[int]] = {"broker": [], "postgres": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if b"kafka.Kafka" in cmdline:
            found["broker"].append(int(entry.name))
        elif comm == "postgres":
            found["postgres"].append(int(entry.name))
    return found


@dataclass
class CpuMeter:
    """CPU seconds by named process group between start() and stop()."""

    groups: dict[str, list[int]]

    def start(self) -> None:
        self._wall = machine_busy_seconds()
        self._self = process_seconds(os.getpid())
        self._at = {name: {p: process_seconds(p) for p in pids} for name, pids in self.groups.items()}

    def stop(self, elapsed_s: float) -> dict[str, float]:
        """Cores used by each group over ``elapsed_s`` (1.0 = one core busy the whole time), plus
        this process ("bench"), the machine ("machine") and everything else ("others")."""
        used = {name: sum(process_seconds(p) - self._at[name].get(p, 0.0) for p in pids)
                for name, pids in self.groups.items()}
        used["bench"] = process_seconds(os.getpid()) - self._self
        machine = machine_busy_seconds() - self._wall
        used["others"] = max(0.0, machine - sum(used.values()))
        used["machine"] = machine
        return {name: round(seconds / elapsed_s, 2) for name, seconds in used.items()}


def _tasks(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    return []


def _all_tasks() -> list[tuple[int, int]]:
    """(pid, tid) of every thread on the machine that this process can see."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found += [(int(entry.name), tid) for tid in _tasks(int(entry.name))]
    return found


@contextlib.contextmanager
def everything_else_on(cpus: set[int], keep: Iterable[int]) -> Iterator[None]:
    """Move every thread on the machine except those of the ``keep`` processes onto ``cpus`` for
    the block (kernel threads that refuse stay where they are), then restore each thread's own
    mask. A benchmark then owns the other core(s) alone, whatever else the machine is running."""
    kept = set(keep)
    saved: dict[int, set[int]] = {}
    for pid, tid in _all_tasks():
        if pid in kept:
            continue
        with contextlib.suppress(OSError):
            saved[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, cpus)
    try:
        yield
    finally:
        for tid, mask in saved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, mask)
