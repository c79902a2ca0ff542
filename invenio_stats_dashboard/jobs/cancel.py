"""Cancel a background job: stop its whole process group, then free its locks (06 §8.4).

The group is the supervisor, the command and anything the command started. It first
gets SIGTERM, so the command can stop at a safe point and release its own locks; what
is left after the timeout gets SIGKILL, and the locks recorded in ``lock_tokens`` are
then released by compare-and-delete, only if this job's token still holds them.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from .files import JobFiles
from .procinfo import group_alive
from .state import inspect_job
from .status import ACTIVE_STATUSES, read_status, update_status, utc_timestamp

KILL_WAIT_SECONDS = 5.0
"""How long to wait for the group to disappear after SIGKILL."""

POLL_SECONDS = 0.1


@dataclass
class CancelResult:
    """Outcome of a cancel.

    ``outcome`` is ``no_record``, ``not_running``, ``identity_mismatch``,
    ``stopped`` or ``survived``.
    """

    outcome: str
    pid: int | None = None
    forced: bool = False
    released_locks: list[str] = field(default_factory=list)
    untouched_locks: list[str] = field(default_factory=list)
    lock_errors: list[str] = field(default_factory=list)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass  # already gone


def _wait_gone(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def cancel_job(files: JobFiles, timeout: float) -> CancelResult:
    """SIGTERM the job's group, SIGKILL it after ``timeout`` s, record and clean up."""
    state = inspect_job(files)
    record = state.record
    if record is None:
        return CancelResult("no_record")
    pid = record.get("pid")
    if state.identity_mismatch:
        return CancelResult("identity_mismatch", pid)
    if not state.alive:
        return CancelResult("not_running", pid)
    pgid = record.get("pgid")
    if not isinstance(pgid, int) or pgid <= 1:
        return CancelResult("not_running", pid)  # still starting: nothing to signal

    _signal_group(pgid, signal.SIGTERM)
    forced = False
    if not _wait_gone(pgid, timeout):
        forced = True
        _signal_group(pgid, signal.SIGKILL)
        if not _wait_gone(pgid, KILL_WAIT_SECONDS):
            return CancelResult("survived", pid, forced=True)

    result = CancelResult("stopped", pid, forced=forced)
    final = read_status(files.status) or {}
    fields = _end_fields(final, forced)
    fields["lock_tokens"] = _release_locks(final.get("lock_tokens") or [], result)
    update_status(files.status, **fields)
    return result


def _end_fields(record: dict[str, Any], forced: bool) -> dict[str, Any]:
    """Return the record changes: ``cancelled`` unless the supervisor recorded an end."""
    fields: dict[str, Any] = {}
    if record.get("status") in ACTIVE_STATUSES:
        fields.update(status="cancelled", end_time=utc_timestamp())
    if forced:
        fields["forced"] = True
    return fields


def _release_locks(entries: list[dict[str, Any]], result: CancelResult) -> list[Any]:
    """Release each recorded lock still held by its token; return entries to keep."""
    if not entries:
        return []
    from ..locks import release_lock_token  # redis only when there is a lock to free

    kept = []
    for entry in entries:
        key = str(entry.get("key"))
        try:
            released = release_lock_token(
                str(entry["redis_url"]), key, str(entry["token"])
            )
        except Exception as error:  # Redis down: the lease expires on its own
            result.lock_errors.append(f"{key}: {error}")
            kept.append(entry)
            continue
        (result.released_locks if released else result.untouched_locks).append(key)
    return kept
