"""The one enrichment procedure of live, migrated, re-enriched and generated events.

For a batch of events it costs one search of the records index (for the records not
cached yet) and one paginated search of the membership log (03 §3.3 step 2, §4.7).
The result for each event is a dict of enrichment fields: ``community_ids`` always,
the configured fields otherwise, cut down by the public-metadata rule (01 §5.9).
A failing extraction gives null for that field and is counted; nothing here ever
drops an event.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from invenio_search.utils import prefix_index

from ..communities import GLOBAL_SCOPE
from ..community_events.log_reader import read_histories
from ..community_events.membership import PairHistory
from ..record_files import database_file_entries, hides_file_entries
from ..search_indices.paging import RECORDS_ALIAS, batched
from ..timeutils import format_utc, parse_utc, utc_now
from .extraction import (
    MAPPED_EVENT_FIELDS,
    extract_file_types,
    project_event_field,
    source_paths,
)
from .fields import (
    COMMUNITY_IDS,
    RESTRICTED_METADATA_FIELDS,
    EnrichedField,
    fingerprint,
)

logger = logging.getLogger(__name__)

RECORD_SOURCE_BASE = ["id", "uuid", "access", "parent.communities"]
"""Record fields enrichment itself reads: identity, public rule, current communities."""

RECORD_SOURCE_EXCLUDES = [
    "metadata.description",
    "metadata.additional_descriptions",
    "metadata.references",
]
"""Large record fields no enrichment reads, for extractors that name no paths."""

EVENT_FIELDS_READ = ("recid", "timestamp", "file_id", "file_key")
"""The event fields the shipped enrichment reads: record, UTC day, downloaded file."""

RECORD_CACHE_SIZE = 10_000
"""Records (with their membership histories) kept between batches (03 §4.7)."""


@dataclass
class RecordInfo:
    """What enrichment needs of one record version."""

    source: Mapping[str, Any] | None
    histories: dict[str, PairHistory] = field(default_factory=dict)
    """Membership history per community (``global`` left out)."""
    has_log_events: bool = False
    extracted: dict[tuple, Any] = field(default_factory=dict)
    """Extracted field values, so a record's many events extract them once."""
    record_values: dict[str, Any] | None = None
    """The record-only fields, once computed (shared, never to be changed)."""


@dataclass
class EnrichmentStats:
    """Counts of one enricher's work, for logs and the migration report."""

    events: int = 0
    unknown_records: int = 0
    extraction_errors: Counter = field(default_factory=Counter)

    def merge(self, other: EnrichmentStats) -> None:
        """Add another run's counts to these."""
        self.events += other.events
        self.unknown_records += other.unknown_records
        self.extraction_errors.update(other.extraction_errors)


def is_public_metadata(source: Mapping[str, Any] | None) -> bool:
    """Apply the public-metadata rule: ``access.record`` is ``public`` (01 §5.9)."""
    if not source:
        return False
    return (source.get("access") or {}).get("record") == "public"


def event_day(event: Mapping[str, Any]) -> date | None:
    """Return the UTC day of an event's ``timestamp``.

    invenio-stats writes naive UTC timestamps, whose day is their first ten
    characters; only a timestamp with an offset is parsed in full.
    """
    timestamp = event.get("timestamp")
    if (
        isinstance(timestamp, str)
        and len(timestamp) >= 19
        and timestamp[10] == "T"
        and not _has_offset(timestamp)
    ):
        return _iso_day(timestamp[:10])
    parsed = parse_utc(timestamp)
    return parsed.date() if parsed else None


def _has_offset(timestamp: str) -> bool:
    tail = timestamp[19:]
    return tail.endswith("Z") or "+" in tail or "-" in tail


@lru_cache(maxsize=4096)
def _iso_day(text: str) -> date:
    return date.fromisoformat(text)


