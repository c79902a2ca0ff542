"""The ``processes`` group: inspect and cancel background jobs (06 §8.3–§8.5).

These commands read only the files in the pid directory and the process table, so
they run without the app, OpenSearch or Redis (``cancel`` uses Redis only to free the
locks a job recorded, and still succeeds when it is down: leases expire by themselves).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ..jobs.cancel import cancel_job
from ..jobs.files import JobFiles, UnsafeJobFileError, tail
from ..jobs.names import DEFAULT_PROCESS_NAME, FULL_NAME_PREFIX, PROCESS_NAMES
from ..jobs.names import short_name as to_short_name
from ..jobs.progress import format_duration
from ..jobs.state import JobState, inspect_job
from ..jobs.status import ACTIVE_STATUSES, StatusFileError, parse_timestamp
from .background import command_text, pid_dir_option
from .output import fail

PROGRESS_CELLS = 50
FOREIGN_NOTE = "not managed by community-stats"
OK_STATUSES = ("starting", "running", "completed")
"""Statuses for which ``processes status`` exits 0."""


class ProcessNameType(click.ParamType):
    """A process name in short or full form, converted to the short form."""

    name = "process_name"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        """Return the short name, or fail with the list of valid names (exit 2)."""
        try:
            return to_short_name(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


PROCESS_NAME = ProcessNameType()


def process_name_argument(function: Any) -> Any:
    """``[PROCESS_NAME]``: short or full form, default ``event-migration``."""
    return click.argument(
        "process_name",
        required=False,
        default=DEFAULT_PROCESS_NAME,
        type=PROCESS_NAME,
    )(function)


@click.group()
def processes() -> None:
    """Inspect and cancel the jobs started by the *-background commands."""


# -- status -------------------------------------------------------------------


def _inspect(files: JobFiles) -> JobState:
    try:
        return inspect_job(files)
    except UnsafeJobFileError as error:
        fail(f"refused: unsafe job file: {error}")
    except (StatusFileError, OSError) as error:
        fail(f"failed: cannot read the record of {files.name}: {error}")


def _runtime(record: dict[str, Any], now: datetime) -> str:
    start = parse_timestamp(record.get("start_time"))
    if start is None:
        return "unknown"
    end = parse_timestamp(record.get("end_time"))
    if record.get("status") in ACTIVE_STATUSES or end is None:
        end = now
    return format_duration((end - start).total_seconds())


def progress_bar(progress: Any) -> str:
    """Return a 50-cell bar with the percentage, or ``unknown``."""
    if not isinstance(progress, int | float):
        return "unknown"
    value = max(0.0, min(100.0, float(progress)))
    filled = int(PROGRESS_CELLS * value / 100)
    return f"[{'#' * filled}{'-' * (PROGRESS_CELLS - filled)}] {value:5.1f}%"


def _age(record: dict[str, Any], now: datetime) -> str:
    moment = parse_timestamp(record.get("last_update"))
    if moment is None:
        return "unknown"
    seconds = max(0, int((now - moment).total_seconds()))
    return f"{seconds} s ago" if seconds < 60 else f"{format_duration(seconds)} ago"


def _counters_text(counters: Any) -> str:
    if not isinstance(counters, dict) or not counters:
        return ""
    return ", ".join(
        f"{key}={value:,}" if isinstance(value, int) else f"{key}={value}"
        for key, value in counters.items()
    )


def _print_status(state: JobState, now: datetime) -> None:
    record = state.record or {}
    files = state.files
    rows = [
        ("Name", f"{files.name} ({files.full_name})"),
        ("PID", str(record.get("pid") or "unknown")),
        ("Status", str(record.get("status"))),
        ("Runtime", _runtime(record, now)),
        ("Progress", progress_bar(record.get("progress"))),
        ("Current task", str(record.get("current_task") or "")),
        ("Counters", _counters_text(record.get("counters"))),
        ("Command", command_text(record.get("command"))),
        ("Last update", _age(record, now)),
    ]
    if record.get("status") not in ACTIVE_STATUSES:
        rows.append(("Exit code", str(record.get("exit_code"))))
    if record.get("forced"):
        rows.append(("Forced", "yes (SIGKILL)"))
    rows.append(("Log file", str(record.get("log_file") or files.log)))
    for label, value in rows:
        click.echo(f"{label + ':':<14}{value}")


def _status_failure(state: JobState) -> str:
    record = state.record or {}
    name = state.files.name
    status = record.get("status")
    if status == "crashed":
        if state.identity_mismatch:
            return (
                f"failed: {name} crashed: pid {record.get('pid')} is now another "
                "process"
            )
        return f"failed: {name} crashed: its supervisor ended without recording an end"
    if status == "cancelled":
        return f"failed: {name} was cancelled (exit code {record.get('exit_code')})"
    return f"failed: {name} ended {status} (exit code {record.get('exit_code')})"


@processes.command("status")
@process_name_argument
@click.option("--show-log", is_flag=True, help="Also show the last log lines.")
@click.option(
    "--log-lines",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many log lines --show-log shows.",
)
@pid_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status(
    process_name: str, show_log: bool, log_lines: int, pid_dir: Path, as_json: bool
) -> None:
    """Show a background job: status, runtime, progress, command, exit code.

    PROCESS_NAME is a short name (default event-migration) or its full form. Exits 0
    while it runs or once it completed, 1 when it failed, was cancelled, crashed or
    has no record. A record that says running while its supervisor is gone is
    reported and rewritten as crashed.
    """
    files = JobFiles(process_name, Path(pid_dir))
    state = _inspect(files)
    record = state.record
    if record is None:
        if as_json:
            click.echo("null")
        fail(f"no record of {process_name} in {pid_dir}")
    lines = tail(files.log, log_lines) if show_log else None
    now = datetime.now(UTC)
    if as_json:
        document = dict(record)
        if lines is not None:
            document["log_lines"] = lines
        click.echo(json.dumps(document, indent=2, sort_keys=True))
    else:
        _print_status(state, now)
        if lines is not None:
            click.echo(f"Last {len(lines)} log lines of {files.log}:")
            for line in lines:
                click.echo(f"  {line}")
    if record.get("status") not in OK_STATUSES:
        fail(_status_failure(state))


# -- cancel -------------------------------------------------------------------


@processes.command("cancel")
@process_name_argument
@click.option(
    "--timeout",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Seconds to wait after SIGTERM before SIGKILL.",
)
@pid_dir_option
def cancel(process_name: str, timeout: int, pid_dir: Path) -> None:
    """Stop a background job and everything it started.

    PROCESS_NAME is a short name (default event-migration) or its full form.
    SIGTERM goes to the job's process group, so the command stops at a safe point;
    whatever is left after --timeout seconds gets SIGKILL. The locks the job recorded
    are then released if it still holds them. Exits 0 once the group is gone.
    """
    files = JobFiles(process_name, Path(pid_dir))
    try:
        result = cancel_job(files, timeout)
    except UnsafeJobFileError as error:
        fail(f"refused: unsafe job file: {error}")
    except (StatusFileError, OSError) as error:
        fail(f"failed: cannot cancel {process_name}: {error}")
    if result.outcome == "no_record":
        fail(f"refused: no record of {process_name} in {pid_dir}")
    if result.outcome == "not_running":
        fail(f"refused: {process_name} is not running")
    if result.outcome == "identity_mismatch":
        fail(
            f"refused: pid {result.pid} is no longer the supervisor of {process_name} "
            "(the pid was reused); nothing was signalled and the record is now crashed"
        )
    if result.outcome == "survived":
        fail(f"failed: process group {result.pid} of {process_name} survived SIGKILL")
    how = f" with SIGKILL after {timeout} s" if result.forced else ""
    click.echo(f"Cancelled {process_name} (pid {result.pid}){how}.")
    for key in result.released_locks:
        click.echo(f"Released lock {key}.")
    for key in result.untouched_locks:
        click.echo(f"Lock {key} is no longer held by this job; left alone.")
    for problem in result.lock_errors:
        click.echo(
            f"Warning: could not release lock {problem}; it expires after one lease.",
            err=True,
        )
    click.echo(f"The log is kept in {files.log}.")


# -- list ---------------------------------------------------------------------


def _scan(pid_dir: Path) -> tuple[list[str], list[str]]:
    """Return (short names with files, foreign pid file names) in ``pid_dir``."""
    ours: set[str] = set()
    foreign: list[str] = []
    try:
        entries = sorted(entry.name for entry in pid_dir.iterdir())
    except FileNotFoundError:
        return [], []
    for entry in entries:
        stem, _, suffix = entry.rpartition(".")
        if suffix in ("pid", "status") and stem.startswith(FULL_NAME_PREFIX):
            short = stem[len(FULL_NAME_PREFIX) :]
            if short in PROCESS_NAMES:
                ours.add(short)
                continue
        if suffix == "pid":
            foreign.append(entry)
    return [name for name in PROCESS_NAMES if name in ours], foreign


def _row(name: str, pid_dir: Path) -> dict[str, Any]:
    files = JobFiles(name, pid_dir)
    row: dict[str, Any] = {"name": name, "full_name": files.full_name}
    try:
        record = inspect_job(files).record or {}
    except (UnsafeJobFileError, StatusFileError, OSError) as error:
        click.echo(f"Warning: {name}: {error}", err=True)
        record = {"status": "unreadable"}
    row.update(
        status=record.get("status", "unknown"),
        pid=record.get("pid"),
        start_time=record.get("start_time"),
        progress=record.get("progress"),
    )
    return row


@processes.command("list")
@pid_dir_option
@click.option(
    "--package-only",
    is_flag=True,
    help="Only this package's jobs, not other *.pid files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def list_processes(pid_dir: Path, package_only: bool, as_json: bool) -> None:
    """List the background jobs in the pid directory.

    Names are the short names that 'processes status' and 'processes cancel' take.
    Other *.pid files in the directory are listed as not managed by community-stats
    (unless --package-only).
    """
    pid_dir = Path(pid_dir)
    try:
        names, foreign = _scan(pid_dir)
    except OSError as error:
        fail(f"failed: cannot read {pid_dir}: {error}")
    rows = [_row(name, pid_dir) for name in names]
    if package_only:
        foreign = []
    if as_json:
        document = {"pid_dir": str(pid_dir), "processes": rows, "foreign": foreign}
        click.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    if not rows and not foreign:
        click.echo(f"No background processes in {pid_dir}.")
        return
    click.echo(f"{'NAME':<27} {'STATUS':<10} {'PID':<8} {'STARTED':<21} PROGRESS")
    for row in rows:
        progress = row["progress"]
        shown = f"{progress:.1f}%" if isinstance(progress, int | float) else "unknown"
        click.echo(
            f"{row['name']:<27} {row['status']:<10} {row['pid'] or '-'!s:<8} "
            f"{row['start_time'] or '-':<21} {shown}"
        )
    for name in foreign:
        click.echo(f"{name:<27} {FOREIGN_NOTE}")
