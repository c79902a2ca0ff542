"""The files of a background job and how they are written safely (06 §8.1).

The pid directory defaults to the world-writable ``/tmp``, so every file is opened
without following symbolic links, must be a regular file owned by us, and the status
JSON is replaced atomically (temp file + rename, mode 0600).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from .names import full_name

PID_DIR_ENV = "COMMUNITY_STATS_PID_DIR"
"""Environment variable that overrides the default pid directory."""

DEFAULT_PID_DIR = "/tmp"  # noqa: S108 - the documented default (06 §8.1)
"""Pid directory when neither ``--pid-dir`` nor the environment variable is set."""

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


class UnsafeJobFileError(Exception):
    """A job file is a symbolic link, not a regular file, or owned by someone else."""


@dataclass(frozen=True)
class JobFiles:
    """Paths of one job's pid, status and log files inside the pid directory."""

    name: str
    directory: Path

    @property
    def full_name(self) -> str:
        """``invenio-community-stats-<name>``, the stem of every file."""
        return full_name(self.name)

    @property
    def pid(self) -> Path:
        """The supervisor pid; its flock is the liveness test."""
        return self.directory / f"{self.full_name}.pid"

    @property
    def status(self) -> Path:
        """The status JSON."""
        return self.directory / f"{self.full_name}.status"

    @property
    def log(self) -> Path:
        """Output of the current (or last) run."""
        return self.directory / f"{self.full_name}.log"

    @property
    def previous_log(self) -> Path:
        """Output of the run before, kept on each start."""
        return self.directory / f"{self.full_name}.log.1"

    def all(self) -> tuple[Path, ...]:
        """Every file the job writes."""
        return (self.pid, self.status, self.log, self.previous_log)


def resolve_pid_dir(option: str | os.PathLike[str] | None = None) -> Path:
    """Return the pid directory: the option, else the environment, else ``/tmp``."""
    if option:
        return Path(option)
    return Path(os.environ.get(PID_DIR_ENV) or DEFAULT_PID_DIR)


def ensure_pid_dir(directory: Path) -> Path:
    """Create a missing pid directory with mode 0700; refuse a non-directory."""
    try:
        directory.mkdir(mode=DIRECTORY_MODE, parents=True)
    except FileExistsError:
        if not directory.is_dir():
            raise UnsafeJobFileError(f"{directory} is not a directory") from None
    else:
        directory.chmod(DIRECTORY_MODE)  # mkdir's mode is filtered by the umask
    return directory


def refuse_symlinks(paths: tuple[Path, ...] | list[Path]) -> None:
    """Raise UnsafeJobFileError when any of ``paths`` is a symbolic link."""
    for path in paths:
        if path.is_symlink():
            raise UnsafeJobFileError(f"{path} is a symbolic link")


def open_nofollow(path: Path, flags: int, mode: int = FILE_MODE) -> int:
    """Open ``path`` without following a symlink; it must be our regular file."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeJobFileError(f"{path} is a symbolic link") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        os.close(fd)
        raise UnsafeJobFileError(f"{path} is not a regular file owned by this user")
    return fd


def read_text(path: Path) -> str | None:
    """Return the content of ``path``, or None when it does not exist."""
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as handle:
        return handle.read()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` through a fresh temp file and a rename."""
    refuse_symlinks([path])
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(
        temp,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        FILE_MODE,
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def rotate_log(files: JobFiles) -> None:
    """Keep the previous run's log as ``.log.1`` (one generation)."""
    refuse_symlinks([files.log, files.previous_log])
    if files.log.exists():
        os.replace(files.log, files.previous_log)


def open_new_log(files: JobFiles) -> int:
    """Open a fresh, empty log for appending."""
    return open_nofollow(files.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND)


def tail(path: Path, lines: int) -> list[str]:
    """Return the last ``lines`` lines of ``path`` (empty when it does not exist)."""
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    with os.fdopen(fd, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        block = 8192
        data = b""
        position = end
        while position > 0 and data.count(b"\n") <= lines:
            step = min(block, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    text = data.decode("utf-8", errors="replace")
    return text.splitlines()[-lines:] if lines > 0 else []
