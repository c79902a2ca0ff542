"""Turn intents into log documents: one read of the log, one bulk write (02 §3).

Rules (01 §5.2): ``added`` only when no membership is open; ``removed`` only when one
is open, preceded by the backfill-dated ``added`` when the pair has no event at all;
deletion flags on the newest ``added`` of each open membership of the version.
Everything is written in a single bulk request with ``refresh=wait_for``, so a
request costs one search and one bulk, never a separate refresh.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..communities import CommunityDirectory
from ..search_indices.bulk import bulk_write
from ..timeutils import utc_now
from .documents import build_event, deletion_flag_update, event_id
from .inclusion_dates import InclusionDates
from .intents import ADD, DELETE, REMOVE, Intent
from .log_reader import read_histories
from .membership import ADDED, REMOVED, PairHistory

logger = logging.getLogger(__name__)


@dataclass
class WritePlan:
    """The documents one batch of intents produces."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    flagged: int = 0


class _PairState:
    """The membership of one pair while the intents of a batch are applied."""

    def __init__(self, history: PairHistory | None):
        self.history = history or PairHistory()
        self.is_open = self.history.is_open
        self.open_added = self.history.open_added
        self.ids = set(self.history.event_ids)

    def unique_date(self, scope, record_id, event_type, when: datetime) -> datetime:
        """Move ``when`` to the next free second if its deterministic id is taken.

        Ids have one-second resolution, so re-adding a pair within the second it was
        removed would otherwise overwrite the earlier ``added``.
        """
        while event_id(scope, record_id, event_type, when) in self.ids:
            when = when.replace(microsecond=0) + timedelta(seconds=1)
        self.ids.add(event_id(scope, record_id, event_type, when))
        return when


def plan_writes(
    client,
    intents: Iterable[Intent],
    *,
    now: datetime | None = None,
) -> WritePlan:
    """Read the log once for the intents' records and decide every document."""
    now = now or utc_now()
    intents = sorted(intents, key=lambda i: i.at)
    histories = read_histories(client, {i.version.record_id for i in intents})
    states: dict[tuple[str, str], _PairState] = {}
    plan = WritePlan()
    backfill_dates: InclusionDates | None = None

    def state(record_id: str, scope: str) -> _PairState:
        key = (record_id, scope)
        if key not in states:
            states[key] = _PairState(histories.get(key))
        return states[key]

    for intent in intents:
        version = intent.version
        if intent.kind == DELETE:
            for record_id, scope in sorted(set(histories) | set(states)):
                if record_id != version.record_id:
                    continue
                pair = state(record_id, scope)
                if pair.is_open and pair.open_added is not None:
                    plan.actions.append(
                        deletion_flag_update(dict(pair.open_added), intent.at, now=now)
                    )
                    plan.flagged += 1
                    pair.is_open = False
            continue
        assert intent.scope is not None  # noqa: S101 - add/remove always name one
        pair = state(version.record_id, intent.scope)
        if intent.kind == ADD:
            if pair.is_open:
                continue
            when = pair.unique_date(intent.scope, version.record_id, ADDED, intent.at)
            plan.actions.append(
                build_event(version, intent.scope, ADDED, when, now=now)
            )
            plan.added += 1
            pair.is_open = True
            pair.open_added = plan.actions[-1]
        elif intent.kind == REMOVE:
            if not pair.is_open:
                if pair.history.has_events or pair.ids:
                    continue
                if backfill_dates is None:
                    backfill_dates = _backfill_dates(client, intents)
                start = min(backfill_dates.event_date(version, intent.scope), intent.at)
                start = pair.unique_date(intent.scope, version.record_id, ADDED, start)
                plan.actions.append(
                    build_event(version, intent.scope, ADDED, start, now=now)
                )
                plan.added += 1
            when = pair.unique_date(intent.scope, version.record_id, REMOVED, intent.at)
            plan.actions.append(
                build_event(version, intent.scope, REMOVED, when, now=now)
            )
            plan.removed += 1
            pair.is_open = False
            pair.open_added = None
    return plan


def _backfill_dates(client, intents: list[Intent]) -> InclusionDates:
    """Backfill dating for removals of memberships that predate the log (rare)."""
    scopes = sorted({i.scope for i in intents if i.kind == REMOVE and i.scope})
    directory = CommunityDirectory.load(client, ids=scopes)
    versions = [i.version for i in intents if i.kind == REMOVE]
    return InclusionDates.for_versions(client, versions, directory.created_times())


def apply_intents(client, intents: Iterable[Intent]) -> WritePlan:
    """Plan and write the documents of ``intents`` in one bulk request."""
    plan = plan_writes(client, list(intents))
    if plan.actions:
        bulk_write(client, plan.actions, refresh="wait_for")
    return plan
