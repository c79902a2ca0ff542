"""The usage searches of a scope over a whole range of days (04 §5, §10).

One request (or one composite page) covers many days of the range: the day is a
``date_histogram`` bucket or a composite source, never a request of its own. Event
counts are document counts, so nothing stops at 10,000; distinct counts use the
cardinality aggregation, near-exact below its precision threshold.

The threshold is OpenSearch's maximum (40,000) or the busiest day's event count,
whichever is smaller. No bucket holds more distinct values than events, so the counts
are the same either way, but OpenSearch reserves a sketch of up to 256 KB per
bucket and per distinct metric at the maximum: a page of 1,000 items with four
metrics would ask for 1 GB. Sketches follow the data instead, and each request
holds at most ``CARDINALITY_BUDGET`` bytes of them (fewer days or items per request
on a very busy scope).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from ...communities import GLOBAL_SCOPE
from ..composite import composite_buckets_by_name
from ..labels import container_path, entry_label
from ..subcounts import SourceField

PRECISION_THRESHOLD = 40_000
"""OpenSearch's maximum; counts below it are near-exact (04 §5.2)."""

CARDINALITY_BUDGET = 64 * 2**20
"""Bytes of cardinality sketches one request may make the node hold."""

MAX_PAGE = 1_000
"""Composite buckets per page at most (every page is read)."""

CHUNK_PAGES = 8
"""Events per item request, in pages: every composite page re-reads the events of
its request, so a long busy range is read in slices of about this many pages."""

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


def precision_threshold(busiest_day: int) -> int:
    """Return the threshold for a range whose busiest day has ``busiest_day`` events."""
    return max(1, min(PRECISION_THRESHOLD, busiest_day))


def sketch_bytes(threshold: int) -> int:
    """Return what OpenSearch reserves per bucket for one distinct count."""
    table = math.ceil(threshold / 0.75) * 4
    return 1 << max(4, min(18, (table - 1).bit_length()))


def buckets_per_request(threshold: int, download: bool) -> int:
    """Return how many buckets keep one request within ``CARDINALITY_BUDGET``."""
    sketches = len(DOWNLOAD_METRICS if download else VIEW_METRICS)
    return max(1, CARDINALITY_BUDGET // (sketches * sketch_bytes(threshold)))


def metric_aggs(download: bool, threshold: int = PRECISION_THRESHOLD) -> dict[str, Any]:
    """Return the sub-aggregations of one side's metrics."""
    fields = DOWNLOAD_METRICS if download else VIEW_METRICS
    aggs: dict[str, Any] = {
        name: {"cardinality": {"field": field, "precision_threshold": threshold}}
        for name, field in fields.items()
    }
    if download:
        aggs["total_volume"] = {"sum": {"field": "size"}}
    return aggs


def zero_metrics(download: bool) -> dict[str, int]:
    """Return one side's metrics of a day or item without events."""
    names = ["total_events", *(DOWNLOAD_METRICS if download else VIEW_METRICS)]
    if download:
        names.append("total_volume")
    return dict.fromkeys(names, 0)


def bucket_metrics(bucket: Mapping[str, Any], download: bool) -> dict[str, int]:
    """Return the metrics of one bucket as integers (bytes included)."""
    fields = DOWNLOAD_METRICS if download else VIEW_METRICS
    metrics = {"total_events": int(bucket["doc_count"])}
    for name in fields:
        metrics[name] = int(bucket[name]["value"] or 0)
    if download:
        metrics["total_volume"] = int(round(bucket["total_volume"]["value"] or 0))
    return metrics


def _histogram(aggs: dict[str, Any] | None = None) -> dict[str, Any]:
    histogram: dict[str, Any] = {
        "date_histogram": {
            "field": "timestamp",
            "calendar_interval": "day",
            "time_zone": "UTC",
            "format": DAY_FORMAT,
            "min_doc_count": 1,
        }
    }
    if aggs:
        histogram["aggs"] = aggs
    return histogram


def _day_buckets(client, index: str, query: dict, aggs=None) -> list[dict[str, Any]]:
    response = client.search(
        index=index,
        body={
            "size": 0,
            "track_total_hits": False,
            "query": query,
            "aggs": {"days": _histogram(aggs)},
        },
        ignore_unavailable=True,
    )
    return (response.get("aggregations") or {}).get("days", {}).get("buckets", [])


def day_counts(
    client, index: str, scope: str, first: date, last: date
) -> dict[date, int]:
    """Return each day's number of counted events (days without any left out)."""
    return {
        date.fromisoformat(bucket["key_as_string"]): int(bucket["doc_count"])
        for bucket in _day_buckets(client, index, counted_events(scope, first, last))
    }


def day_totals(
    client,
    index: str,
    scope: str,
    first: date,
    last: date,
    download: bool,
    threshold: int = PRECISION_THRESHOLD,
) -> dict[date, dict[str, int]]:
    """Return each day's totals of one side; days without events are left out.

    One request per ``buckets_per_request`` days: the whole range unless the
    scope is very busy.
    """
    span = buckets_per_request(threshold, download)
    totals: dict[date, dict[str, int]] = {}
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=span - 1))
        for bucket in _day_buckets(
            client,
            index,
            counted_events(scope, start, end),
            metric_aggs(download, threshold),
        ):
            day = date.fromisoformat(bucket["key_as_string"])
            totals[day] = bucket_metrics(bucket, download)
        start = end + timedelta(days=1)
    return totals


