"""The first day a scope has data (04 §7.2): one search per question.

No community creation date is used: the records start is the earliest membership
event of the scope, the usage start the earlier of that and the scope's earliest
counted view or download. A scope without any has no start.
"""

from __future__ import annotations

from datetime import date

from invenio_search.utils import prefix_index

from ..communities import GLOBAL_SCOPE
from ..community_events.documents import INDEX_STEM
from ..timeutils import parse_utc
from ..usage_events.names import read_alias


def earliest_day(client, index: str, field: str, query: dict) -> date | None:
    """Return the day of the smallest ``field`` among matching documents."""
    response = client.search(
        index=index,
        body={
            "size": 0,
            "track_total_hits": False,
            "query": query,
            "aggs": {"earliest": {"min": {"field": field}}},
        },
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    earliest = (response.get("aggregations") or {}).get("earliest") or {}
    moment = parse_utc(earliest.get("value_as_string"))
    return moment.date() if moment is not None and earliest.get("value") else None


def records_start(client, scope: str) -> date | None:
    """Return the earliest ``event_date`` among the scope's membership events."""
    return earliest_day(
        client,
        prefix_index(INDEX_STEM),
        "event_date",
        {"term": {"community_id": scope}},
    )


def usage_start(client, scope: str, records_first: date | None) -> date | None:
    """Return the earlier of ``records_first`` and the earliest counted event."""
    query: dict = {"bool": {"must_not": [{"term": {"is_robot": True}}]}}
    if scope != GLOBAL_SCOPE:
        query["bool"]["filter"] = [{"term": {"community_ids": scope}}]
    first_event = earliest_day(
        client,
        f"{read_alias('view')},{read_alias('download')}",
        "timestamp",
        query,
    )
    found = [day for day in (records_first, first_event) if day is not None]
    return min(found) if found else None
