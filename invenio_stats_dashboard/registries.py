"""Merge the extension's entries into other packages' configuration (07 §1.3, §7–§8).

Every function here builds and returns a *new* value and never mutates what it was given:
unless an instance sets them, ``app.config`` holds module-level dicts and lists of other
packages that every app in the process shares (09 §3 steps 7–9).
"""

import logging
from collections.abc import Mapping
from typing import Any

from invenio_base.utils import obj_or_import_string

from .search_indices.event_builders import OUR_BUILDERS, UPSTREAM_BUILDERS

logger = logging.getLogger(__name__)

EVENT_TEMPLATES = {
    "record-view": "invenio_stats_dashboard.search_indices.search_templates.record_view",
    "file-download": (
        "invenio_stats_dashboard.search_indices.search_templates.file_download"
    ),
}
"""Template packages our enriched event types use (07 §8)."""

RDM_AGGREGATION_TEMPLATES = {
    "record-view-agg": (
        "invenio_rdm_records.records.stats.templates.aggregations.aggr_record_view",
        "invenio_stats_dashboard.search_indices.search_templates.aggr_record_view",
    ),
    "file-download-agg": (
        "invenio_rdm_records.records.stats.templates.aggregations.aggr_file_download",
        "invenio_stats_dashboard.search_indices.search_templates.aggr_file_download",
    ),
}
"""InvenioRDM's legacy-layout aggregation templates and our composable copies (01 §2.1)."""


def merge_named_entries(
    existing: Mapping[str, Any] | None, ours: Mapping[str, Any], variable: str
) -> dict[str, Any]:
    """Return ``existing`` plus ``ours``; an existing entry of the same name wins."""
    merged = dict(existing or {})
    for name, entry in ours.items():
        if name in merged:
            logger.info(
                "%s: keeping the instance's own entry %r instead of the extension's.",
                variable,
                name,
            )
            continue
        merged[name] = entry
    return merged


def merge_beat_schedule(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``CELERY_BEAT_SCHEDULE`` with the entries whose switch is on (07 §7.1)."""
    schedule = dict(config.get("CELERY_BEAT_SCHEDULE") or {})
    sources = (
        (
            "COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED",
            "COMMUNITY_STATS_CELERYBEAT_AGG_SCHEDULE",
        ),
        (
            "COMMUNITY_STATS_SCHEDULED_CACHE_TASKS_ENABLED",
            "COMMUNITY_STATS_CELERYBEAT_CACHE_SCHEDULE",
        ),
    )
    for switch, variable in sources:
        if config.get(switch):
            schedule = merge_named_entries(schedule, config[variable], variable)
    return schedule


def _import_path(value: Any) -> str:
    """Return the dotted import path of a config value given as string or object."""
    if isinstance(value, str):
        return value
    module = getattr(value, "__module__", None)
    name = getattr(value, "__qualname__", None)
    return f"{module}.{name}" if module and name else repr(value)


UPSTREAM_INDEXER = "invenio_stats.processors.EventsIndexer"
ENRICHED_INDEXER = (
    "invenio_stats_dashboard.search_indices.events_indexer.EnrichedEventsIndexer"
)


def _resolve(value: Any) -> Any:
    """Return the object a config value names (import strings in either form).

    A string that cannot be imported is returned unchanged, so it is compared by
    its spelling only.
    """
    if not isinstance(value, str):
        return value
    try:
        return obj_or_import_string(value)
    except (ImportError, AttributeError, ValueError):
        return value


def _is_same(value: Any, path: str) -> bool:
    """Whether ``value`` is the object at ``path``: by identity, else by path.

    Import strings may be spelled ``module.attr`` or ``module:attr``, and InvenioRDM
    re-exports its objects from sub-modules, so spellings alone never decide (03 §3.1).
    """
    target = _resolve(path)
    resolved = _resolve(value)
    if resolved is target and not isinstance(target, str):
        return True
    return _import_path(value).replace(":", ".") == path


def _adjust_indexer(event_type: str, cls: Any) -> Any:
    """Return the indexer class an event should use (07 §8).

    Upstream's ``EventsIndexer`` (or no class, which means it) becomes
    ``EnrichedEventsIndexer``; a subclass of ours is kept; any other class is kept
    with one warning, because its events are not enriched.
    """
    from .search_indices.events_indexer import EnrichedEventsIndexer

    if cls is None or _is_same(cls, UPSTREAM_INDEXER):
        return EnrichedEventsIndexer
    resolved = _resolve(cls)
    if isinstance(resolved, type) and issubclass(resolved, EnrichedEventsIndexer):
        return cls
    logger.warning(
        "STATS_EVENTS[%r] uses the indexer class %s, not EnrichedEventsIndexer: its "
        "events are not enriched and the usage-event migration will refuse the "
        "current-month switch.",
        event_type,
        _import_path(cls),
    )
    return cls


def _adjust_event(event_type: str, entry: Any) -> dict[str, Any]:
    """Return one ``STATS_EVENTS`` entry adjusted for enrichment (07 §8)."""
    entry = dict(obj_or_import_string(entry))
    entry["cls"] = _adjust_indexer(event_type, entry.get("cls"))
    entry["templates"] = EVENT_TEMPLATES[event_type]
    upstream = UPSTREAM_BUILDERS[event_type]
    builders = []
    # InvenioRDM re-exports its builders from the ``event_builders`` module.
    spellings = (upstream, upstream.replace(".stats.", ".stats.event_builders."))
    for builder in entry.get("event_builders", []):
        if any(_is_same(builder, path) for path in spellings):
            builders.append(OUR_BUILDERS[event_type])
        else:
            builders.append(builder)
    entry["event_builders"] = builders
    return entry


def merge_stats_events(events: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``STATS_EVENTS`` with ``record-view`` and ``file-download`` adjusted.

    Only the two entries are touched, and only their templates, the upstream
    builder and upstream's indexer class; preprocessors (``filter_robots``
    included) and other builders stay as the instance configured them.
    """
    merged = dict(events or {})
    for event_type in EVENT_TEMPLATES:
        if event_type in merged:
            merged[event_type] = _adjust_event(event_type, merged[event_type])
    return merged


def merge_rdm_aggregation_templates(
    aggregations: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Point InvenioRDM's two aggregations at our composable template copies.

    Only entries that still use InvenioRDM's own template packages are changed, so an
    instance that brings its own templates keeps them (01 §2.1).
    """
    merged = dict(aggregations or {})
    for name, (rdm_templates, our_templates) in RDM_AGGREGATION_TEMPLATES.items():
        entry = merged.get(name)
        if isinstance(entry, Mapping) and entry.get("templates") == rdm_templates:
            merged[name] = {**entry, "templates": our_templates}
    return merged
