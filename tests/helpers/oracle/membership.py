"""Membership of versions in scopes, replayed from raw membership events (04 §4.1)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

ADD, DELETE, REMOVE = 0, 1, 2
"""Order of transitions at the same instant (04 §11.1): added, deletion, removed."""


@dataclass(frozen=True)
class MembershipEvent:
    """One document of ``stats-community-events`` as the test wrote it."""

    record_id: str
    scope: str
    event_type: str
    event_date: datetime
    timestamp: datetime
    deleted_date: datetime | None = None


def _transitions(events):
    """Yield ``(instant, kind, timestamp, opener)`` for the events of one pair."""
    for number, event in enumerate(events):
        if event.event_type == "added":
            yield (event.event_date, ADD, event.timestamp, number)
            if event.deleted_date is not None:
                yield (event.deleted_date, DELETE, event.timestamp, number)
        else:
            yield (event.event_date, REMOVE, event.timestamp, number)


def intervals(events):
    """Return the ``[start, end)`` membership intervals of one (version, scope) pair.

    An ``added`` opens a membership (when none is open), a ``removed`` closes the open
    one, and a deletion closes the membership its own ``added`` opened, if still open.
    ``end`` is None for a membership still open.
    """
    found = []
    open_start = opened_by = None
    for instant, kind, _, number in sorted(_transitions(events)):
        if kind == ADD and open_start is None:
            open_start, opened_by = instant, number
        elif kind == DELETE and open_start is not None and opened_by == number:
            found.append((open_start, instant))
            open_start = opened_by = None
        elif kind == REMOVE and open_start is not None:
            found.append((open_start, instant))
            open_start = opened_by = None
    if open_start is not None:
        found.append((open_start, None))
    return found


class Memberships:
    """Who is a member of which scope at the end of each day."""

    def __init__(self, events):
        by_pair = defaultdict(list)
        for event in events:
            by_pair[(event.record_id, event.scope)].append(event)
        self.intervals = {pair: intervals(evs) for pair, evs in by_pair.items()}
        self.first_day = {}
        for event in events:
            day = event.event_date.date()
            if event.scope not in self.first_day or day < self.first_day[event.scope]:
                self.first_day[event.scope] = day

    def members_at_end_of(self, scope, day):
        """Versions that are members of ``scope`` at the end of ``day`` (UTC)."""
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
        members = set()
        for (record_id, pair_scope), spans in self.intervals.items():
            if pair_scope != scope:
                continue
            if any(
                _aware(s) < end and (e is None or _aware(e) >= end) for s, e in spans
            ):
                members.add(record_id)
        return members


def _aware(moment):
    """Read a naive instant as UTC, as the extension stores them."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def days(first: date, last: date):
    """Every day from ``first`` to ``last`` inclusive."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
