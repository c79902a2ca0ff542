"""Start a background job: the parent side of 06 §8.2.

The parent takes the pid file's flock itself and hands the locked descriptor to the
supervisor, so two concurrent starts can never both spawn one: the second finds the
lock held and stops before anything is written.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import (
    JobFiles,
    UnsafeJobFileError,
    ensure_pid_dir,
    open_new_log,
    refuse_symlinks,
    rotate_log,
    tail,
)
from .names import full_name, short_name
from .pidfile import read_pid, take_pid_lock, write_pid
from .status import (
    FINAL_STATUSES,
    StatusFileError,
    read_status,
    utc_timestamp,
    write_status,
)

START_WAIT_SECONDS = 2.0
"""How long the parent watches a new job before reporting (06 §8.2 step 4)."""

FAILED_LOG_LINES = 20
"""Log lines shown when the job has already failed at start."""

SUPERVISOR_MODULE = "invenio_stats_dashboard.jobs.supervisor"

_running_supervisors: list[subprocess.Popen[bytes]] = []
"""Supervisors started by this process and still running: kept referenced so a
long-lived parent (a test session) reaps them later instead of warning."""


class JobAlreadyRunningError(Exception):
    """The job's pid-file lock is held: a run of that name is in progress."""

    def __init__(self, name: str, pid: int | None) -> None:
        self.name = name
        self.pid = pid
        shown = pid if pid is not None else "unknown"
        super().__init__(
            f"{name} is already running (pid {shown}); see `processes status {name}`"
        )


@dataclass
class StartReport:
    """What the parent saw of a new job during its first seconds."""

    files: JobFiles
    pid: int
    command: list[str]
    record: dict[str, Any] | None
    supervisor_exit: int | None
    log_tail: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when the job already ended with a non-zero code (or never started)."""
        if self.record and self.record.get("status") in FINAL_STATUSES:
            return self.record.get("exit_code") != 0
        return self.supervisor_exit is not None

    @property
    def exit_code(self) -> int | None:
        """The command's exit code when it already ended."""
        if self.record and self.record.get("status") in FINAL_STATUSES:
            return self.record.get("exit_code")
        return self.supervisor_exit


def _interpreter() -> str:
    """Return the running interpreter's absolute path; never a PATH lookup."""
    if not sys.executable or not os.path.isabs(sys.executable):
        raise RuntimeError("cannot tell the path of the running Python interpreter")
    return sys.executable


def start_background(
    name: str,
    command: Sequence[str],
    pid_dir: Path,
    *,
    wait_seconds: float = START_WAIT_SECONDS,
    env: Mapping[str, str] | None = None,
) -> StartReport:
    """Start ``command`` under a detached supervisor as job ``name``.

    ``command[0]`` must be an absolute path (the foreground commands use
    ``sys.executable``). Raises JobAlreadyRunningError, UnsafeJobFileError or
    ValueError before anything is spawned.
    """
    short = short_name(name)
    argv = [str(part) for part in command]
    if not argv or not os.path.isabs(argv[0]):
        raise ValueError(f"command must start with an absolute path: {argv!r}")
    supervisor = [
        _interpreter(),
        "-m",
        SUPERVISOR_MODULE,
        "--name",
        short,
        "--pid-dir",
        str(pid_dir),
    ]

    files = JobFiles(short, ensure_pid_dir(pid_dir))
    refuse_symlinks(files.all())
    lock_fd = take_pid_lock(files.pid)
    if lock_fd is None:
        raise JobAlreadyRunningError(short, read_pid(files.pid))
    try:
        rotate_log(files)
        log_fd = open_new_log(files)
        try:
            header = f"# {utc_timestamp()} {full_name(short)}: {shlex.join(argv)}\n"
            os.write(log_fd, header.encode())
            write_status(files.status, _starting_record(files, argv))
            process = subprocess.Popen(  # noqa: S603 - argv built above, no shell
                [*supervisor, "--lock-fd", str(lock_fd), "--", *argv],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                pass_fds=(lock_fd,),
                close_fds=True,
                start_new_session=True,
                env=dict(os.environ if env is None else env),
            )
            write_pid(lock_fd, process.pid)
        finally:
            os.close(log_fd)
    finally:
        os.close(lock_fd)  # the supervisor's inherited descriptor keeps the lock
    return _watch(files, process, argv, wait_seconds)


def _starting_record(files: JobFiles, command: list[str]) -> dict[str, Any]:
    """Return the record written before the supervisor exists (no pid yet)."""
    return {
        "name": files.name,
        "full_name": files.full_name,
        "pid": None,
        "pgid": None,
        "create_time": None,
        "command": command,
        "status": "starting",
        "exit_code": None,
        "progress": None,
        "current_task": "",
        "counters": {},
        "start_time": utc_timestamp(),
        "end_time": None,
        "log_file": str(files.log),
        "lock_tokens": [],
    }


def _watch(
    files: JobFiles,
    process: subprocess.Popen[bytes],
    command: list[str],
    wait_seconds: float,
) -> StartReport:
    """Watch the new job for up to ``wait_seconds``; stop early once it ended."""
    _reap_finished()
    deadline = time.monotonic() + wait_seconds
    record = None
    while True:
        supervisor_exit = process.poll()
        record = _read_quietly(files)
        ended = record is not None and record.get("status") in FINAL_STATUSES
        if supervisor_exit is not None or ended or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if process.poll() is None:
        _running_supervisors.append(process)
    report = StartReport(files, process.pid, command, record, supervisor_exit)
    if report.failed:
        report.log_tail = tail(files.log, FAILED_LOG_LINES)
    return report


def _read_quietly(files: JobFiles) -> dict[str, Any] | None:
    """Read the record; an unreadable one counts as not written yet."""
    try:
        return read_status(files.status)
    except (OSError, StatusFileError, UnsafeJobFileError):
        return None


def _reap_finished() -> None:
    for process in list(_running_supervisors):
        if process.poll() is not None:
            _running_supervisors.remove(process)
