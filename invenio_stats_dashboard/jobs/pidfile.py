"""The pid file and its flock, the liveness test of a background job (06 §8.1).

The supervisor holds an exclusive ``flock`` on ``<full>.pid`` for its whole life.
The kernel drops the lock when the last descriptor closes, including on SIGKILL, so a
free lock means the supervisor is gone whatever the file says.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from .files import open_nofollow

TAKE_RETRY_SECONDS = 0.5
"""How long a start retries the lock, so a concurrent status probe never blocks it."""


def take_pid_lock(path: Path, retry_seconds: float = TAKE_RETRY_SECONDS) -> int | None:
    """Open the pid file and take its exclusive flock; None when someone holds it.

    The returned descriptor keeps the lock; hand it to the supervisor (it stays held
    as long as any process has the descriptor open).
    """
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT)
    deadline = time.monotonic() + retry_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.02)


def pid_lock_held(path: Path) -> bool:
    """Return True when a process holds the flock of the pid file."""
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a probe lock we may have taken
    return False


def write_pid(fd: int, pid: int) -> None:
    """Replace the pid file's content with ``pid``."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid}\n".encode(), 0)


def read_pid(path: Path) -> int | None:
    """Return the pid in the pid file, or None when missing or empty."""
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "r") as handle:
        text = handle.read().strip()
    return int(text) if text.isdigit() else None
