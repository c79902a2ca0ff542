"""Read every hit of a search, page by page, with no 10,000-hit cap.

``search_after`` over a sort that ends on a unique field pages through any number of
hits; ``point_in_time`` additionally freezes the view so a long scan is not disturbed
by writes it makes itself (the backfill writes while it scans).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

PAGE_SIZE = 1000
PIT_KEEP_ALIVE = "5m"
TERMS_BATCH = 10_000
"""Values per ``terms`` clause; below OpenSearch's default ``max_terms_count``."""
RECORDS_ALIAS = "rdmrecords-records"
"""InvenioRDM's alias over published record versions (deleted ones included)."""


def batched(values: list[str], size: int = TERMS_BATCH) -> Iterator[list[str]]:
    """Split ``values`` into lists short enough for one ``terms`` clause."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def search_after_pages(
    client,
    *,
    body: dict[str, Any],
    sort: list[Any],
    index: str | None = None,
    pit_id: str | None = None,
    page_size: int | Callable[[], int] = PAGE_SIZE,
) -> Iterator[list[dict[str, Any]]]:
    """Yield lists of hits until the search is exhausted.

    ``page_size`` may be a callable asked before each page, so a memory budget can
    shrink the pages of a running scan.

    ``sort`` must end on a field that is unique per document, otherwise hits tied on
    the whole sort at a page boundary would be skipped.
    """
    after: list[Any] | None = None
    while True:
        size = page_size() if callable(page_size) else page_size
        request = {**body, "size": size, "sort": sort, "track_total_hits": False}
        if after is not None:
            request["search_after"] = after
        if pit_id is not None:
            request["pit"] = {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE}
            response = client.search(body=request)
        else:
            response = client.search(index=index, body=request, ignore_unavailable=True)
        hits = response["hits"]["hits"]
        if not hits:
            return
        yield hits
        if len(hits) < size:
            return
        after = hits[-1]["sort"]


def iter_hits(client, **kwargs) -> Iterator[dict[str, Any]]:
    """Every hit of :func:`search_after_pages`, one at a time."""
    for page in search_after_pages(client, **kwargs):
        yield from page


@contextmanager
def point_in_time(client, index: str) -> Iterator[str]:
    """Open a point-in-time on ``index`` and always close it afterwards."""
    response = client.create_pit(index=index, params={"keep_alive": PIT_KEEP_ALIVE})
    pit_id = response["pit_id"]
    try:
        yield pit_id
    finally:
        client.delete_pit(body={"pit_id": [pit_id]}, ignore=404)


def count(client, index: str, query: dict[str, Any] | None = None) -> int:
    """Exact number of documents matching ``query`` (0 when the index is missing)."""
    body = {"query": query} if query else None
    response = client.count(index=index, body=body, ignore_unavailable=True)
    return int(response.get("count", 0))
