"""Expected usage delta and snapshot documents from the oracle, and stored ones.

Shared by the usage aggregator tests: the expected document of every scope and
day is built from the usage oracle over the event dicts the test indexed.
"""

import random
from datetime import date

from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from helpers.oracle.usage import (
    event_day,
    in_scope,
    usage_oracle,
    usage_subcounts_oracle,
)
from helpers.usage_event_sets import (
    DEFAULT_USAGE_KEYS,
    days_from,
    index_usage_events,
    random_usage_events,
)

A, B = "c0ffee00-0000-4000-8000-0000000000a1", "c0ffee00-0000-4000-8000-0000000000b2"
QUIET = date(2025, 3, 2)
EVENT_DAYS = [d for d in days_from(date(2025, 2, 26), 7) if d != QUIET]
TODAY = date(2025, 3, 6)
"""The standard set's last day: 03-05 and 03-06 are quiet too."""

DELTA_ALIAS = "stats-community-usage-delta"
SNAPSHOT_ALIAS = "stats-community-usage-snapshot"


def scope_start(views, downloads, scope) -> date:
    """First day with a counted event of the scope (no membership events here)."""
    return min(
        event_day(e)
        for e in views + downloads
        if in_scope(e, scope) and not e.get("is_robot")
    )


def _oracle(views, downloads, scope, last, top_limit):
    first = scope_start(views, downloads, scope)
    totals = usage_oracle(views, downloads, scope, first, last)
    items = usage_subcounts_oracle(
        views, downloads, scope, first, last, DEFAULT_USAGE_KEYS, top_limit
    )
    return totals, items


def expected_deltas(views, downloads, scope, last):
    """Every day's delta document, without the compute timestamps."""
    totals, items = _oracle(views, downloads, scope, last, 20)
    return {
        f"{scope}-{day.isoformat()}": {
            "community_id": scope,
            "period_start": f"{day.isoformat()}T00:00:00",
            "period_end": f"{day.isoformat()}T23:59:59",
            "totals": totals[day][0],
            "subcounts": {
                key: [{"id": i, **item} for i, item in sorted(day_items[key].items())]
                for key in DEFAULT_USAGE_KEYS
            },
        }
        for day, (day_items, _) in items.items()
    }


def _snapshot_items(key, items):
    if DEFAULT_USAGE_KEYS[key].snapshot == "top":
        return items
    return [{"id": i, **item} for i, item in sorted(items.items())]


def expected_snapshots(views, downloads, scope, last, top_limit):
    """Every day's snapshot document, without the compute timestamps."""
    totals, items = _oracle(views, downloads, scope, last, top_limit)
    return {
        f"{scope}-{day.isoformat()}": {
            "community_id": scope,
            "snapshot_date": f"{day.isoformat()}T00:00:00",
            "totals": totals[day][1],
            "subcounts": {
                key: _snapshot_items(key, snapshot[key]) for key in DEFAULT_USAGE_KEYS
            },
        }
        for day, (_, snapshot) in items.items()
    }


def stored_documents(alias, scope):
    """Every stored document of the scope under ``alias``, by id, no timestamps."""
    index = prefix_index(alias)
    current_search_client.indices.refresh(index=index)
    response = current_search_client.search(
        index=index,
        body={"query": {"term": {"community_id": scope}}, "size": 1000},
    )
    found = {}
    for hit in response["hits"]["hits"]:
        source = dict(hit["_source"])
        assert source.pop("timestamp") == source.pop("updated_timestamp")
        found[hit["_id"]] = source
    return found


def index_standard_set():
    """Index the standard set: 700 views and 400 downloads over ``EVENT_DAYS``."""
    rng = random.Random(20250226)
    views = random_usage_events(rng, 700, False, EVENT_DAYS, (A, B))
    downloads = random_usage_events(rng, 400, True, EVENT_DAYS, (A, B))
    index_usage_events(views, downloads)
    return views, downloads
