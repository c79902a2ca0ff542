"""Keep the event templates and indices able to hold the configured fields (03 §2, §3.3).

- The two v2 event templates get every subcount's ``event_field_mapping``.
- Before the first write into an index, the enrichment fields it lacks are added with
  a put-mapping (allowed on strict mappings). Pre-installation indices get the fields
  but never the ``_meta`` marker, so the migration still knows they need migrating.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ..search_indices.templates import REGISTERED_TEMPLATES, TemplateFile, template_body
from .fields import COMMUNITY_IDS, EnrichedField
from .names import EVENT_TYPES

logger = logging.getLogger(__name__)

ENRICHED_MARKER = "stats_dashboard_enriched"

EVENT_TEMPLATE_FILES = {
    stats_type: next(
        t for t in REGISTERED_TEMPLATES if t.stem == f"{stats_type}-v2.0.0"
    )
    for stats_type in EVENT_TYPES.values()
}
"""invenio-stats event type → its shipped template file."""


def _template_properties(template: TemplateFile) -> dict[str, Any]:
    return template_body(template, "")["template"]["mappings"]["properties"]


def enrichment_properties(
    stats_type: str, fields: Sequence[EnrichedField]
) -> dict[str, Any]:
    """Return the mappings of ``community_ids`` and of every configured field."""
    shipped = _template_properties(EVENT_TEMPLATE_FILES[stats_type])
    properties = {COMMUNITY_IDS: shipped[COMMUNITY_IDS]}
    for field in fields:
        if field.event_field in shipped:
            properties[field.event_field] = shipped[field.event_field]
        elif field.mapping:
            properties[field.event_field] = dict(field.mapping)
    return properties


def extra_properties(fields: Sequence[EnrichedField]) -> dict[str, Any]:
    """Return the mappings the shipped templates lack (``event_field_mapping``)."""
    shipped = _template_properties(EVENT_TEMPLATE_FILES["record-view"])
    return {
        f.event_field: dict(f.mapping)
        for f in fields
        if f.mapping and f.event_field not in shipped
    }


def ensure_event_templates(
    client, prefix: str, fields: Sequence[EnrichedField], **request
) -> list[str]:
    """Put both event templates when missing, older, or lacking an extra field."""
    extras = extra_properties(fields)
    put = []
    for template in EVENT_TEMPLATE_FILES.values():
        name = f"{prefix}{template.stem}"
        body = template_body(template, prefix)
        body["template"]["mappings"]["properties"].update(extras)
        found = client.indices.get_index_template(name=name, ignore=404, **request)
        installed = found.get("index_templates") or []
        if installed:
            current = installed[0]["index_template"]
            mapped = current.get("template", {}).get("mappings", {}).get("properties")
            if current.get("version") == body.get("version") and all(
                key in (mapped or {}) for key in extras
            ):
                continue
        client.indices.put_index_template(name=name, body=body, **request)
        put.append(name)
    return put


def index_properties(client, index: str) -> dict[str, dict[str, Any]]:
    """``{concrete index: top-level properties}`` of an index, alias or pattern."""
    response = client.indices.get_mapping(index=index)
    return {
        name: (body.get("mappings") or {}).get("properties") or {}
        for name, body in response.items()
    }


def index_meta(client, index: str) -> dict[str, dict[str, Any]]:
    """``{concrete index: mapping _meta}``."""
    response = client.indices.get_mapping(index=index)
    return {
        name: (body.get("mappings") or {}).get("_meta") or {}
        for name, body in response.items()
    }


def is_enriched_mapping(meta: Mapping[str, Any]) -> bool:
    """Whether an index was created from our v2 template (the ``_meta`` marker)."""
    return meta.get(ENRICHED_MARKER) is True


def add_missing_properties(
    client, index: str, properties: Mapping[str, Any]
) -> list[str]:
    """Put-map every property of ``properties`` that ``index`` lacks; return names."""
    added: list[str] = []
    for name, mapped in index_properties(client, index).items():
        missing = {k: v for k, v in properties.items() if k not in mapped}
        if missing:
            client.indices.put_mapping(index=name, body={"properties": missing})
            added.extend(missing)
    return sorted(set(added))


def copy_missing_properties(client, source: str, target: str) -> list[str]:
    """Map on ``target`` every field ``source`` maps and ``target`` lacks (03 §4.5)."""
    source_props: dict[str, Any] = {}
    for props in index_properties(client, source).values():
        source_props.update(props)
    return add_missing_properties(client, target, source_props)


class IndexFieldGuard:
    """Add the enrichment fields to each index once per process (03 §3.3 step 3)."""

    _ready: set[tuple[str, str]] = set()
    """(index, fingerprint) pairs checked in this process (class level on purpose:
    invenio-stats builds a new indexer on every run)."""

    @classmethod
    def ensure(
        cls,
        client,
        index: str,
        stats_type: str,
        fields: Sequence[EnrichedField],
        fingerprint: str,
    ) -> None:
        """Make sure ``index`` (if it exists) maps every configured field."""
        key = (index, fingerprint)
        if key in cls._ready:
            return
        if client.indices.exists(index=index):
            add_missing_properties(
                client, index, enrichment_properties(stats_type, fields)
            )
            cls._ready.add(key)

    @classmethod
    def discard(cls, index: str) -> None:
        """Check ``index`` again before its next write (its mapping rejected a write)."""
        for key in [key for key in cls._ready if key[0] == index]:
            cls._ready.discard(key)

    @classmethod
    def forget(cls) -> None:
        """Drop what this process checked (tests, after deleting indices)."""
        cls._ready.clear()
