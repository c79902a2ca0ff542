"""Migration progress: ``usage-events status`` and ``get_reindexing_progress`` (03 §6).

Everything here is read-only: no index, template, alias or bookmark is created or
changed (the bookmark index is read only when it exists). Event numbers come from
exact count queries and from the bookmarks, never from reading events:

- one search over every monthly, target and backup index of both event types returns
  the exact document count of each index (a ``terms`` aggregation on ``_index``;
  every shard holds the documents of one index only, so each bucket is exact), so
  the cost does not grow with the number of months;
- the bookmarks say how far each month got (``processed_count``) and with which
  enrichment fingerprint it completed.

A month is in exactly one group:

``not_started``
    an old (pre-installation) monthly index and no bookmark;
``in_progress``
    a bookmark in phase ``copying`` (partly copied, or stopped at a batch cap, a
    health check or a signal): the next ``migrate`` resumes at its cursor;
``interrupted``
    a bookmark in phase ``switching`` without error: a live month stopped during the
    switch; the next run recovers it from its backup;
``failed``
    a bookmark in phase ``failed`` (reset after a bulk or verification failure), or
    ``switching`` with an error (a failure after the swap);
``completed``
    a ``completed`` bookmark (the old index kept, deleted or switched);
``pending_again``
    a ``completed`` month whose kept old index now holds more events than the
    bookmark recorded (late writes); the next run tops it up;
``unrecorded``
    finalised (target behind the read alias) while its old index still exists, but
    without a bookmark (bookmark cleared, or migrated by the original package): the
    next run verifies and records it without copying;
``not_needed``
    anything else that has indices: monthly indices created from the enriched
    template, or targets whose old index is gone and that have no bookmark.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ...search_indices.paging import count
from ...timeutils import format_utc, utc_now
from ..fields import configured_fields, fingerprint
from ..names import (
    BACKUP_PREFIX,
    EVENT_TYPES,
    LEGACY_BACKUP_SUFFIX,
    monthly_pattern,
    parse_index_name,
)
from .bookmarks import FAILED as PHASE_FAILED
from .bookmarks import SWITCHING, Bookmark, BookmarkStore
from .health import check_health
from .months import MonthIndices, take_inventory

logger = logging.getLogger(__name__)

NOT_STARTED = "not_started"
IN_PROGRESS = "in_progress"
INTERRUPTED = "interrupted"
FAILED = "failed"
COMPLETED = "completed"
PENDING_AGAIN = "pending_again"
UNRECORDED = "unrecorded"
NOT_NEEDED = "not_needed"
GROUPS = (
    NOT_STARTED,
    IN_PROGRESS,
    INTERRUPTED,
    FAILED,
    COMPLETED,
    PENDING_AGAIN,
    UNRECORDED,
    NOT_NEEDED,
)
"""Every month group, in the order ``status`` prints them."""

PENDING_GROUPS = frozenset(
    {NOT_STARTED, IN_PROGRESS, INTERRUPTED, FAILED, PENDING_AGAIN, UNRECORDED}
)
"""Groups whose months the next ``migrate`` works on (03 §4.4)."""

PROGRAM = "invenio community-stats usage-events"
MAX_INDEX_BUCKETS = 10_000
"""Indices counted by the single count search (far above 2 types x 3 x months)."""


class SearchUnavailableError(RuntimeError):
    """OpenSearch did not answer the health check; ``health`` says why."""

    def __init__(self, health: dict[str, Any]) -> None:
        self.health = health
        super().__init__(health.get("reason") or "OpenSearch not responsive")


# ---------------------------------------------------------------------- counts


def count_patterns(event_types: Iterable[str]) -> list[str]:
    """Return the patterns of every monthly, target and backup index of the types."""
    patterns = []
    for event_type in event_types:
        pattern = monthly_pattern(event_type)
        patterns += [pattern, f"{BACKUP_PREFIX}{pattern}"]
    return patterns


def index_counts(
    client, event_types: Iterable[str], needed: Iterable[str] = ()
) -> dict[str, int]:
    """Exact document count of every index of the types, in one search.

    An empty index has no bucket, so it is absent (count 0). If the search cannot
    give exact numbers (a shard failed, or more indices than buckets), each index of
    ``needed`` is counted with the count API instead.
    """
    response = client.search(
        index=",".join(count_patterns(event_types)),
        body={
            "size": 0,
            "track_total_hits": False,
            "query": {"match_all": {}},
            "aggs": {
                "per_index": {"terms": {"field": "_index", "size": MAX_INDEX_BUCKETS}}
            },
        },
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    aggregation = (response.get("aggregations") or {}).get("per_index") or {}
    exact = not (response.get("_shards") or {}).get("failed") and not aggregation.get(
        "sum_other_doc_count"
    )
    if exact:
        return {
            bucket["key"]: int(bucket["doc_count"])
            for bucket in aggregation.get("buckets") or []
        }
    logger.warning("the count search was not exact; counting index by index")
    return {name: count(client, name) for name in needed}


# ---------------------------------------------------------------------- months


@dataclass
class MonthStatus:
    """Where one event type and month stands, with its counts."""

    event_type: str
    month: str
    state: str
    source_index: str
    target_index: str
    backup_index: str
    source_exists: bool
    source_enriched: bool
    target_exists: bool
    backup_exists: bool
    finalised: bool
    switched: bool
    old_count: int
    """Events in the old monthly index (0 when it is gone)."""
    target_count: int
    backup_count: int
    source_count: int
    """Events the migration copies: the old index, else the backup, else recorded."""
    migrated_count: int
    """Events copied so far (the bookmark's ``processed_count``)."""
    remaining_count: int
    percent: float | None
    old_index: str
    """``kept``, ``deleted``, ``switched`` (old name is an alias) or ``none``."""
    stale: bool = False
    """Completed under another enrichment fingerprint than the current one."""
    last_error: str | None = None
    command: str | None = None
    """The ``migrate`` command that resumes or retries the month."""
    bookmark: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        """``view-2024-05``."""
        return f"{self.event_type}-{self.month}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def classify(entry: MonthIndices, old_count: int) -> str:
    """Return the group of a month (see the module docstring)."""
    bookmark = entry.bookmark
    if bookmark is not None and not bookmark.completed:
        if bookmark.phase == PHASE_FAILED:
            return FAILED
        if bookmark.phase == SWITCHING:
            return FAILED if bookmark.last_error else INTERRUPTED
        return IN_PROGRESS
    if bookmark is not None:
        recorded = bookmark.source_count or 0
        if entry.legacy_source and old_count > recorded:
            return PENDING_AGAIN
        return COMPLETED
    if entry.legacy_source:
        return UNRECORDED if entry.finalised else NOT_STARTED
    return NOT_NEEDED


def migrate_command(event_type: str, month: str) -> str:
    """Return the command that migrates (resumes, retries) one month."""
    return f"{PROGRAM} migrate -e {event_type} -m {month}"


def bookmark_summary(bookmark: Bookmark | None) -> dict[str, Any] | None:
    """Return the stored fields of a bookmark that status shows."""
    if bookmark is None:
        return None
    data = bookmark.to_document()
    data["updated_timestamp"] = bookmark.updated_timestamp
    return data


def month_status(
    entry: MonthIndices, counts: Mapping[str, int], current_fingerprint: str
) -> MonthStatus:
    """Build the status of one month from its indices, bookmark and counts."""
    bookmark = entry.bookmark
    old_count = counts.get(entry.source, 0) if entry.source_exists else 0
    target_count = counts.get(entry.target, 0) if entry.target_exists else 0
    backup_count = counts.get(entry.backup, 0) if entry.backup_exists else 0
    state = classify(entry, old_count)
    if entry.source_exists:
        source_count = old_count
    elif entry.backup_exists:
        source_count = backup_count
    elif bookmark is not None:
        source_count = bookmark.source_count or bookmark.processed_count
    else:
        source_count = target_count if state != NOT_NEEDED else 0
    processed = bookmark.processed_count if bookmark is not None else 0
    if state == NOT_STARTED:
        migrated, remaining = 0, source_count
    elif state in (IN_PROGRESS, INTERRUPTED, FAILED):
        migrated, remaining = processed, max(source_count - processed, 0)
    elif state == COMPLETED:
        migrated, remaining = processed, 0
    elif state == PENDING_AGAIN:
        assert bookmark is not None  # noqa: S101 - pending again needs a bookmark
        migrated = processed
        remaining = max(old_count - (bookmark.source_count or 0), 0)
    elif state == UNRECORDED:
        migrated, remaining = target_count, max(old_count - target_count, 0)
    else:
        migrated, remaining = 0, 0
    if entry.switched:
        old_index = "switched"
    elif entry.source_exists:
        old_index = "kept"
    elif bookmark is not None or entry.target_exists:
        old_index = "deleted"
    else:
        old_index = "none"
    percent = (
        round(100.0 * min(migrated, source_count) / source_count, 1)
        if source_count
        else None
    )
    stale = bool(
        bookmark is not None
        and bookmark.completed
        and bookmark.enrichment_fingerprint not in (None, current_fingerprint)
    )
    return MonthStatus(
        event_type=entry.event_type,
        month=entry.month,
        state=state,
        source_index=entry.source,
        target_index=entry.target,
        backup_index=entry.backup,
        source_exists=entry.source_exists,
        source_enriched=entry.source_enriched,
        target_exists=entry.target_exists,
        backup_exists=entry.backup_exists,
        finalised=entry.finalised,
        switched=entry.switched,
        old_count=old_count,
        target_count=target_count,
        backup_count=backup_count,
        source_count=source_count,
        migrated_count=migrated,
        remaining_count=remaining,
        percent=percent,
        old_index=old_index,
        stale=stale,
        last_error=bookmark.last_error if bookmark is not None else None,
        command=(
            migrate_command(entry.event_type, entry.month)
            if state in PENDING_GROUPS
            else None
        ),
        bookmark=bookmark_summary(bookmark),
    )


# ---------------------------------------------------------------------- report


@dataclass
class StatusReport:
    """Everything ``usage-events status`` prints (``--json`` prints ``to_dict``)."""

    generated_at: str
    state: str
    """``not_needed``, ``required``, ``running`` or ``complete`` (03 §4.12)."""
    health: dict[str, Any]
    lock: dict[str, Any] | None
    months: list[MonthStatus] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    reenrichment: list[dict[str, Any]] = field(default_factory=list)
    legacy_backups: list[dict[str, Any]] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)

    def group(self, name: str, event_type: str | None = None) -> list[MonthStatus]:
        """Return the months of one group (optionally of one type), oldest first."""
        return [
            m
            for m in self.months
            if m.state == name and (event_type is None or m.event_type == event_type)
        ]

    def totals(self) -> dict[str, dict[str, int]]:
        """Per event type: events in old indices, migrated and remaining."""
        totals = {}
        for event_type in EVENT_TYPES:
            months = [m for m in self.months if m.event_type == event_type]
            totals[event_type] = {
                "old": sum(
                    m.old_count
                    for m in months
                    if m.source_exists and not m.source_enriched
                ),
                "migrated": sum(m.migrated_count for m in months),
                "remaining": sum(m.remaining_count for m in months),
            }
        return totals

    def progress_counts(self) -> dict[str, Any]:
        """``ProgressCounts`` of ``get_reindexing_progress`` (03 §6).

        ``old_indices``: the old monthly indices that still exist. ``migrations_in_progress``:
        months started but not completed (in progress, interrupted, failed, pending
        again). ``migrations_old_deleted``: completed months whose old index is gone
        (deleted, or switched to an alias). ``*_completed_migrations``: every completed
        month and whether its old index was kept. ``not_started``: months with an old
        index and no bookmark.
        """
        totals = self.totals()
        counts: dict[str, Any] = {}
        for event_type in EVENT_TYPES:
            counts[f"{event_type}_old"] = totals[event_type]["old"]
        for event_type in EVENT_TYPES:
            counts[f"{event_type}_migrated"] = totals[event_type]["migrated"]
        for event_type in EVENT_TYPES:
            counts[f"{event_type}_remaining"] = totals[event_type]["remaining"]
        counts["old_indices"] = [
            {
                "event_type": m.event_type,
                "month": m.month,
                "index": m.source_index,
                "count": m.old_count,
                "enriched_index": m.target_index if m.target_exists else None,
            }
            for m in self.months
            if m.source_exists and not m.source_enriched
        ]
        counts["migrations_in_progress"] = [
            _migrated_month(m)
            for m in self.months
            if m.state in (IN_PROGRESS, INTERRUPTED, FAILED, PENDING_AGAIN)
        ]
        counts["migrations_old_deleted"] = [
            _migrated_month(m)
            for m in self.months
            if m.state == COMPLETED and not m.source_exists
        ]
        for event_type in EVENT_TYPES:
            counts[f"{event_type}_completed_migrations"] = [
                {
                    "month": m.month,
                    "source_index": m.source_index,
                    "target_index": m.target_index,
                    "old_index": m.old_index,
                }
                for m in self.group(COMPLETED, event_type)
            ]
        counts["not_started"] = [
            {
                "event_type": m.event_type,
                "month": m.month,
                "index": m.source_index,
                "count": m.old_count,
            }
            for m in self.group(NOT_STARTED)
        ]
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document of ``status --json``."""
        return {
            "generated_at": self.generated_at,
            "state": self.state,
            "health": self.health,
            "lock": self.lock,
            "totals": self.totals(),
            "counts": self.progress_counts(),
            "groups": {
                name: [m.to_dict() for m in self.group(name)] for name in GROUPS
            },
            "fingerprint": self.fingerprint,
            "reenrichment": self.reenrichment,
            "legacy_backups": self.legacy_backups,
            "unrecognised": self.unrecognised,
        }


def _migrated_month(month: MonthStatus) -> dict[str, Any]:
    return {
        "event_type": month.event_type,
        "month": month.month,
        "source_index": month.source_index,
        "index": month.target_index if month.target_exists else None,
        "old_count": month.source_count,
        "migrated_count": month.migrated_count,
        "remaining_count": month.remaining_count,
        "completed": month.state == COMPLETED,
        "interrupted": month.state in (IN_PROGRESS, INTERRUPTED),
        "bookmark": month.bookmark,
    }


def legacy_backup_indices(
    client, event_types: Sequence[str] = tuple(EVENT_TYPES)
) -> list[dict[str, Any]]:
    """List the indices named ``…-{YYYY-MM}-backup`` (old naming) with aliases."""
    patterns = [f"{monthly_pattern(t)}{LEGACY_BACKUP_SUFFIX}" for t in event_types]
    found = client.indices.get_alias(
        index=",".join(patterns),
        expand_wildcards="open,closed",
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    rows = []
    for name, body in sorted(found.items()):
        for event_type in event_types:
            parsed = parse_index_name(event_type, name)
            if parsed.kind == "legacy_backup":
                rows.append(
                    {
                        "event_type": event_type,
                        "month": parsed.month,
                        "index": name,
                        "aliases": sorted((body or {}).get("aliases") or {}),
                    }
                )
    return rows


def _lock_state(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the migration lock's holder; None when free (``error`` if unknown)."""
    from ...locks import lock_holder, lock_key, lock_settings
    from ..indexing_state import redis_client

    settings = lock_settings("usage_migration", config)
    if settings is None:
        return None
    try:
        client = redis_client(config)
        try:
            prefix = config["STATS_CACHE_PREFIX"]
            holder = lock_holder(client, lock_key(prefix, settings[0]))
        finally:
            client.close()
    except Exception as error:  # Redis down: say so, report the rest
        return {"name": settings[0], "held": None, "error": str(error)}
    if holder is None:
        return None
    return {
        "name": settings[0],
        "held": True,
        "host": holder.host,
        "pid": holder.pid,
        "since": holder.since,
    }