@dataclass
class DayItem:
    """One subcount item of one day and side: its metrics and its newest label."""

    metrics: dict[str, int]
    label: Any = None
    """The label in the newest event's matching entry; None when it has none."""
    label_timestamp: str = ""
    """When that event happened, so the two sides' labels can be compared."""


def day_items(
    client,
    index: str,
    scope: str,
    first: date,
    last: date,
    sources: Sequence[SourceField],
    download: bool,
    without: Sequence[str] = (),
    threshold: int = PRECISION_THRESHOLD,
    counts: Mapping[date, int] | None = None,
) -> dict[date, dict[str, DayItem]]:
    """Return each day's items of one subcount with one side's metrics.

    Events carrying any of the ``without`` fields are left out (name-only funders).
    """
    return keys_day_items(
        client,
        index,
        scope,
        first,
        last,
        {"item": sources},
        download,
        without=without,
        threshold=threshold,
        counts=counts,
    )["item"]


def event_slices(
    counts: Mapping[date, int], first: date, last: date, capacity: int
) -> list[tuple[date, date]]:
    """Cut the days with events into slices of at most ``capacity`` events.

    A day busier than ``capacity`` is a slice of its own; days without events are
    left out, since they have no items.
    """
    slices: list[tuple[date, date]] = []
    start: date | None = None
    previous = first
    total = 0
    for day in sorted(d for d in counts if first <= d <= last):
        if start is not None and total + counts[day] > capacity:
            slices.append((start, previous))
            start, total = None, 0
        start = start or day
        total += counts[day]
        previous = day
    if start is not None:
        slices.append((start, previous))
    return slices


def keys_day_items(
    client,
    index: str,
    scope: str,
    first: date,
    last: date,
    keys: Mapping[str, Sequence[SourceField]],
    download: bool,
    without: Sequence[str] = (),
    threshold: int = PRECISION_THRESHOLD,
    counts: Mapping[date, int] | None = None,
) -> dict[str, dict[date, dict[str, DayItem]]]:
    """Return ``{key: {day: {item id: DayItem}}}`` of one side, every key at once.

    An event counts once per distinct value over a key's sources (terms
    semantics); every composite page is read, so no day has a bucket ceiling.
    Sources with a label field give each item the label of the newest event's
    matching entry. All keys share each request (one composite per key), with
    pages sized so the request stays within ``CARDINALITY_BUDGET``. With the
    range's daily event ``counts`` a busy range is read in slices of about
    ``CHUNK_PAGES`` pages of events, so no page re-reads the whole range.
    """
    labelled: dict[str, list[tuple[str, str]]] = {
        key: [(s.field, s.label_field) for s in sources if s.label_field]
        for key, sources in keys.items()
    }
    composites = {
        key: (
            _day_item_sources(sources),
            _item_aggs(labelled[key], download, threshold),
        )
        for key, sources in keys.items()
    }
    page = max(1, min(MAX_PAGE, buckets_per_request(threshold, download) // len(keys)))
    slices = (
        [(first, last)]
        if counts is None
        else event_slices(counts, first, last, page * CHUNK_PAGES)
    )
    found: dict[str, dict[date, dict[str, DayItem]]] = {key: {} for key in keys}
    for key, bucket in (
        found_bucket
        for start, end in slices
        for found_bucket in composite_buckets_by_name(
            client,
            index,
            _without(counted_events(scope, start, end), without),
            composites,
            page_size=page,
        )
    ):
        day = date.fromisoformat(bucket["key"]["day"])
        item_id = str(bucket["key"]["item"])
        item = DayItem(bucket_metrics(bucket, download))
        if labelled[key]:
            newest = bucket["newest"]["hits"]["hits"][0]["_source"]
            item.label = next(
                (
                    label
                    for field, label_field in labelled[key]
                    if (label := entry_label(newest, field, label_field, item_id))
                    is not None
                ),
                None,
            )
            item.label_timestamp = str(newest.get("timestamp") or "")
        found[key].setdefault(day, {})[item_id] = item
    return found


def _without(query: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Leave out events that carry any of ``fields``."""
    query["bool"]["must_not"] += [{"exists": {"field": field}} for field in fields]
    return query


def _day_item_sources(sources: Sequence[SourceField]) -> list[dict[str, Any]]:
    """Return the composite sources (day, item) of one key."""
    return [
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
        {"item": {"terms": _item_source([s.field for s in sources])}},
    ]


def _item_aggs(
    labelled: list[tuple[str, str]], download: bool, threshold: int
) -> dict[str, Any]:
    """Return an item bucket's metrics, and its newest label when it has one."""
    aggs = metric_aggs(download, threshold)
    if labelled:
        aggs["newest"] = {
            "top_hits": {
                "size": 1,
                "sort": [{"timestamp": "desc"}],
                "_source": {
                    "includes": [
                        *{container_path(field, label) for field, label in labelled},
                        "timestamp",
                    ]
                },
            }
        }
    return aggs


UNION_SCRIPT = """
Set values = new HashSet();
for (String field : params.fields) {
  if (doc.containsKey(field)) {
    for (def value : doc[field]) { values.add(value.toString()); }
  }
}
return new ArrayList(values);
"""
"""Distinct values over several fields, so an event counts once per value."""


def _item_source(fields: list[str]) -> dict[str, Any]:
    """Return the composite ``terms`` source of the item values."""
    if len(fields) == 1:
        return {"field": fields[0]}
    return {"script": {"source": UNION_SCRIPT, "params": {"fields": fields}}}
