"""Which enrichment fields an event gets, and the fingerprint of that choice (03 §2).

The usage side of ``COMMUNITY_STATS_SUBCOUNTS`` decides the fields: ``community_ids``
always, plus one field per subcount whose ``usage_events`` block names a non-null
``event_field``. The fingerprint hashes every field's name, extraction and extra
mapping, so a changed configuration is detectable in stored bookmarks and in the
fingerprints the running indexers report.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from .extraction import resolve_extractor

ENRICHER_VERSION = 1
"""Bumped whenever the extraction code changes what it writes for the same record."""

COMMUNITY_IDS = "community_ids"
"""The enrichment field every event carries, whatever the subcounts say."""

RESTRICTED_METADATA_FIELDS = frozenset({COMMUNITY_IDS, "access_status"})
"""The only enrichment fields of an event on a record with restricted metadata."""


@dataclass(frozen=True)
class EnrichedField:
    """One configured enrichment field of the event documents."""

    subcount: str
    event_field: str
    extractor: Callable[..., Any]
    extraction: str
    """The dotted path, or the callable's qualified name (part of the fingerprint)."""
    takes_event: bool
    """The extractor also wants the event (the download's own file, for example)."""
    mapping: Mapping[str, Any] | None = None
    """``event_field_mapping``: how to map a field the templates do not map."""

    def extract(self, source: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
        """Run the extractor on the record ``_source`` (and the event when wanted)."""
        if self.takes_event:
            return self.extractor(source, event)
        return self.extractor(source)


def _extraction_name(spec: Any, extractor: Callable[..., Any]) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(extractor, partial):
        return repr(extractor.keywords)
    module = getattr(extractor, "__module__", "")
    return f"{module}:{getattr(extractor, '__qualname__', repr(extractor))}"


def _takes_event(extractor: Callable[..., Any]) -> bool:
    if isinstance(extractor, partial):
        return False
    try:
        parameters = inspect.signature(extractor).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def enriched_fields(subcounts: Mapping[str, Any]) -> tuple[EnrichedField, ...]:
    """Return the configured enrichment fields, in subcount order.

    The config was validated at startup, so every ``event_field`` here is mapped
    or brings its ``event_field_mapping``.
    """
    fields: list[EnrichedField] = []
    seen: set[str] = set()
    for name, sides in subcounts.items():
        side = (sides or {}).get("usage_events") or {}
        event_field = side.get("event_field")
        if not event_field or event_field in seen:
            continue
        seen.add(event_field)
        spec = side.get("extraction_path_for_event") or _default_path(event_field)
        extractor = resolve_extractor(spec)
        fields.append(
            EnrichedField(
                subcount=name,
                event_field=event_field,
                extractor=extractor,
                extraction=_extraction_name(spec, extractor),
                takes_event=_takes_event(extractor),
                mapping=side.get("event_field_mapping"),
            )
        )
    return tuple(fields)


DEFAULT_PATHS = {
    "resource_type": "metadata.resource_type",
    "access_status": "access.status",
    "languages": "metadata.languages",
    "subjects": "metadata.subjects",
    "rights": "metadata.rights",
    "publisher": "metadata.publisher",
    "journal_title": "custom_fields.journal:journal.title",
    "funders": "invenio_stats_dashboard.usage_events.extraction:extract_funders",
    "affiliations": (
        "invenio_stats_dashboard.usage_events.extraction:extract_affiliations"
    ),
    "file_types": "invenio_stats_dashboard.usage_events.extraction:extract_file_types",
}
"""Default extraction of each mapped event field (01 §7)."""


def _default_path(event_field: str) -> str:
    return DEFAULT_PATHS.get(event_field, event_field)


def fingerprint(fields: tuple[EnrichedField, ...]) -> str:
    """Return a short stable hash of the enrichment configuration."""
    material = {
        "version": ENRICHER_VERSION,
        "fields": sorted(
            [field.event_field, field.extraction, field.mapping] for field in fields
        ),
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def field_names(fields: tuple[EnrichedField, ...]) -> tuple[str, ...]:
    """Every enrichment field name an event may carry, ``community_ids`` first."""
    return (COMMUNITY_IDS, *(field.event_field for field in fields))


def configured_fields(config: Mapping[str, Any]) -> tuple[EnrichedField, ...]:
    """Return the enrichment fields of an app config."""
    return enriched_fields(config.get("COMMUNITY_STATS_SUBCOUNTS") or {})
