"""Process identity and process-group liveness, zombies counted as dead (06 §8.3).

A pid alone does not identify a process: after a crash the kernel may give it to an
unrelated program. The creation time does, so records keep it. Linux ``/proc`` is
read directly; other systems use psutil when it is installed.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

PROC = Path("/proc")

DEAD_STATES = {"Z", "X", "x"}
"""Process states of a zombie or a dead process."""

SAME_PROCESS_TOLERANCE = 1.0
"""Seconds two creation times may differ by (the kernel's boot time can drift)."""


def _has_proc() -> bool:
    return (PROC / "self" / "stat").exists()


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """Return (state, process group, start ticks) of ``pid``, or None if it is gone."""
    try:
        data = (PROC / str(pid) / "stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return None
    # The command name (field 2) may contain spaces and parentheses.
    fields = data[data.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2]), int(fields[19])


@cache
def _boot_time() -> float:
    for line in (PROC / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime line")


def process_start_time(pid: int) -> float | None:
    """Return the creation time (epoch seconds) of a live, non-zombie ``pid``."""
    if pid <= 0:
        return None
    if _has_proc():
        info = _proc_stat(pid)
        if info is None or info[0] in DEAD_STATES:
            return None
        return round(_boot_time() + info[2] / os.sysconf("SC_CLK_TCK"), 2)
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return None
        return round(process.create_time(), 2)
    except psutil.Error:
        return None


def same_process(pid: int | None, create_time: float | None) -> bool:
    """Return True when ``pid`` is alive and is the process created at ``create_time``."""
    if pid is None or create_time is None:
        return False
    started = process_start_time(pid)
    return started is not None and abs(started - create_time) < SAME_PROCESS_TOLERANCE


def group_members(pgid: int) -> list[int]:
    """Return the pids of the live (non-zombie) members of process group ``pgid``."""
    if _has_proc():
        members = []
        for entry in PROC.iterdir():
            if not entry.name.isdigit():
                continue
            info = _proc_stat(int(entry.name))
            if info is not None and info[1] == pgid and info[0] not in DEAD_STATES:
                members.append(int(entry.name))
        return members
    import psutil

    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() not in (
                psutil.STATUS_ZOMBIE,
                psutil.STATUS_DEAD,
            ):
                members.append(process.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def group_alive(pgid: int) -> bool:
    """Return True while any non-zombie process is left in group ``pgid``."""
    return bool(group_members(pgid))
