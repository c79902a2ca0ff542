"""Months of usage events and the state of their indices (03 §4.2, §4.4).

A few requests list every monthly, target and backup index of both event types with
their aliases and mapping markers; the month's bookmark completes the picture.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ...timeutils import utc_now
from ..event_mappings import is_enriched_mapping
from ..names import (
    BACKUP_PREFIX,
    EVENT_TYPES,
    backup_index,
    is_month,
    month_index,
    monthly_pattern,
    parse_index_name,
    read_alias,
    target_index,
)
from .bookmarks import Bookmark


class MonthSelectionError(ValueError):
    """A ``--months`` value is not ``YYYY-MM`` or ``YYYY-MM:YYYY-MM``."""


def _months_between(start: str, end: str) -> list[str]:
    year, month = int(start[:4]), int(start[5:])
    last = (int(end[:4]), int(end[5:]))
    months = []
    while (year, month) <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def parse_months(values: str | Iterable[str] | None) -> list[str] | None:
    """Expand month values and ranges, sorted; None when nothing was selected.

    Accepts a string, a list or a tuple; each item ``YYYY-MM`` or an inclusive
    ``YYYY-MM:YYYY-MM``, and comma-separated lists of those.
    """
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    months: set[str] = set()
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            start, _, end = part.partition(":")
            end = end or start
            if not (is_month(start) and is_month(end)):
                raise MonthSelectionError(
                    f"invalid month {part!r}: expected YYYY-MM or YYYY-MM:YYYY-MM"
                )
            if start > end:
                raise MonthSelectionError(
                    f"invalid month range {part!r}: the start is after the end"
                )
            months.update(_months_between(start, end))
    return sorted(months) if months else None


def month_of(day: date | datetime) -> str:
    """``YYYY-MM`` of a day."""
    return f"{day.year:04d}-{day.month:02d}"


def live_months(now: datetime | None = None) -> set[str]:
    """Return the current and previous UTC month: both still get writes (03 §4.6)."""
    now = now or utc_now()
    previous = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    return {month_of(now), f"{previous[0]:04d}-{previous[1]:02d}"}


@dataclass
class MonthIndices:
    """Indices, aliases and bookmark of one event type and month."""

    event_type: str
    month: str
    source_exists: bool = False
    source_enriched: bool = False
    source_aliases: set[str] = field(default_factory=set)
    target_exists: bool = False
    target_aliases: set[str] = field(default_factory=set)
    backup_exists: bool = False
    bookmark: Bookmark | None = None

    @property
    def source(self) -> str:
        """The monthly name invenio-stats writes."""
        return month_index(self.event_type, self.month)

    @property
    def target(self) -> str:
        """The migrated ``-v2.0.0`` index."""
        return target_index(self.event_type, self.month)

    @property
    def backup(self) -> str:
        """The backup of a switched month."""
        return backup_index(self.event_type, self.month)

    @property
    def read_alias(self) -> str:
        """The event type's read alias."""
        return read_alias(self.event_type)

    @property
    def finalised(self) -> bool:
        """Target holds the read alias, and the old index does not (03 §4.5)."""
        if not self.target_exists or self.read_alias not in self.target_aliases:
            return False
        return not self.source_exists or self.read_alias not in self.source_aliases

    @property
    def switched(self) -> bool:
        """The old monthly name is now an alias of the target."""
        return self.source in self.target_aliases

    @property
    def completed(self) -> bool:
        """Bookmarked ``completed``."""
        return bool(self.bookmark and self.bookmark.completed)

    @property
    def legacy_source(self) -> bool:
        """A concrete old monthly index without the enriched marker."""
        return self.source_exists and not self.source_enriched


@dataclass
class Inventory:
    """Every month of the selected event types, and the names nobody recognises."""

    months: dict[tuple[str, str], MonthIndices] = field(default_factory=dict)
    unrecognised: list[str] = field(default_factory=list)

    def get(self, event_type: str, month: str) -> MonthIndices:
        """Return (creating if needed) the entry of one month."""
        key = (event_type, month)
        if key not in self.months:
            self.months[key] = MonthIndices(event_type, month)
        return self.months[key]

    def ordered(self) -> list[MonthIndices]:
        """Oldest month first, views before downloads on the same month."""
        order = list(EVENT_TYPES)
        return sorted(
            self.months.values(),
            key=lambda m: (m.month, order.index(m.event_type)),
        )


def _indices(client, pattern: str) -> Mapping[str, Any]:
    return client.indices.get(
        index=f"{pattern},{BACKUP_PREFIX}{pattern}",
        expand_wildcards="open,closed",
        ignore_unavailable=True,
        allow_no_indices=True,
    )


def take_inventory(
    client,
    event_types: Sequence[str],
    bookmarks: Mapping[tuple[str, str], Bookmark] | None = None,
) -> Inventory:
    """List the month indices of ``event_types`` with their aliases and markers."""
    inventory = Inventory()
    for event_type in event_types:
        for name, body in _indices(client, monthly_pattern(event_type)).items():
            aliases = set((body.get("aliases") or {}).keys())
            meta = (body.get("mappings") or {}).get("_meta") or {}
            if name.startswith(BACKUP_PREFIX):
                parsed = parse_index_name(event_type, name[len(BACKUP_PREFIX) :])
                if parsed.kind == "monthly" and parsed.month:
                    inventory.get(event_type, parsed.month).backup_exists = True
                continue
            parsed = parse_index_name(event_type, name)
            if parsed.kind == "unrecognised" or parsed.month is None:
                inventory.unrecognised.append(name)
                continue
            if parsed.kind == "legacy_backup":
                continue
            entry = inventory.get(event_type, parsed.month)
            if parsed.kind == "target":
                entry.target_exists = True
                entry.target_aliases = aliases
            else:
                entry.source_exists = True
                entry.source_enriched = is_enriched_mapping(meta)
                entry.source_aliases = aliases
    for (event_type, month), bookmark in (bookmarks or {}).items():
        if event_type in event_types:
            inventory.get(event_type, month).bookmark = bookmark
    return inventory


def is_pending(entry: MonthIndices, source_count: int | None = None) -> bool:
    """Whether a month needs migrating (03 §4.4).

    ``source_count`` is the old index's count, needed only for a completed month
    whose old index still exists (late writes make it pending again).
    """
    if entry.bookmark is not None and not entry.bookmark.completed:
        return True
    if entry.finalised and entry.bookmark is None:
        return True  # finalised elsewhere (or bookmark cleared): verify and record
    if not entry.legacy_source:
        return False
    if entry.bookmark is None:
        return True
    recorded = entry.bookmark.source_count or 0
    return source_count is not None and source_count > recorded
