"""The one membership helper every reader of the log uses (02 §2).

For one (record, scope) pair the event documents are replayed in a fixed order: by
``event_date``, ``added`` before ``removed`` on equal dates, then by ``timestamp``.
An ``added`` opens a membership unless one is open, a ``removed`` closes the open one,
and a ``deleted_date`` on an ``added`` of the open membership closes it at that
instant. Writers, the backfill, enrichment and aggregation all answer "was R a member
of S" through :func:`fold_events`, so they can never disagree.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..timeutils import parse_utc, start_of_day

ADDED = "added"
REMOVED = "removed"


@dataclass(frozen=True)
class Interval:
    """One membership: ``start`` inclusive, ``end`` None while still open."""

    start: datetime
    end: datetime | None = None

    def member_on_day(self, day: date) -> bool:
        """Whether the version counts as a member on ``day`` (both ends inclusive)."""
        if self.start.date() > day:
            return False
        return self.end is None or self.end.date() >= day

    def member_at_end_of_day(self, day: date) -> bool:
        """Whether the membership is open after the last event of ``day``."""
        day_end = start_of_day(day) + timedelta(days=1)
        if self.start >= day_end:
            return False
        return self.end is None or self.end >= day_end


@dataclass
class PairHistory:
    """The replayed log of one (record, scope) pair."""

    intervals: list[Interval] = field(default_factory=list)
    event_count: int = 0
    open_added: Mapping[str, Any] | None = None
    """The newest ``added`` document of the open membership (carries ``_id``/``_index``)."""
    closed_by_deletion: bool = False
    """The last membership was closed by a deletion flag, not by a ``removed``."""
    event_ids: set[str] = field(default_factory=set)

    @property
    def has_events(self) -> bool:
        """Whether any document exists for the pair."""
        return self.event_count > 0

    @property
    def is_open(self) -> bool:
        """Whether the pair's membership is open now."""
        return bool(self.intervals) and self.intervals[-1].end is None

    @property
    def last_closed_at(self) -> datetime | None:
        """When the last membership ended; None when open or never started."""
        if not self.intervals or self.is_open:
            return None
        return self.intervals[-1].end

    def member_on_day(self, day: date) -> bool:
        """Member at any moment of ``day`` (usage enrichment, 03)."""
        return any(interval.member_on_day(day) for interval in self.intervals)

    def member_at_end_of_day(self, day: date) -> bool:
        """Member at the end of ``day`` (record aggregation, 04 §4.1)."""
        return any(interval.member_at_end_of_day(day) for interval in self.intervals)


def _source(document: Mapping[str, Any]) -> Mapping[str, Any]:
    return document.get("_source", document)


def sort_key(document: Mapping[str, Any]) -> tuple:
    """Replay order: event date, ``added`` first on ties, then first-write time."""
    source = _source(document)
    event_date = parse_utc(source["event_date"])
    timestamp = parse_utc(source.get("timestamp")) or event_date
    return (event_date, 0 if source["event_type"] == ADDED else 1, timestamp)


def fold_events(documents: Iterable[Mapping[str, Any]]) -> PairHistory:
    """Replay the documents of one pair (search hits or plain sources) into intervals."""
    history = PairHistory()
    start: datetime | None = None
    deleted_at: datetime | None = None
    for document in sorted(documents, key=sort_key):
        source = _source(document)
        history.event_count += 1
        if "_id" in document:
            history.event_ids.add(document["_id"])
        event_date = parse_utc(source["event_date"])
        assert event_date is not None  # noqa: S101 - the mapping requires it
        if start is not None and deleted_at is not None and deleted_at <= event_date:
            history.intervals[-1] = Interval(start, deleted_at)
            history.closed_by_deletion = True
            history.open_added = None
            start = deleted_at = None
        if source["event_type"] == ADDED:
            flag = (
                parse_utc(source.get("deleted_date"))
                if source.get("is_deleted")
                else None
            )
            if start is None:
                start = event_date
                history.intervals.append(Interval(start))
                history.closed_by_deletion = False
            if flag is not None:
                deleted_at = flag if deleted_at is None else min(deleted_at, flag)
            history.open_added = document
        elif start is not None:
            history.intervals[-1] = Interval(start, event_date)
            history.closed_by_deletion = False
            history.open_added = None
            start = deleted_at = None
    if start is not None and deleted_at is not None:
        history.intervals[-1] = Interval(start, max(deleted_at, start))
        history.closed_by_deletion = True
        history.open_added = None
    return history


def fold_by_pair(
    documents: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, str], PairHistory]:
    """Group documents by (record_id, community_id) and fold each group."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for document in documents:
        source = _source(document)
        key = (source["record_id"], source["community_id"])
        groups.setdefault(key, []).append(document)
    return {key: fold_events(group) for key, group in groups.items()}
