"""Write events into the target with a server-side ``_reindex`` and a lookup script.

Enrichment is still computed in Python, by the same :class:`EventEnricher` as the
live indexer; only the write runs on the cluster, so the events' base fields never
travel through this process. The painless script finds each event's enrichment in
the request's parameters by the event's *key*: its record, UTC day, file id and
file key, the only event fields the shipped enrichment reads. So the parameters
hold one entry per distinct key, not per event, and a whole time window can be
copied by one range ``_reindex`` (:mod:`.windows`).

An event the script cannot key (a timestamp with an offset, a non-string field) or
whose key is not in the parameters is skipped (``noop``); the copy's count check
then finds it and copies it from the client (:func:`.verification.copy_missing`).
A batch read by the client can also carry exact values per event id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...timeutils import format_utc, utc_now
from ..enricher import EventEnricher, RecordInfo, enrichment_field_names

EventKey = tuple[Any, str, Any, Any]
"""(``recid``, UTC day ``YYYY-MM-DD``, ``file_id``, ``file_key``) of an event."""

ENRICH_SCRIPT = """
String enc(def value) {
  if (value == null) { return '0'; }
  if (value instanceof String) { return '1' + value; }
  return null;
}
String day(def timestamp) {
  if (!(timestamp instanceof String) || timestamp.length() < 19
      || timestamp.charAt(10) != (char) 'T') { return null; }
  String tail = timestamp.substring(19);
  if (tail.indexOf('+') >= 0 || tail.indexOf('-') >= 0) { return null; }
  return timestamp.substring(0, 10);
}
def parts = params.ids.get(ctx._id);
if (parts == null) {
  def node = params.keys.get(enc(ctx._source.recid));
  if (node != null) { node = node.get(day(ctx._source.timestamp)); }
  if (node != null) { node = node.get(enc(ctx._source.file_id)); }
  if (node != null) { node = node.get(enc(ctx._source.file_key)); }
  parts = node;
}
if (parts == null) { ctx.op = 'noop'; return; }
for (def name : params.strip) { ctx._source.remove(name); }
ctx._source.putAll(params.records[parts[0]]);
ctx._source.putAll(params.parts[parts[1]]);
ctx._source.updated_timestamp = params.now;
"""
"""Painless: find the event's enrichment, replace its fields, stamp the write (03 §2)."""

REINDEX_TIMEOUT = 600
"""Seconds one ``_reindex`` may take before the client gives up."""


def key_part(value: Any) -> str | None:
    """Encode a key field as the script does: ``0`` for null, ``1`` + a string."""
    if value is None:
        return "0"
    if isinstance(value, str):
        return "1" + value
    return None


def key_day(timestamp: Any) -> str | None:
    """Return the UTC day the script reads from a timestamp, or None if it cannot.

    Naive timestamps (invenio-stats writes UTC without an offset) and ``Z`` ones
    are read from their first ten characters, as :func:`..enricher.event_day` does.
    """
    if not isinstance(timestamp, str) or len(timestamp) < 19 or timestamp[10] != "T":
        return None
    tail = timestamp[19:]
    if "+" in tail or "-" in tail:
        return None
    return timestamp[:10]


def event_key(source: Mapping[str, Any]) -> EventKey | None:
    """Return the key the script computes for an event ``_source``, or None."""
    day = key_day(source.get("timestamp"))
    values = (source.get("recid"), source.get("file_id"), source.get("file_key"))
    if day is None or any(key_part(value) is None for value in values):
        return None
    return (values[0], day, values[1], values[2])


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


class ScriptParams:
    """The painless parameters of one write, built from keys or whole events.

    Each record's own fields are stored once, each distinct event-dependent part
    (``community_ids`` of a day, a downloaded file's type) once; keys and event ids
    point at one of each.
    """

    def __init__(self, enricher: EventEnricher) -> None:
        self.enricher = enricher
        self.records = _Interned()
        self.parts = _Interned()
        self.keys: dict[str, dict[str, dict[str, dict[str, list[int]]]]] = {}
        self.ids: dict[str, list[int]] = {}
        self._infos: dict[str, RecordInfo] = {}

    def load(self, record_ids: Iterable[Any]) -> None:
        """Look up the records (one records and one membership search if uncached)."""
        self._infos.update(self.enricher.load(str(rid or "") for rid in record_ids))

    def add_key(self, key: EventKey, events: int) -> None:
        """Add the enrichment of the ``events`` events that share ``key``."""
        recid, day, file_id, file_key = key
        event = {
            "recid": recid,
            "timestamp": f"{day}T00:00:00",
            "file_id": file_id,
            "file_key": file_key,
        }
        refs = self._refs(event, events)
        node = self.keys.setdefault(key_part(recid) or "", {}).setdefault(day, {})
        node.setdefault(key_part(file_id) or "", {})[key_part(file_key) or ""] = refs

    def add_event(self, event_id: str, source: Mapping[str, Any]) -> None:
        """Add the exact enrichment of one event, found by its id."""
        self.ids[event_id] = self._refs(source, 1)

    def _refs(self, event: Mapping[str, Any], events: int) -> list[int]:
        recid = str(event.get("recid") or "")
        info = self._infos.get(recid)
        if info is None:
            info = self._infos[recid] = RecordInfo(source=None)
        if info.source is None:
            self.enricher.stats.unknown_records += events
        self.enricher.stats.events += events
        record = self.records.find(recid)
        if record is None:
            record = self.records.add(recid, self.enricher.record_values(info))
        values = self.enricher.event_values(info, event)
        return [record, self.parts.add(_value_key(values), values)]

    def to_dict(self) -> dict[str, Any]:
        """Return the ``params`` of the script."""
        return {
            "keys": self.keys,
            "ids": self.ids,
            "records": self.records.values,
            "parts": self.parts.values,
            "strip": sorted(enrichment_field_names(self.enricher.fields)),
            "now": format_utc(utc_now()),
        }


