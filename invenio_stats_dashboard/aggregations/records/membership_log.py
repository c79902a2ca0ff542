"""Searches of the membership log that a records pass needs (04 §7.6, §10)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ...community_events.documents import alias_name
from ...timeutils import parse_utc
from ..composite import composite_buckets
from ..days import day_start_label


def _day_range(first: date, last: date) -> dict[str, str]:
    return {"gte": day_start_label(first), "lt": day_start_label(last + timedelta(1))}


def touched_records(client, scope: str, first: date, last: date) -> set[str]:
    """Return the versions with a membership change of the scope in the range.

    A change is an event dated in the range, or a deletion flag dated in it: every
    kind of change is looked at, so an old record added today or a deletion is
    never missed (must-not-repeat 1). Paged, so no bucket ceiling.
    """
    window = _day_range(first, last)
    query = {
        "bool": {
            "filter": [{"term": {"community_id": scope}}],
            "should": [
                {"range": {"event_date": window}},
                {"range": {"deleted_date": window}},
            ],
            "minimum_should_match": 1,
        }
    }
    return {
        str(bucket["key"]["record"])
        for bucket in composite_buckets(
            client,
            alias_name(),
            query,
            [{"record": {"terms": {"field": "record_id"}}}],
            {},
        )
    }


def late_change_day(
    client, scope: str, written_after: str, before: date
) -> date | None:
    """Return the earliest day of a change written after ``written_after``.

    Only changes dated before ``before`` count: they were not seen by the pass
    that wrote the documents (``community-events generate`` run after aggregation
    began, late components, repairs). One request.
    """
    boundary = day_start_label(before)
    aggs: dict[str, Any] = {
        name: {
            "filter": {"range": {name: {"lt": boundary}}},
            "aggs": {"earliest": {"min": {"field": name}}},
        }
        for name in ("event_date", "deleted_date")
    }
    response = client.search(
        index=alias_name(),
        body={
            "size": 0,
            "track_total_hits": False,
            "query": {
                "bool": {
                    "filter": [{"term": {"community_id": scope}}],
                    # ``gte``: ``gt`` on a value without milliseconds rounds up
                    # to the end of its second, which would hide a change written
                    # in the same second as the pass (a needless recompute is safe)
                    "should": [
                        {"range": {"timestamp": {"gte": written_after}}},
                        {"range": {"updated_timestamp": {"gte": written_after}}},
                    ],
                    "minimum_should_match": 1,
                }
            },
            "aggs": aggs,
        },
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    found = []
    for name in aggs:
        earliest = ((response.get("aggregations") or {}).get(name) or {}).get(
            "earliest"
        ) or {}
        if earliest.get("value") is not None:
            moment = parse_utc(earliest.get("value_as_string"))
            if moment is not None:
                found.append(moment.date())
    return min(found) if found else None
