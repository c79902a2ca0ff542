"""Time windows of about one batch, copied by one range ``_reindex`` each (03 §4.7).

The server-side copy the chapter allows in place of client batches. A month is cut
into consecutive windows of the event timestamp from an hourly histogram, an hour
holding more than a batch split by minutes, then seconds. Per window the client
reads only aggregates: the distinct event keys (record, day, file) with their
counts, and the window's last event by (``timestamp``, ``_id``), which becomes the
bookmark's cursor once the window is written. So a resumed run re-copies at most
the window in flight, and the cursor keeps the meaning it has for client batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .server_copy import EventKey

STEPS = (("1h", 3_600_000), ("1m", 60_000), ("1s", 1_000))
"""Histogram intervals, coarse to fine; a second is never split further."""

KEY_PAGE = 10_000
"""Composite buckets per page of a window's keys."""

KEY_SOURCES = [
    {"recid": {"terms": {"field": "recid", "missing_bucket": True}}},
    {
        "day": {
            "date_histogram": {
                "field": "timestamp",
                "calendar_interval": "1d",
                "format": "yyyy-MM-dd",
                "time_zone": "UTC",
            }
        }
    },
    {"file_id": {"terms": {"field": "file_id", "missing_bucket": True}}},
    {"file_key": {"terms": {"field": "file_key", "missing_bucket": True}}},
]


@dataclass(frozen=True)
class Window:
    """Events with ``start`` ≤ timestamp < ``end`` (epoch ms; None: unbounded)."""

    start: int | None
    end: int | None
    planned: int = 0

    def query(self) -> dict[str, Any]:
        """Return the range query of the window."""
        return timestamp_range(gte=self.start, lt=self.end)


@dataclass
class WindowContent:
    """What the client reads of a window: its keys and its last event."""

    keys: list[tuple[EventKey, int]] = field(default_factory=list)
    last: dict[str, Any] | None = None
    """The last event as a sorted hit (``_id`` and ``sort``), for the cursor."""

    @property
    def events(self) -> int:
        """Events in the window when it was read."""
        return sum(count for _, count in self.keys)


def timestamp_range(**bounds: int | None) -> dict[str, Any]:
    """Return a range query on ``timestamp`` in epoch ms, without the None bounds."""
    given = {name: value for name, value in bounds.items() if value is not None}
    if not given:
        return {"match_all": {}}
    return {"range": {"timestamp": {**given, "format": "epoch_millis"}}}


def plan_windows(
    client, index: str, start: int | None, batch_size: int
) -> list[Window]:
    """Cut the events from ``start`` on into consecutive windows of ≤ a batch.

    The last window is open-ended, so events later than the plan are copied too;
    only a single second holding more than a batch gives a larger window.
    """
    windows: list[Window] = []
    window_start, planned = start, 0
    for bucket_start, events in _buckets(client, index, start, None, 0, batch_size):
        if planned and planned + events > batch_size:
            windows.append(Window(window_start, bucket_start, planned))
            window_start, planned = bucket_start, 0
        planned += events
    windows.append(Window(window_start, None, planned))
    return windows


def batches_of(planned: list[Window], batch_size: int) -> Iterator[list[Window]]:
    """Group consecutive windows into batches of at most ``batch_size`` planned events."""
    batch: list[Window] = []
    events = 0
    for window in planned:
        if batch and events + window.planned > batch_size:
            yield batch
            batch, events = [], 0
        batch.append(window)
        events += window.planned
    if batch:
        yield batch


def _buckets(
    client,
    index: str,
    start: int | None,
    end: int | None,
    step: int,
    batch_size: int,
) -> Iterator[tuple[int, int]]:
    """Yield the (start, events) of non-empty buckets, splitting those over a batch."""
    interval, width = STEPS[step]
    response = client.search(
        index=index,
        body={
            "size": 0,
            "query": timestamp_range(gte=start, lt=end),
            "aggs": {
                "buckets": {
                    "date_histogram": {
                        "field": "timestamp",
                        "fixed_interval": interval,
                        "min_doc_count": 1,
                    }
                }
            },
        },
    )
    for bucket in response["aggregations"]["buckets"]["buckets"]:
        bucket_start = int(bucket["key"])
        if start is not None:
            bucket_start = max(bucket_start, start)
        bucket_end = int(bucket["key"]) + width
        events = bucket["doc_count"]
        if events > batch_size and step + 1 < len(STEPS):
            yield from _buckets(
                client, index, bucket_start, bucket_end, step + 1, batch_size
            )
        else:
            yield bucket_start, events


def read_window(client, index: str, window: Window) -> WindowContent:
    """Return the window's distinct event keys with counts, and its last event."""
    content = WindowContent()
    after: Mapping[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": KEY_PAGE, "sources": KEY_SOURCES}
        if after is not None:
            composite["after"] = after
        aggs: dict[str, Any] = {"keys": {"composite": composite}}
        if content.last is None:
            aggs["last"] = {
                "top_hits": {
                    "size": 1,
                    "sort": [{"timestamp": "desc"}, {"_id": "desc"}],
                    "_source": False,
                }
            }
        response = client.search(
            index=index,
            body={"size": 0, "query": window.query(), "aggs": aggs},
        )
        result = response["aggregations"]
        if "last" in result:
            hits = result["last"]["hits"]["hits"]
            content.last = hits[0] if hits else None
        buckets = result["keys"]["buckets"]
        for bucket in buckets:
            key = bucket["key"]
            content.keys.append(
                (
                    (key["recid"], key["day"], key["file_id"], key["file_key"]),
                    bucket["doc_count"],
                )
            )
        after = result["keys"].get("after_key")
        if len(buckets) < KEY_PAGE or after is None:
            return content
