"""The status record of a background job, a JSON file replaced atomically (06 §8.1).

The supervisor writes the start and the end; the command it runs finds the file in
``COMMUNITY_STATS_STATUS_FILE`` and adds its progress and lock tokens while it works.
Readers never see a half-written file because every write is a rename.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .files import UnsafeJobFileError, read_text, write_atomic

STATUS_FILE_ENV = "COMMUNITY_STATS_STATUS_FILE"
"""Set by the supervisor for its command: the status file to report into."""

ACTIVE_STATUSES = ("starting", "running")
FINAL_STATUSES = ("completed", "failed", "cancelled", "crashed")

logger = logging.getLogger(__name__)

_update_lock = threading.Lock()
"""Serialises read-modify-write updates from threads of one process."""

_report_failed = False


class StatusFileError(Exception):
    """The status file exists but cannot be read as a JSON object."""


def utc_timestamp(moment: datetime | None = None) -> str:
    """Return ``moment`` (default now) as ISO 8601 UTC, ``YYYY-MM-DDTHH:MM:SSZ``."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: Any) -> datetime | None:
    """Parse a timestamp written by :func:`utc_timestamp`; None when absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_status(path: Path) -> dict[str, Any] | None:
    """Return the record in ``path``, or None when there is none."""
    text = read_text(path)
    if text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        raise StatusFileError(f"{path} is not valid JSON") from None
    if not isinstance(record, dict):
        raise StatusFileError(f"{path} does not hold a JSON object")
    return record


def write_status(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Write ``record`` (stamping ``last_update``) atomically; return it."""
    record["last_update"] = utc_timestamp()
    write_atomic(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
    return record


def update_status(path: Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the record in ``path`` (created when missing)."""
    with _update_lock:
        record = read_status(path) or {}
        record.update(fields)
        return write_status(path, record)


def status_file_from_env() -> Path | None:
    """Return the status file named by the environment, when running as a job."""
    value = os.environ.get(STATUS_FILE_ENV)
    return Path(value) if value else None


def _report(change: Callable[[dict[str, Any]], None], path: Path | None = None) -> bool:
    """Apply ``change(record)`` to the job's status file; never fail the work."""
    global _report_failed
    path = path or status_file_from_env()
    if path is None:
        return False
    try:
        with _update_lock:
            record = read_status(path) or {}
            change(record)
            write_status(path, record)
    except (OSError, UnsafeJobFileError, StatusFileError) as error:
        if not _report_failed:
            logger.warning("cannot write the job status file %s: %s", path, error)
        _report_failed = True
        return False
    return True


def report_status(fields: Mapping[str, Any], path: Path | None = None) -> bool:
    """Merge ``fields`` into the job's status file (``path`` or the environment's).

    Returns False when this process is not a job or the write failed (logged once).
    """
    return _report(lambda record: record.update(fields), path)


def record_lock_token(entry: dict[str, Any]) -> bool:
    """Add a lock this job holds to ``lock_tokens``, so ``processes cancel`` can free it."""

    def add(record: dict[str, Any]) -> None:
        tokens = [
            item
            for item in record.get("lock_tokens") or []
            if item.get("token") != entry["token"]
        ]
        record["lock_tokens"] = [*tokens, entry]

    return _report(add)


def forget_lock_token(token: str) -> bool:
    """Remove a released lock from ``lock_tokens``."""

    def remove(record: dict[str, Any]) -> None:
        record["lock_tokens"] = [
            item
            for item in record.get("lock_tokens") or []
            if item.get("token") != token
        ]

    return _report(remove)
