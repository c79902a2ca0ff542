"""``status --verify``: stored records totals against a live count (04 §14).

For each scope, the latest records snapshot's totals are compared with the
members at the end of that day, counted afresh from the membership log and the
records index (the same replay the aggregators use). A difference means drift:
documents computed before a late change, or an edited index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from invenio_search.utils import prefix_index

from ..timeutils import parse_utc
from .names import ALIASES, RECORDS_SNAPSHOT
from .records.delta import SPLITS, file_metrics, parent_splits
from .records.members import ScopeMembers
from .records.membership_log import touched_records
from .records.versions import load_versions


@dataclass
class Drift:
    """Stored and live totals of one scope where they differ."""

    scope: str
    day: date | None
    differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """``{field: (stored, live)}``."""


def latest_snapshot(client, scope: str) -> dict[str, Any] | None:
    """Return the scope's latest records snapshot, or None."""
    hits = client.search(
        index=prefix_index(ALIASES[RECORDS_SNAPSHOT]),
        body={
            "size": 1,
            "query": {"term": {"community_id": scope}},
            "sort": [{"snapshot_date": "desc"}],
        },
        ignore_unavailable=True,
    )["hits"]["hits"]
    return hits[0]["_source"] if hits else None


def live_totals(client, scope: str, day: date, page_size: int = 200) -> dict[str, Any]:
    """Count the scope's members at the end of ``day`` from the log and the records."""
    everything = touched_records(client, scope, date(1900, 1, 1), day)
    versions = load_versions(client, [], record_ids=everything, page_size=page_size)
    members = ScopeMembers.read(client, scope, versions).members_at_end_of(day)
    members &= set(versions)
    records = dict.fromkeys(SPLITS, 0)
    for record_id in members:
        records[versions[record_id].split] += 1
    parents = dict.fromkeys(SPLITS, 0)
    for split in parent_splits(members, versions).values():
        parents[split] += 1
    return {
        "total_records": records,
        "total_parents": parents,
        "total_files": file_metrics(f for r in members for f in versions[r].files),
        "total_uploaders": len({versions[r].owner for r in members} - {None}),
    }


def verify_scope(client, scope: str) -> Drift:
    """Compare the latest stored snapshot of ``scope`` with the live count."""
    stored = latest_snapshot(client, scope)
    if stored is None:
        return Drift(scope, None)
    moment = parse_utc(stored["snapshot_date"])
    day = moment.date() if moment else date.today()
    live = live_totals(client, scope, day)
    drift = Drift(scope, day)
    for name, value in live.items():
        if stored.get(name) != value:
            drift.differences[name] = (stored.get(name), value)
    return drift
