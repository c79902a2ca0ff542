"""Every bucket of a composite aggregation, page after page (04 §10).

A composite may sit at the top level or under a ``nested`` parent only, so the
filters go into the query. No page size or bucket count is a ceiling: pages follow
``after_key`` until the aggregation is exhausted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

ITEM_PAGE = 1_000
"""Composite buckets per page (all pages are read)."""


def composite_buckets(
    client,
    index: str,
    query: dict[str, Any],
    sources: list[dict[str, Any]],
    aggs: dict[str, Any],
    nested_path: str | None = None,
    page_size: int = ITEM_PAGE,
) -> Iterator[dict[str, Any]]:
    """Yield every bucket; with ``nested_path`` the composite runs inside it."""
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": page_size, "sources": sources}
        if after is not None:
            composite["after"] = after
        pages = {"composite": composite, "aggs": aggs}
        request_aggs: dict[str, Any] = {"pages": pages}
        if nested_path:
            request_aggs = {
                "nested": {"nested": {"path": nested_path}, "aggs": request_aggs}
            }
        response = client.search(
            index=index,
            body={
                "size": 0,
                "track_total_hits": False,
                "query": query,
                "aggs": request_aggs,
            },
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        result = response.get("aggregations") or {}
        if nested_path:
            result = result.get("nested") or {}
        page = result.get("pages") or {}
        buckets = page.get("buckets", [])
        yield from buckets
        after = page.get("after_key")
        if len(buckets) < page_size or after is None:
            return


def composite_buckets_by_name(
    client,
    index: str,
    query: dict[str, Any],
    composites: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]],
    page_size: int = ITEM_PAGE,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(name, bucket)`` of several composites sharing one query.

    ``composites`` maps a name to its sources and sub-aggregations. Every request
    carries the composites that still have pages, each with its own ``after``, so
    several subcounts cost one request per page instead of one each.
    """
    after: dict[str, dict[str, Any] | None] = dict.fromkeys(composites)
    active = list(composites)
    while active:
        aggs: dict[str, Any] = {}
        for name in active:
            sources, sub_aggs = composites[name]
            composite: dict[str, Any] = {"size": page_size, "sources": sources}
            if after[name] is not None:
                composite["after"] = after[name]
            aggs[name] = {"composite": composite, "aggs": sub_aggs}
        response = client.search(
            index=index,
            body={"size": 0, "track_total_hits": False, "query": query, "aggs": aggs},
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        results = response.get("aggregations") or {}
        still = []
        for name in active:
            page = results.get(name) or {}
            buckets = page.get("buckets", [])
            for bucket in buckets:
                yield name, bucket
            after[name] = page.get("after_key")
            if len(buckets) == page_size and after[name] is not None:
                still.append(name)
        active = still
