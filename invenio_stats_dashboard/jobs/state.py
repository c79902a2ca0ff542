"""What a job's record says, checked against the processes that really exist.

A record that claims ``starting`` or ``running`` is believed only while someone holds
the pid-file flock and, once the supervisor has written its pid, that pid is still the
same live process (creation time; zombies count as dead). Otherwise the supervisor
died without recording an end, and the record is rewritten as ``crashed`` (06 §8.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .files import JobFiles
from .pidfile import pid_lock_held
from .procinfo import same_process
from .status import ACTIVE_STATUSES, read_status, update_status, utc_timestamp


@dataclass
class JobState:
    """A job's record and whether its supervisor is really alive."""

    files: JobFiles
    record: dict[str, Any] | None
    lock_held: bool
    alive: bool
    identity_mismatch: bool = False
    """The flock is held but the recorded pid is another process."""


def _identity_ok(record: dict[str, Any]) -> bool:
    if record.get("status") == "starting" and record.get("pid") is None:
        return True  # the parent holds the flock and has not spawned yet
    return same_process(record.get("pid"), record.get("create_time"))


def inspect_job(files: JobFiles) -> JobState:
    """Read the record; rewrite a dead ``running`` record as ``crashed``."""
    # Probe first: a free lock means the supervisor is gone, so the record read
    # afterwards already holds any end it managed to write.
    held = pid_lock_held(files.pid)
    record = read_status(files.status)
    if record is None:
        return JobState(files, None, held, held)
    if record.get("status") not in ACTIVE_STATUSES:
        return JobState(files, record, held, False)
    identity = _identity_ok(record)
    if held and identity:
        return JobState(files, record, held, True)
    record = update_status(
        files.status,
        status="crashed",
        end_time=record.get("last_update") or utc_timestamp(),
    )
    return JobState(files, record, held, False, identity_mismatch=held and not identity)
