"""Which versions are members of a scope at the end of each day (04 §4.1).

The membership log of the pass's versions is replayed once with the extension's
one membership rule (:mod:`..community_events.membership`); the days on which any
of them changes are the only days that can have a non-zero delta.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ...community_events.log_reader import read_histories
from ...community_events.membership import PairHistory


class ScopeMembers:
    """The replayed memberships of some versions in one scope."""

    def __init__(self, histories: dict[str, PairHistory]):
        """Keep each version's history (versions without events are never members)."""
        self.histories = histories

    @classmethod
    def read(cls, client, scope: str, record_ids: Iterable[str]) -> ScopeMembers:
        """Read and replay the scope's events of ``record_ids``."""
        pairs = read_histories(client, record_ids, [scope])
        return cls({record_id: history for (record_id, _), history in pairs.items()})

    def members_at_end_of(self, day: date) -> set[str]:
        """Return the versions that are members after the last event of ``day``."""
        return {
            record_id
            for record_id, history in self.histories.items()
            if history.member_at_end_of_day(day)
        }

    def change_days(self, first: date, last: date) -> list[date]:
        """Return the days from ``first`` to ``last`` on which a membership starts or ends."""
        found = set()
        for history in self.histories.values():
            for interval in history.intervals:
                for moment in (interval.start, interval.end):
                    if moment is not None and first <= moment.date() <= last:
                        found.add(moment.date())
        return sorted(found)
