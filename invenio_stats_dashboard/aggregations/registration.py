"""The aggregator registry entries (04 §2): the default of ``COMMUNITY_STATS_AGGREGATIONS``.

Plain import strings only, so the configuration module can call this without
importing the aggregators; invenio-stats resolves them when it builds an entry.
"""

from __future__ import annotations

from typing import Any

from .names import (
    COMMUNITY_EVENTS,
    RECORDS_DELTA,
    RECORDS_SNAPSHOT,
    USAGE_DELTA,
    USAGE_SNAPSHOT,
)

TEMPLATES = "invenio_stats_dashboard.search_indices.search_templates"
CLASSES = "invenio_stats_dashboard.aggregations"

_ENTRIES = {
    USAGE_DELTA: (
        "stats_community_usage_delta",
        "usage.delta_aggregator.UsageDeltaAggregator",
    ),
    RECORDS_DELTA: (
        "stats_community_records_delta_added",
        "records.delta_aggregator.RecordsDeltaAggregator",
    ),
    RECORDS_SNAPSHOT: (
        "stats_community_records_snapshot_added",
        "records.snapshot.RecordsSnapshotAggregator",
    ),
    USAGE_SNAPSHOT: (
        "stats_community_usage_snapshot",
        "usage.snapshot.UsageSnapshotAggregator",
    ),
    COMMUNITY_EVENTS: (
        "stats_community_events",
        "community_events_index.CommunityEventsIndexAggregator",
    ),
}


def register_aggregations() -> dict[str, dict[str, Any]]:
    """Return the five entries (``templates``, ``cls``, ``params``), in run order."""
    return {
        name: {
            "templates": f"{TEMPLATES}.{package}",
            "cls": f"{CLASSES}.{path}",
            "params": {},
        }
        for name, (package, path) in _ENTRIES.items()
    }
