"""Id-level delta passes and the spot check of a migrated month (03 §4.6–§4.9).

The delta passes are exhaustive: every id of the source is looked up in the target,
page by page, with no size limit and no timestamp heuristic.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ...search_indices.bulk import bulk_write
from ...search_indices.paging import count
from ..enricher import EventEnricher, enrichment_field_names
from ..fields import COMMUNITY_IDS
from .results import SpotCheck, ValidationResult

ID_PAGE = 5_000
SCROLL_KEEP_ALIVE = "2m"
ID_PAGE_FIELDS = "_scroll_id,hits.hits._id"
IGNORED_IN_COMPARISON = frozenset({"updated_timestamp"})


def id_pages(client, index: str, page_size: int = ID_PAGE) -> Iterator[list[str]]:
    """Yield every document id of ``index``, a page at a time, in index order.

    A scroll in ``_doc`` order reads each page without sorting the index, which a
    sort on ``_id`` would do for every page; the scroll is always cleared.
    """
    response = client.search(
        index=index,
        body={"query": {"match_all": {}}, "_source": False, "sort": ["_doc"]},
        size=page_size,
        scroll=SCROLL_KEEP_ALIVE,
        filter_path=ID_PAGE_FIELDS,
    )
    scroll_id = response.get("_scroll_id")
    try:
        while hits := response.get("hits", {}).get("hits", []):
            yield [hit["_id"] for hit in hits]
            response = client.scroll(
                scroll_id=scroll_id,
                scroll=SCROLL_KEEP_ALIVE,
                filter_path=ID_PAGE_FIELDS,
            )
            scroll_id = response.get("_scroll_id", scroll_id)
    finally:
        if scroll_id:
            client.clear_scroll(scroll_id=scroll_id, ignore=(404,))


def present_ids(client, index: str, ids: Sequence[str]) -> set[str]:
    """Return which of ``ids`` exist in ``index``."""
    if not ids:
        return set()
    response = client.search(
        index=index,
        body={"query": {"ids": {"values": list(ids)}}, "_source": False},
        size=len(ids),
        filter_path="hits.hits._id",
    )
    return {hit["_id"] for hit in response.get("hits", {}).get("hits", [])}


def missing_ids(client, source: str, target: str) -> Iterator[list[str]]:
    """Yield, page by page, the ids of ``source`` that ``target`` lacks."""
    for ids in id_pages(client, source):
        found = present_ids(client, target, ids)
        missing = [i for i in ids if i not in found]
        if missing:
            yield missing


def fetch_sources(client, index: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Return the hits (``_id`` and ``_source``) of ``ids`` in ``index``."""
    if not ids:
        return []
    response = client.search(
        index=index, body={"query": {"ids": {"values": list(ids)}}}, size=len(ids)
    )
    return response["hits"]["hits"]


def copy_missing(
    client,
    source: str,
    target: str,
    *,
    enricher: EventEnricher | None,
) -> int:
    """Copy every id of ``source`` missing in ``target``; return how many.

    With an enricher the copies are enriched (target), otherwise copied as they are
    (backup). Failed items raise, so the caller never finalises an incomplete month.
    """
    copied = 0
    for ids in missing_ids(client, source, target):
        hits = fetch_sources(client, source, ids)
        copied += write_copies(client, hits, target, enricher)
    return copied


def write_copies(
    client,
    hits: Sequence[dict[str, Any]],
    target: str,
    enricher: EventEnricher | None,
) -> int:
    """Write ``hits`` into ``target`` under their own ids (enriched when asked)."""
    sources = (
        enricher.rewritten_sources(hits)
        if enricher is not None
        else [hit["_source"] for hit in hits]
    )
    actions = [
        {"_op_type": "index", "_index": target, "_id": hit["_id"], "_source": source}
        for hit, source in zip(hits, sources, strict=True)
    ]
    return bulk_write(client, actions)


def sample_ids(client, index: str, size: int, seed: int | None = None) -> list[str]:
    """Return up to ``size`` ids sampled across the whole index."""
    if size <= 0:
        return []
    seed = random.randrange(1 << 30) if seed is None else seed
    response = client.search(
        index=index,
        body={
            "size": size,
            "_source": False,
            "query": {
                "function_score": {
                    "query": {"match_all": {}},
                    "random_score": {"seed": seed, "field": "_seq_no"},
                }
            },
        },
    )
    return [hit["_id"] for hit in response["hits"]["hits"]]


def spot_check(
    client,
    source: str,
    target: str,
    enricher: EventEnricher,
    sample_size: int,
) -> SpotCheck:
    """Compare sampled events field by field with the source and a fresh enrichment."""
    result = SpotCheck()
    ids = sample_ids(client, source, sample_size)
    originals = {
        hit["_id"]: hit["_source"] for hit in fetch_sources(client, source, ids)
    }
    copies = {hit["_id"]: hit["_source"] for hit in fetch_sources(client, target, ids)}
    enrichment_names = enrichment_field_names(enricher.fields)
    expected = dict(
        zip(originals, enricher.enrich(list(originals.values())), strict=True)
    )
    for event_id, original in originals.items():
        copy = copies.get(event_id)
        if copy is None:
            result.document_count_mismatch = True
            result.errors.append(f"{event_id}: missing in {target}")
            continue
        result.documents_verified += 1
        mismatches = [
            name
            for name, value in original.items()
            if name not in enrichment_names
            and name not in IGNORED_IN_COMPARISON
            and copy.get(name) != value
        ]
        if COMMUNITY_IDS not in copy:
            mismatches.append(f"{COMMUNITY_IDS} (missing)")
        for name, value in expected[event_id].items():
            if copy.get(name) != value:
                mismatches.append(name)
        if mismatches:
            result.field_mismatches += len(mismatches)
            result.details.append({"id": event_id, "fields": sorted(set(mismatches))})
            result.errors.append(f"{event_id}: fields differ: {', '.join(mismatches)}")
    result.success = not result.errors
    return result


def validate_month(
    client,
    *,
    source: str,
    target: str,
    expected: int,
    enricher: EventEnricher,
    sample_size: int,
    extra_checks: Callable[[ValidationResult], None] | None = None,
) -> ValidationResult:
    """Run the checks of 03 §4.9 on a refreshed target."""
    validation = ValidationResult()
    source_count = count(client, source)
    target_count = count(client, target)
    validation.document_counts = {
        "source": source_count,
        "target": target_count,
        "expected": expected,
        "match": target_count >= source_count,
    }
    # Every id is looked up: equal counts prove nothing once a switched target also
    # receives live events (one missing backup id and one new event cancel out).
    missing = sum(len(ids) for ids in missing_ids(client, source, target))
    if missing:
        validation.fail(f"{missing} events of {source} are missing in {target}")
    validation.missing_community_ids = count(
        client,
        target,
        {"bool": {"must_not": {"exists": {"field": COMMUNITY_IDS}}}},
    )
    if extra_checks is not None:
        extra_checks(validation)
    validation.spot_check = spot_check(client, source, target, enricher, sample_size)
    if not validation.spot_check.success:
        validation.fail(
            f"spot check failed for {len(validation.spot_check.details)} of "
            f"{validation.spot_check.documents_verified} events"
        )
    return validation