def build_status(
    client,
    config: Mapping[str, Any],
    event_types: Sequence[str] = tuple(EVENT_TYPES),
) -> StatusReport:
    """Collect the status of every month of ``event_types`` (read-only)."""
    health = check_health(
        client, int(config.get("STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT", 85))
    )
    if not health.is_healthy and health.cluster_status is None:
        raise SearchUnavailableError(health.to_dict())
    store = BookmarkStore(client)
    has_bookmarks = store.exists()
    bookmarks = store.all(reenrich=None) if has_bookmarks else []
    migration = {(b.event_type, b.month): b for b in bookmarks if not b.reenrich}
    inventory = take_inventory(client, tuple(event_types), migration)
    entries = inventory.ordered()
    needed = [
        name
        for e in entries
        for name, exists in (
            (e.source, e.source_exists),
            (e.target, e.target_exists),
            (e.backup, e.backup_exists),
        )
        if exists
    ]
    counts = index_counts(client, event_types, needed) if needed else {}
    current = fingerprint(configured_fields(config))
    months = [month_status(entry, counts, current) for entry in entries]
    summary = store.run_summary() if has_bookmarks else None
    lock = _lock_state(config)
    if lock is not None and lock.get("held"):
        state = "running"
    elif any(m.state in PENDING_GROUPS for m in months):
        state = "required"
    elif any(m.state == COMPLETED for m in months):
        state = "complete"
    else:
        state = "not_needed"
    report = StatusReport(
        generated_at=format_utc(utc_now()),
        state=state,
        health=health.to_dict(),
        lock=lock,
        months=months,
        fingerprint={
            "current": current,
            "last_completed_run": (summary or {}).get("enrichment_fingerprint"),
            "last_completed_run_at": (summary or {}).get("updated_timestamp"),
            "matches": (summary or {}).get("enrichment_fingerprint") == current
            if summary
            else None,
            "stale_months": [m.name for m in months if m.stale],
        },
        reenrichment=[
            {
                "event_type": b.event_type,
                "month": b.month,
                "completed": b.completed,
                "processed_count": b.processed_count,
                "cutoff": b.cutoff,
                "enrichment_fingerprint": b.enrichment_fingerprint,
                "last_error": b.last_error,
            }
            for b in bookmarks
            if b.reenrich and b.event_type in event_types
        ],
        legacy_backups=legacy_backup_indices(client, event_types),
        unrecognised=sorted(inventory.unrecognised),
    )
    return report


def reindexing_progress(service) -> dict[str, Any]:
    """Return ``{counts, health}`` for the service and the Celery task (03 §6)."""
    from flask import current_app

    report = build_status(service.client, current_app.config)
    return {"counts": report.progress_counts(), "health": report.health}