def key_params(
    enricher: EventEnricher, keys: Sequence[tuple[EventKey, int]]
) -> dict[str, Any]:
    """Return the parameters enriching every event of the (key, event count) pairs."""
    params = ScriptParams(enricher)
    params.load(key[0] for key, _ in keys)
    for key, events in keys:
        params.add_key(key, events)
    return params.to_dict()


def script_params(
    enricher: EventEnricher, hits: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Return the parameters enriching ``hits`` exactly as the client would.

    Events are keyed when the enrichment reads only the key's fields; an event the
    script cannot key, or every event when a custom extractor may read any field,
    carries its own values under its id.
    """
    params = ScriptParams(enricher)
    sources = [hit["_source"] for hit in hits]
    params.load(source.get("recid") for source in sources)
    keyable = enricher.event_fields_read() is not None
    keys: Counter[EventKey] = Counter()
    for hit, source in zip(hits, sources, strict=True):
        key = event_key(source) if keyable else None
        if key is None:
            params.add_event(hit["_id"], source)
        else:
            keys[key] += 1
    for key, events in keys.items():
        params.add_key(key, events)
    return params.to_dict()


def _value_key(values: Mapping[str, Any]) -> str:
    """Return a key equal only for equal values (their ``repr``, keys sorted)."""
    return repr(sorted(values.items()))


def reindex(
    client,
    source: str,
    target: str,
    query: Mapping[str, Any],
    params: Mapping[str, Any],
    size: int = 1_000,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Copy the events of ``query`` from ``source`` into ``target``, enriched.

    Return the response and its failed items, shaped as bulk response items so
    callers retry and report them like a bulk write's.
    """
    body = {
        "source": {"index": source, "query": query, "size": size},
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
            raise ReindexError(str(error)) from error
    failed = [
        failed_item(
            failure.get("id"),
            failure.get("status", 500),
            (failure.get("cause") or {}).get("type", "reindex_failed"),
            (failure.get("cause") or {}).get("reason", str(failure)),
        )
        for failure in response.get("failures") or []
    ]
    return response, failed


def written_count(response: Mapping[str, Any]) -> int:
    """Return how many events a ``_reindex`` response says it wrote."""
    return int(response.get("created", 0)) + int(response.get("updated", 0))


class ReindexError(Exception):
    """The ``_reindex`` request itself failed (no per-event failures known)."""


def reindex_window(
    client,
    source: str,
    target: str,
    query: Mapping[str, Any],
    params: Mapping[str, Any],
) -> tuple[int, list[dict[str, Any]]]:
    """Copy the events of a window query; return (events written, failed items)."""
    response, failed = reindex(client, source, target, query, params)
    return written_count(response), failed


def reindex_events(
    client,
    source: str,
    target: str,
    ids: Sequence[str],
    params: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Copy the events ``ids`` from ``source`` into ``target``; return failed items.

    An id the reindex did not write counts as failed.
    """
    query = {"ids": {"values": list(ids)}}
    try:
        response, failed = reindex(
            client, source, target, query, params, min(max(len(ids), 1), 10_000)
        )
    except ReindexError as error:
        return [failed_item(i, 500, "reindex_failed", str(error)) for i in ids]
    if written_count(response) + len(failed) < len(ids):
        failed.extend(_not_copied(client, source, ids, failed))
    return failed


def _not_copied(client, source: str, ids: Sequence[str], failed: list[dict]) -> list:
    """Name the ids a reindex skipped: those no longer in ``source``, else all.

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
        return [failed_item(i, 404, "not_found", f"not in {source}") for i in gone]
    return [
        failed_item(i, 500, "not_copied", "the reindex skipped events of this batch")
        for i in ids
        if i not in reported
    ]


def _error_body(error: Exception) -> dict[str, Any] | None:
    """Return the reindex response an HTTP error carries, if it has failures."""
    info = getattr(error, "info", None)
    if isinstance(info, Mapping) and "failures" in info:
        return dict(info)
    return None


def failed_item(event_id: Any, status: int, kind: str, reason: str) -> dict:
    """Return a failure shaped as a bulk response item (``_id`` None if unknown)."""
    return {
        "index": {
            "_id": event_id,
            "status": status,
            "error": {"type": kind, "reason": reason},
        }
    }
