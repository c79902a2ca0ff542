"""Names of the usage-event indices, aliases and bookmarks (03 §1).

The CLI says ``view`` / ``download``; invenio-stats says ``record-view`` /
``file-download``. Every name below is built here and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from invenio_search.utils import prefix_index

EVENT_TYPES = {"view": "record-view", "download": "file-download"}
"""CLI event type → invenio-stats event type, in processing order (views first)."""

CLI_TYPES = {stats: cli for cli, stats in EVENT_TYPES.items()}

TARGET_SUFFIX = "-v2.0.0"
BACKUP_PREFIX = "backup-"
LEGACY_BACKUP_SUFFIX = "-backup"
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
BOOKMARK_INDEX = "stats-bookmarks-reindexing"
RUN_SUMMARY_ID = "usage-events-migration-run"


def read_alias(event_type: str) -> str:
    """``{P}events-stats-{type}``: the read alias over every month of a type."""
    return prefix_index(f"events-stats-{EVENT_TYPES[event_type]}")


def monthly_pattern(event_type: str) -> str:
    """``{P}events-stats-{type}-*``: every monthly name of a type."""
    return f"{read_alias(event_type)}-*"


def month_index(event_type: str, month: str) -> str:
    """``{P}events-stats-{type}-{YYYY-MM}``: the monthly name invenio-stats writes."""
    return f"{read_alias(event_type)}-{month}"


def target_index(event_type: str, month: str) -> str:
    """``{P}events-stats-{type}-{YYYY-MM}-v2.0.0``: the migrated month."""
    return f"{month_index(event_type, month)}{TARGET_SUFFIX}"


def backup_index(event_type: str, month: str) -> str:
    """``backup-{P}events-stats-{type}-{YYYY-MM}``: backup of a switched month."""
    return f"{BACKUP_PREFIX}{month_index(event_type, month)}"


def bookmark_index() -> str:
    """``{P}stats-bookmarks-reindexing``."""
    return prefix_index(BOOKMARK_INDEX)


def bookmark_id(event_type: str, month: str, reenrich: bool = False) -> str:
    """``{view|download}-{YYYY-MM}-reindexing`` (or ``-reenriching``)."""
    return f"{event_type}-{month}-{'reenriching' if reenrich else 'reindexing'}"


@dataclass(frozen=True)
class ParsedIndex:
    """What an index name under an event type's pattern says."""

    event_type: str
    month: str | None
    kind: str
    """``monthly``, ``target``, ``legacy_backup`` or ``unrecognised``."""


def parse_index_name(event_type: str, name: str) -> ParsedIndex:
    """Classify a concrete index name of ``event_type`` (03 §4.4)."""
    stem = f"{read_alias(event_type)}-"
    if not name.startswith(stem):
        return ParsedIndex(event_type, None, "unrecognised")
    rest = name[len(stem) :]
    if rest.endswith(TARGET_SUFFIX):
        month = rest[: -len(TARGET_SUFFIX)]
        kind = "target"
    elif rest.endswith(LEGACY_BACKUP_SUFFIX):
        month = rest[: -len(LEGACY_BACKUP_SUFFIX)]
        kind = "legacy_backup"
    else:
        month, kind = rest, "monthly"
    if not is_month(month):
        return ParsedIndex(event_type, None, "unrecognised")
    return ParsedIndex(event_type, month, kind)


def is_month(value: str) -> bool:
    """Whether ``value`` is a real ``YYYY-MM`` month."""
    match = MONTH_PATTERN.match(value or "")
    return match is not None and 1 <= int(match.group(2)) <= 12
