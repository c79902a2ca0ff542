"""The usage searches of a scope over a whole range of days (04 §5, §10).

One request (or one composite page) covers every day of the range: the day is a
``date_histogram`` bucket or a composite source, never a request of its own. Event
counts are document counts, so nothing stops at 10,000; distinct counts use the
cardinality aggregation at its maximum precision threshold (near-exact below it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from ...communities import GLOBAL_SCOPE

PRECISION_THRESHOLD = 40_000
"""OpenSearch's maximum; counts below it are near-exact (04 §5.2)."""

ITEM_PAGE = 1_000
"""Composite buckets per page of subcount items (all pages are read)."""

VIEW_METRICS = {
    "unique_visitors": "visitor_id",
    "unique_records": "recid",
    "unique_parents": "parent_recid",
}
DOWNLOAD_METRICS = {**VIEW_METRICS, "unique_files": "file_id"}

DAY_FORMAT = "yyyy-MM-dd"


def day_start(day: date) -> str:
    """Return the stored-timestamp form of ``day`` at 00:00:00 (UTC, no offset)."""
    return datetime.combine(day, time.min).strftime("%Y-%m-%dT%H:%M:%S")


def counted_events(scope: str, first: date, last: date) -> dict[str, Any]:
    """Return the query of a scope's counted events from ``first`` to ``last``.

    The day window is half-open in UTC; robots are left out (04 §5.1).
    """
    filters: list[dict[str, Any]] = [
        {
            "range": {
                "timestamp": {
                    "gte": day_start(first),
                    "lt": day_start(last + timedelta(days=1)),
                }
            }
        }
    ]
    if scope != GLOBAL_SCOPE:
        filters.append({"term": {"community_ids": scope}})
    return {"bool": {"filter": filters, "must_not": [{"term": {"is_robot": True}}]}}


def metric_aggs(download: bool) -> dict[str, Any]:
    """Return the sub-aggregations of one side's metrics."""
    fields = DOWNLOAD_METRICS if download else VIEW_METRICS
    aggs: dict[str, Any] = {
        name: {
            "cardinality": {"field": field, "precision_threshold": PRECISION_THRESHOLD}
        }
        for name, field in fields.items()
    }
    if download:
        aggs["total_volume"] = {"sum": {"field": "size"}}
    return aggs


def bucket_metrics(bucket: Mapping[str, Any], download: bool) -> dict[str, int]:
    """Return the metrics of one bucket as integers (bytes included)."""
    fields = DOWNLOAD_METRICS if download else VIEW_METRICS
    metrics = {"total_events": int(bucket["doc_count"])}
    for name in fields:
        metrics[name] = int(bucket[name]["value"] or 0)
    if download:
        metrics["total_volume"] = int(round(bucket["total_volume"]["value"] or 0))
    return metrics


def day_totals(
    client, index: str, scope: str, first: date, last: date, download: bool
) -> dict[date, dict[str, int]]:
    """Return each day's totals of one side; days without events are left out."""
    response = client.search(
        index=index,
        body={
            "size": 0,
            "track_total_hits": False,
            "query": counted_events(scope, first, last),
            "aggs": {
                "days": {
                    "date_histogram": {
                        "field": "timestamp",
                        "calendar_interval": "day",
                        "time_zone": "UTC",
                        "format": DAY_FORMAT,
                        "min_doc_count": 1,
                    },
                    "aggs": metric_aggs(download),
                }
            },
        },
        ignore_unavailable=True,
    )
    buckets = (response.get("aggregations") or {}).get("days", {}).get("buckets", [])
    return {
        date.fromisoformat(bucket["key_as_string"]): bucket_metrics(bucket, download)
        for bucket in buckets
    }


def day_items(
    client,
    index: str,
    scope: str,
    first: date,
    last: date,
    field: str,
    download: bool,
) -> dict[date, dict[str, dict[str, int]]]:
    """Return each day's items of one subcount field with one side's metrics.

    An event counts once per distinct value of ``field`` (terms semantics); every
    composite page is read, so no day has a bucket ceiling.
    """
    items: dict[date, dict[str, dict[str, int]]] = {}
    for bucket in _composite_pages(
        client,
        index,
        counted_events(scope, first, last),
        [
            {
                "day": {
                    "date_histogram": {
                        "field": "timestamp",
                        "calendar_interval": "day",
                        "time_zone": "UTC",
                        "format": DAY_FORMAT,
                    }
                }
            },
            {"item": {"terms": {"field": field}}},
        ],
        metric_aggs(download),
    ):
        day = date.fromisoformat(bucket["key"]["day"])
        items.setdefault(day, {})[str(bucket["key"]["item"])] = bucket_metrics(
            bucket, download
        )
    return items


def _composite_pages(
    client,
    index: str,
    query: dict[str, Any],
    sources: list[dict[str, Any]],
    aggs: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """Yield every bucket of a composite aggregation, page after page."""
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": ITEM_PAGE, "sources": sources}
        if after is not None:
            composite["after"] = after
        response = client.search(
            index=index,
            body={
                "size": 0,
                "track_total_hits": False,
                "query": query,
                "aggs": {"pages": {"composite": composite, "aggs": aggs}},
            },
            ignore_unavailable=True,
        )
        result = (response.get("aggregations") or {}).get("pages") or {}
        buckets = result.get("buckets", [])
        yield from buckets
        after = result.get("after_key")
        if not buckets or after is None:
            return
