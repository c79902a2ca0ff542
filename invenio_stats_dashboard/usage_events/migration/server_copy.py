"""Write one batch of events into the target with a server-side ``_reindex``.

The migration still reads each batch itself (sorted after the cursor, 03 §4.7) and
computes the enrichment in Python, with the same :class:`EventEnricher` as the live
indexer. Only the write moves to the cluster: one ``_reindex`` of the batch's ids,
whose painless script sets the precomputed fields on each event. So the events'
base fields never travel through this process, and the copy runs at a large share
of a plain ``_reindex``.

The enrichment travels as deduplicated parts: each record's own fields once, each
distinct event-dependent part (``community_ids`` on that day, the downloaded
file's type) once, and per event id the indices of its two parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...timeutils import format_utc, utc_now
from ..enricher import EventEnricher, RecordInfo, enrichment_field_names

RECORD_PART, EVENT_PART = 0, 1

ENRICH_SCRIPT = """
def parts = params.events[ctx._id];
for (def name : params.strip) { ctx._source.remove(name); }
ctx._source.putAll(params.records[parts[0]]);
ctx._source.putAll(params.parts[parts[1]]);
ctx._source.updated_timestamp = params.now;
"""
"""Painless: replace the event's enrichment fields and stamp the write (03 §2)."""

REINDEX_TIMEOUT = 600
"""Seconds one batch's ``_reindex`` may take before the client gives up."""


class _Interned:
    """Number distinct values in first-seen order."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[Any, int] = {}

    def find(self, key: Any) -> int | None:
        return self._index.get(key)

    def add(self, key: Any, value: Any) -> int:
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.values)
            self.values.append(value)
        return index


def script_params(
    enricher: EventEnricher, hits: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Return the painless parameters that enrich ``hits`` exactly as the client would.

    The values are those of :meth:`EventEnricher.fields_for`: the record-only
    fields computed once per record, the event-dependent ones per distinct value.
    """
    sources = [hit["_source"] for hit in hits]
    infos = enricher.load(str(source.get("recid") or "") for source in sources)
    unknown = RecordInfo(source=None)
    records, parts = _Interned(), _Interned()
    events: dict[str, list[int]] = {}
    for hit, source in zip(hits, sources, strict=True):
        recid = str(source.get("recid") or "")
        info = infos.get(recid) or unknown
        if info.source is None:
            enricher.stats.unknown_records += 1
        record = records.find(recid)
        if record is None:
            record = records.add(recid, enricher.record_values(info))
        event_values = enricher.event_values(info, source)
        events[hit["_id"]] = [record, parts.add(_value_key(event_values), event_values)]
    enricher.stats.events += len(hits)
    return {
        "events": events,
        "records": records.values,
        "parts": parts.values,
        "strip": sorted(enrichment_field_names(enricher.fields)),
        "now": format_utc(utc_now()),
    }


def _value_key(values: Mapping[str, Any]) -> str:
    """Return a key equal only for equal values (their ``repr``, keys sorted)."""
    return repr(sorted(values.items()))


def reindex_events(
    client,
    source: str,
    target: str,
    ids: Sequence[str],
    params: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Copy the events ``ids`` from ``source`` into ``target``; return failed items.

    Failed items have the shape of bulk response items, so callers retry and report
    them like a bulk write's. An id the reindex did not see counts as failed.
    """
    body = {
        "source": {
            "index": source,
            "query": {"ids": {"values": list(ids)}},
            "size": min(max(len(ids), 1), 10_000),
        },
        "dest": {"index": target, "op_type": "index"},
        "script": {"lang": "painless", "source": ENRICH_SCRIPT, "params": params},
    }
    try:
        response = client.reindex(
            body=body,
            refresh=False,
            wait_for_completion=True,
            request_timeout=REINDEX_TIMEOUT,
        )
    except Exception as error:
        response = _error_body(error)
        if response is None:
            return [_failed_item(i, 500, "reindex_failed", str(error)) for i in ids]
    failed = [
        _failed_item(
            failure.get("id"),
            failure.get("status", 500),
            (failure.get("cause") or {}).get("type", "reindex_failed"),
            (failure.get("cause") or {}).get("reason", str(failure)),
        )
        for failure in response.get("failures") or []
    ]
    written = response.get("created", 0) + response.get("updated", 0)
    if written + len(failed) < len(ids):
        failed.extend(_not_copied(client, source, ids, failed))
    return failed


def _not_copied(client, source: str, ids: Sequence[str], failed: list[dict]) -> list:
    """Name the ids a reindex skipped silently: those no longer in ``source``.

    If every id is still there, which one was skipped is unknown, so all of them
    are reported and the caller's retry copies them again (idempotent by id).
    """
    reported = {item["index"]["_id"] for item in failed}
    response = client.search(
        index=source,
        body={"query": {"ids": {"values": list(ids)}}, "size": len(ids)},
        _source=False,
        filter_path="hits.hits._id",
    )
    present = {hit["_id"] for hit in response.get("hits", {}).get("hits", [])}
    gone = [i for i in ids if i not in present and i not in reported]
    if gone:
        return [_failed_item(i, 404, "not_found", f"not in {source}") for i in gone]
    return [
        _failed_item(i, 500, "not_copied", "the reindex skipped events of this batch")
        for i in ids
        if i not in reported
    ]


def _error_body(error: Exception) -> dict[str, Any] | None:
    """Return the reindex response an HTTP error carries, if it has failures."""
    info = getattr(error, "info", None)
    if isinstance(info, Mapping) and "failures" in info:
        return dict(info)
    return None


def _failed_item(event_id: Any, status: int, kind: str, reason: str) -> dict:
    return {
        "index": {
            "_id": event_id,
            "status": status,
            "error": {"type": kind, "reason": reason},
        }
    }