class EventEnricher:
    """Enrich batches of events with one code path for every caller."""

    def __init__(
        self,
        client,
        fields: Sequence[EnrichedField],
        *,
        fallback_to_current_communities: bool = False,
        cache_size: int = RECORD_CACHE_SIZE,
    ) -> None:
        self.client = client
        self.fields = tuple(fields)
        self.fingerprint = fingerprint(self.fields)
        self.fallback_to_current_communities = fallback_to_current_communities
        self.cache_size = cache_size
        self._cache: OrderedDict[str, RecordInfo] = OrderedDict()
        self.stats = EnrichmentStats()
        self._source_filter = record_source_filter(self.fields)

    # ------------------------------------------------------------------ lookups

    def load(self, record_ids: Iterable[str]) -> dict[str, RecordInfo]:
        """Return the infos of ``record_ids``, searching only for uncached ones."""
        wanted = list(dict.fromkeys(rid for rid in record_ids if rid))
        missing = [rid for rid in wanted if rid not in self._cache]
        if missing:
            fetched = self._fetch(missing)
            for rid in missing:
                self._cache[rid] = fetched[rid]
        infos = {}
        for rid in wanted:
            self._cache.move_to_end(rid)
            infos[rid] = self._cache[rid]
        while len(self._cache) > max(self.cache_size, len(wanted)):
            self._cache.popitem(last=False)
        return infos

    def _fetch(self, record_ids: list[str]) -> dict[str, RecordInfo]:
        sources = self._record_sources(record_ids)
        histories = read_histories(self.client, record_ids)
        infos = {rid: RecordInfo(source=sources.get(rid)) for rid in record_ids}
        for (record_id, scope), history in histories.items():
            info = infos.get(record_id)
            if info is None:
                continue
            info.has_log_events = info.has_log_events or history.has_events
            if scope != GLOBAL_SCOPE:
                info.histories[scope] = history
        return infos

    def _record_sources(self, record_ids: list[str]) -> dict[str, dict[str, Any]]:
        sources: dict[str, dict[str, Any]] = {}
        for batch in batched(record_ids):
            response = self.client.search(
                index=prefix_index(RECORDS_ALIAS),
                body={
                    "size": len(batch),
                    "query": {"terms": {"id": batch}},
                    "_source": self._source_filter,
                },
                ignore_unavailable=True,
            )
            for hit in response["hits"]["hits"]:
                sources[hit["_source"]["id"]] = hit["_source"]
        self._fill_hidden_file_entries(sources)
        return sources

    def _fill_hidden_file_entries(self, sources: dict[str, dict[str, Any]]) -> None:
        """Read from the database the file entries the index hides (01 §7)."""
        if not any(f.event_field == "file_types" for f in self.fields):
            return
        hidden = {
            str(source["uuid"]): source
            for source in sources.values()
            if source.get("uuid")
            and is_public_metadata(source)
            and hides_file_entries(source)
        }
        if not hidden:
            return
        try:
            entries = database_file_entries(hidden)
        except Exception as error:  # enrichment must never fail on this
            logger.warning("reading hidden file entries failed: %s", error)
            return
        for uuid, source in hidden.items():
            files = dict(source.get("files") or {})
            files["entries"] = entries.get(str(uuid), [])
            source["files"] = files

    # --------------------------------------------------------------- enrichment

    def community_ids(self, info: RecordInfo, event: Mapping[str, Any]) -> list[str]:
        """Communities the version belonged to on the event's UTC day."""
        if not info.has_log_events:
            if self.fallback_to_current_communities and info.source:
                parent = info.source.get("parent") or {}
                ids = (parent.get("communities") or {}).get("ids") or []
                return sorted(str(c) for c in ids if c != GLOBAL_SCOPE)
            return []
        day = event_day(event)
        if day is None:
            return []
        return sorted(
            scope
            for scope, history in info.histories.items()
            if history.member_on_day(day)
        )

    def fields_for(self, info: RecordInfo, event: Mapping[str, Any]) -> dict[str, Any]:
        """Return every enrichment field of one event."""
        return {**self.event_values(info, event), **self.record_values(info)}

    def record_values(self, info: RecordInfo) -> dict[str, Any]:
        """Return the fields that depend on the record alone (same for its events)."""
        if info.record_values is None:
            values: dict[str, Any] = {}
            for enriched in self.fields:
                if not enriched.takes_event:
                    self._put_value(values, info, enriched, None)
            info.record_values = values
        return info.record_values

    def event_values(
        self, info: RecordInfo, event: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Return ``community_ids`` and the fields whose extractor reads the event."""
        values: dict[str, Any] = {COMMUNITY_IDS: self.community_ids(info, event)}
        for enriched in self.fields:
            if enriched.takes_event:
                self._put_value(values, info, enriched, event)
        return values

    def _put_value(
        self,
        values: dict[str, Any],
        info: RecordInfo,
        enriched: EnrichedField,
        event: Mapping[str, Any] | None,
    ) -> None:
        """Set one field's value, following the public-metadata rule (01 §5.9)."""
        name = enriched.event_field
        source = info.source
        if source is None:
            values[name] = None  # unknown (purged) record: null metadata fields
            return
        if name not in RESTRICTED_METADATA_FIELDS and not is_public_metadata(source):
            return
        key = _cache_key(enriched, event or {})
        if key is not None and key in info.extracted:
            values[name] = info.extracted[key]
            return
        try:
            value = enriched.extract(source, event or {})
            values[name] = project_event_field(name, value)
        except Exception as error:  # a field, never the event, is lost
            self.stats.extraction_errors[name] += 1
            logger.debug("extracting %s for %s failed: %s", name, event, error)
            values[name] = None
        if key is not None:
            info.extracted[key] = values[name]

    def enrich(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Return the enrichment fields of each event, in order."""
        infos = self.load(str(event.get("recid") or "") for event in events)
        result = []
        for event in events:
            info = infos.get(str(event.get("recid") or "")) or RecordInfo(source=None)
            if info.source is None:
                self.stats.unknown_records += 1
            result.append(self.fields_for(info, event))
        self.stats.events += len(events)
        return result

    def record_only_fields(self) -> frozenset[str]:
        """Return the fields whose value depends on the record alone, not the event."""
        return frozenset(f.event_field for f in self.fields if not f.takes_event)

    def event_fields_read(self) -> list[str] | None:
        """Return the event fields enrichment reads, or None if an extractor may read any.

        The migration reads only these of each event, since the events' other
        fields are copied on the server.
        """
        if any(
            f.takes_event and f.extractor is not extract_file_types for f in self.fields
        ):
            return None
        return list(EVENT_FIELDS_READ)

    def rewritten_sources(self, hits: Sequence[Mapping[str, Any]]) -> list[dict]:
        """Return copies of the hits' ``_source``, enriched and stamped as written now.

        Migration, its delta passes and re-enrichment all write events this way;
        ``updated_timestamp`` records the write (03 §2).
        """
        sources = [dict(hit["_source"]) for hit in hits]
        self.enrich_sources(sources)
        now = format_utc(utc_now())
        for source in sources:
            source["updated_timestamp"] = now
        return sources

    def enrich_sources(self, sources: Sequence[dict[str, Any]]) -> None:
        """Replace the enrichment fields of event ``_source`` dicts in place.

        Fields that are no longer configured are removed, so re-enrichment after a
        subcount change leaves exactly the new set.
        """
        enrichment = self.enrich(sources)
        for source, values in zip(sources, enrichment, strict=True):
            strip_enrichment(source, self.fields)
            source.update(values)


def record_source_filter(fields: Sequence[EnrichedField]) -> dict[str, list[str]]:
    """Return the ``_source`` filter of the records search: only what is read.

    When every extractor names its paths, only those and the base fields are
    fetched; otherwise the whole record minus its largest text fields.
    """
    includes = list(RECORD_SOURCE_BASE)
    for enriched in fields:
        paths = source_paths(enriched.extractor)
        if paths is None:
            return {"excludes": RECORD_SOURCE_EXCLUDES}
        includes.extend(p for p in paths if p not in includes)
    return {"includes": includes}


def _cache_key(enriched: EnrichedField, event: Mapping[str, Any]) -> tuple | None:
    """Key under which a record's extracted value can be reused, or None.

    A field that reads only the record is the same for all its events; the shipped
    file-type extraction also depends on the downloaded file. Other extractors that
    read the event are never cached, since they may read any event field.
    """
    if not enriched.takes_event:
        return (enriched.event_field,)
    if enriched.extractor is extract_file_types:
        return (enriched.event_field, event.get("file_id"), event.get("file_key"))
    return None


KNOWN_ENRICHMENT_FIELDS = frozenset({COMMUNITY_IDS, *MAPPED_EVENT_FIELDS})
"""Every enrichment field the shipped templates map (01 §5.1)."""


def enrichment_field_names(fields: Sequence[EnrichedField]) -> frozenset[str]:
    """Every field re-enrichment may replace: the known ones and the configured ones."""
    return KNOWN_ENRICHMENT_FIELDS | {f.event_field for f in fields}


def strip_enrichment(source: dict[str, Any], fields: Sequence[EnrichedField]) -> None:
    """Remove every enrichment field from an event ``_source`` (base fields stay)."""
    for name in enrichment_field_names(fields):
        source.pop(name, None)
