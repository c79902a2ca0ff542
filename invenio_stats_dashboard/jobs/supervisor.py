"""The supervisor of a background job (06 §8.2 step 2).

Run as ``python -m invenio_stats_dashboard.jobs.supervisor`` in a new session by
:func:`~.launch.start_background`, with the pid file's locked descriptor inherited.
It keeps that descriptor (and so the flock) for its whole life, runs the command as
its child in its own process group, and records how the command ended. Its stdout and
stderr are the job log, which the command inherits.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from .files import JobFiles
from .procinfo import process_start_time
from .status import STATUS_FILE_ENV, read_status, update_status, utc_timestamp

CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGINT)
COMMAND_NOT_STARTED = 127
"""Exit code recorded when the command could not be executed at all."""


def exit_code_of(returncode: int) -> int:
    """Return a shell-style exit code: ``128 + n`` for a death by signal ``n``."""
    return 128 - returncode if returncode < 0 else returncode


def final_status(exit_code: int, stop_signal: int | None) -> str:
    """``completed`` for 0, ``cancelled`` when stopped by SIGTERM/SIGINT, else ``failed``."""
    if exit_code == 0:
        return "completed"
    cancel_codes = {128 + int(signum) for signum in CANCEL_SIGNALS}
    if exit_code in cancel_codes or stop_signal is not None:
        return "cancelled"
    return "failed"


class Supervisor:
    """One job's supervisor: start the command, wait for it, record the outcome."""

    def __init__(self, files: JobFiles, command: list[str], lock_fd: int) -> None:
        self.files = files
        self.command = command
        self.lock_fd = lock_fd
        self.stop_signal: int | None = None

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        # ``processes cancel`` signals the whole group: the command gets the same
        # signal and stops at its next safe point; the supervisor waits to record it.
        self.stop_signal = signum

    def _record(self, **fields: Any) -> None:
        update_status(self.files.status, **fields)

    def run(self) -> int:
        """Supervise the command; return 0 when it completed."""
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        for signum in CANCEL_SIGNALS:
            signal.signal(signum, self._on_stop)
        os.set_inheritable(self.lock_fd, False)  # the flock must die with us alone
        pid = os.getpid()
        started = (read_status(self.files.status) or {}).get("start_time")
        self._record(
            name=self.files.name,
            full_name=self.files.full_name,
            pid=pid,
            pgid=os.getpgid(0),
            create_time=process_start_time(pid),
            command=self.command,
            status="running",
            exit_code=None,
            progress=None,
            current_task="",
            counters={},
            start_time=started or utc_timestamp(),
            end_time=None,
            log_file=str(self.files.log),
            lock_tokens=[],
        )
        exit_code = self._run_command()
        status = final_status(exit_code, self.stop_signal)
        self._record(status=status, exit_code=exit_code, end_time=utc_timestamp())
        print(
            f"# {utc_timestamp()} {self.files.full_name}: {status} "
            f"(exit code {exit_code})",
            flush=True,
        )
        return 0 if status == "completed" else 1

    def _run_command(self) -> int:
        """Run the command with the status file in its environment; its exit code."""
        if self.stop_signal is not None:
            return 128 + self.stop_signal
        env = {**os.environ, STATUS_FILE_ENV: str(self.files.status.resolve())}
        try:
            child = subprocess.Popen(  # noqa: S603 - the job's own argv, no shell
                self.command, stdin=subprocess.DEVNULL, env=env, close_fds=True
            )
        except OSError as error:
            print(f"Error: failed: cannot start {self.command[0]}: {error}", flush=True)
            return COMMAND_NOT_STARTED
        return exit_code_of(child.wait())


def main(argv: list[str] | None = None) -> int:
    """Parse the launcher's arguments and supervise."""
    parser = argparse.ArgumentParser(prog="invenio-community-stats-supervisor")
    parser.add_argument("--name", required=True)
    parser.add_argument("--pid-dir", required=True, type=Path)
    parser.add_argument("--lock-fd", required=True, type=int)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to supervise")
    files = JobFiles(args.name, args.pid_dir)
    return Supervisor(files, command, args.lock_fd).run()


if __name__ == "__main__":
    sys.exit(main())
