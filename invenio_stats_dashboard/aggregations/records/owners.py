"""Owners represented in a scope over a range of days (04 §4.4 ``total_uploaders``).

``total_uploaders`` is a distinct count, not a sum of daily counts: an owner
counts while at least one of their versions is a member. Only owners of versions
added or removed in the range can enter or leave, so the pass replays all versions
of those owners and nobody else's.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import date

from .members import ScopeMembers
from .membership_log import touched_records
from .versions import load_versions


class OwnerTimeline:
    """Which of the range's owners are represented at the end of each day."""

    def __init__(self, owner_of: dict[str, str], members: ScopeMembers):
        """Keep each version's owner and the replayed memberships."""
        self.owner_of = owner_of
        self.members = members
        self.change_days = members.change_days(date.min, date.max)
        self._cache: dict[date | None, set[str]] = {}

    @classmethod
    def read(
        cls,
        client,
        scope: str,
        first: date,
        last: date,
        page_size: int | Callable[[], int],
    ) -> OwnerTimeline:
        """Read the owners of the range's touched versions and all their versions."""
        touched = touched_records(client, scope, first, last)
        if not touched:
            return cls({}, ScopeMembers({}))
        found = load_versions(client, [], record_ids=touched, page_size=page_size)
        owners = {v.owner for v in found.values() if v.owner is not None}
        if not owners:
            return cls({}, ScopeMembers({}))
        versions = load_versions(client, [], owners=owners, page_size=page_size)
        owner_of = {r: v.owner for r, v in versions.items() if v.owner is not None}
        return cls(owner_of, ScopeMembers.read(client, scope, owner_of))

    def represented(self, day: date) -> set[str]:
        """Return the range's owners with a member version at the end of ``day``.

        Memberships only change on their change days, so each answer is computed
        once per change day, not once per day.
        """
        position = bisect.bisect_right(self.change_days, day)
        last_change = self.change_days[position - 1] if position else None
        if last_change not in self._cache:
            members = (
                self.members.members_at_end_of(last_change) if last_change else set()
            )
            self._cache[last_change] = {self.owner_of[r] for r in members}
        return self._cache[last_change]
