"""Decide, for one chunk of versions, what the log lacks (02 §5 steps 4–5).

The same plan serves the counting pass (``status``) and the writing pass
(``generate``), so what status reports as missing is exactly what generate writes.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..communities import GLOBAL_SCOPE
from .documents import VersionInfo, build_event, deletion_flag_update
from .inclusion_dates import InclusionDates
from .membership import ADDED, REMOVED, PairHistory


@dataclass
class MissingAdd:
    """A desired pair without an open membership."""

    version: VersionInfo
    scope: str
    reopen_after: datetime | None
    """End of the closed membership being re-opened, if any."""


@dataclass
class ChunkPlan:
    """What one chunk needs; counters follow the service's return values."""

    missing: list[MissingAdd] = field(default_factory=list)
    stale: list[tuple[VersionInfo, str]] = field(default_factory=list)
    flags: list[tuple[VersionInfo, dict[str, Any]]] = field(default_factory=list)
    present: int = 0

    @property
    def records_needing_events(self) -> int:
        """Versions with at least one missing ``added``."""
        return len({m.version.record_id for m in self.missing})

    def breakdown(self) -> Counter:
        """Missing ``added`` events per scope."""
        return Counter(m.scope for m in self.missing)


def desired_scopes(version: VersionInfo, scope_filter: set[str] | None) -> list[str]:
    """``global`` plus the parent's communities, limited to the filter when given."""
    scopes = [GLOBAL_SCOPE, *version.community_ids]
    if scope_filter is not None:
        scopes = [s for s in scopes if s in scope_filter]
    return list(dict.fromkeys(scopes))


def plan_chunk(
    versions: list[VersionInfo],
    histories: dict[tuple[str, str], PairHistory],
    scope_filter: set[str] | None,
) -> ChunkPlan:
    """Compare the desired state of ``versions`` with their folded log."""
    plan = ChunkPlan()
    by_record: dict[str, dict[str, PairHistory]] = {}
    for (record_id, scope), history in histories.items():
        by_record.setdefault(record_id, {})[scope] = history
    for version in versions:
        logged = by_record.get(version.record_id, {})
        wanted = desired_scopes(version, scope_filter)
        for scope, history in logged.items():
            if scope in wanted or scope == GLOBAL_SCOPE or not history.is_open:
                continue
            if scope_filter is None or scope in scope_filter:
                plan.stale.append((version, scope))
        for scope in wanted:
            history = logged.get(scope) or PairHistory()
            if version.is_deleted:
                if not history.has_events:
                    plan.missing.append(MissingAdd(version, scope, None))
                elif history.is_open and history.open_added is not None:
                    plan.flags.append((version, dict(history.open_added)))
                else:
                    plan.present += 1
            elif history.is_open:
                plan.present += 1
            else:
                plan.missing.append(MissingAdd(version, scope, history.last_closed_at))
    return plan


def plan_actions(
    plan: ChunkPlan, dates: InclusionDates | None, now: datetime
) -> list[dict[str, Any]]:
    """Bulk actions for a chunk plan; ``dates`` is needed when ``added`` is missing."""
    actions: list[dict[str, Any]] = []
    for missing in plan.missing:
        assert dates is not None  # noqa: S101 - callers look dates up when needed
        when = dates.event_date(missing.version, missing.scope)
        if missing.reopen_after is not None and when <= missing.reopen_after:
            when = now
        actions.append(
            build_event(missing.version, missing.scope, ADDED, when, now=now)
        )
    for version, scope in plan.stale:
        actions.append(build_event(version, scope, REMOVED, now, now=now))
    for version, hit in plan.flags:
        actions.append(deletion_flag_update(hit, version.deleted_date or now, now=now))
    return actions
