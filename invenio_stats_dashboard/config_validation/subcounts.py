"""Rules for ``COMMUNITY_STATS_SUBCOUNTS`` (07 §3.1), a data-affecting variable."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from ..usage_events.extraction import MAPPED_EVENT_FIELDS, resolve_extractor
from .primitives import check_choice, check_mapping, check_text, show, unknown, where

NAME = "COMMUNITY_STATS_SUBCOUNTS"

SUBCOUNT_NAMES = (
    "resource_types",
    "access_statuses",
    "languages",
    "subjects",
    "rights",
    "funders",
    "periodicals",
    "publishers",
    "affiliations",
    "file_types",
    "countries",
    "referrers",
)
"""Subcount names the shipped templates map (07 §3.1)."""

USAGE_ONLY_SUBCOUNTS = frozenset({"countries", "referrers"})
"""Subcounts without a records side; their usage side reads a native event field."""

RESERVED_SUBCOUNTS = frozenset({"user_agents"})
"""Mapped but reserved names: not accepted yet."""

DROPPED_KEYS = ("delta_aggregation_name", "with_files_only", "field_type")
"""Keys of the original that had no effect: dropped with one warning per key."""

SNAPSHOT_TYPES = ("all", "top")
SIDE_KEYS = {
    "records": frozenset({"snapshot_type", "source_fields"}),
    "usage_events": frozenset(
        {
            "snapshot_type",
            "event_field",
            "extraction_path_for_event",
            "event_field_mapping",
            "source_fields",
        }
    ),
}
SPEC_KEYS = frozenset(
    {"field", "label_field", "label_source_includes", "combine_subfields"}
)


def strip_dropped_keys(
    subcounts: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Return a copy without the dropped keys, and where each key was found."""
    found: dict[str, list[str]] = {}

    def strip(value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            kept = {}
            for key, item in value.items():
                if key in DROPPED_KEYS:
                    found.setdefault(key, []).append(where(path, key))
                else:
                    kept[key] = strip(item, where(path, key))
            return kept
        if isinstance(value, list):
            return [strip(item, where(path, i)) for i, item in enumerate(value)]
        return value

    return strip(subcounts, NAME), found


def _is_string_list(value: Any) -> bool:
    """Return True for a list (or tuple) of strings."""
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _check_spec(spec: Any, path: str, errors: list[str]) -> None:
    """Check one field spec of a subcount side."""
    if not check_mapping(spec, path, errors):
        return
    for key in spec:
        if key not in SPEC_KEYS:
            errors.append(unknown(where(path, key), "key", sorted(SPEC_KEYS)))
    check_text(spec.get("field"), where(path, "field"), errors)
    label = spec.get("label_field")
    if label is not None and not (isinstance(label, str) and label.strip()):
        errors.append(
            f"{where(path, 'label_field')}: must be a _source path or "
            f"None, got {show(label)}"
        )
    elif isinstance(label, str) and label.endswith(".keyword"):
        errors.append(
            f"{where(path, 'label_field')}: must be a _source path, not "
            f"a .keyword sub-field, got {show(label)}"
        )
    for key in ("label_source_includes", "combine_subfields"):
        if spec.get(key) is not None and not _is_string_list(spec[key]):
            errors.append(
                f"{where(path, key)}: must be a list of field names, "
                f"got {show(spec[key])}"
            )


def _check_side_common(
    side: Mapping, path: str, errors: list[str], allowed: frozenset
) -> None:
    """Check the keys, snapshot type and field specs of one side."""
    for key in side:
        if key not in allowed:
            errors.append(unknown(where(path, key), "key", sorted(allowed)))
    if "snapshot_type" in side:
        check_choice(
            side["snapshot_type"], where(path, "snapshot_type"), errors, SNAPSHOT_TYPES
        )
    fields = side.get("source_fields", [])
    if not isinstance(fields, (list, tuple)):
        errors.append(
            f"{where(path, 'source_fields')}: must be a list of field "
            f"specs, got {show(fields)}"
        )
        return
    for index, spec in enumerate(fields):
        _check_spec(spec, where(path, "source_fields", index), errors)


def _check_usage_side(name: str, side: Mapping, path: str, errors: list[str]) -> None:
    """Check the ``event_field`` rule and the extraction of a usage side."""
    mapping = side.get("event_field_mapping")
    if mapping is not None and not (isinstance(mapping, Mapping) and mapping):
        errors.append(
            f"{where(path, 'event_field_mapping')}: must be an "
            f"OpenSearch field mapping (a non-empty dict), got "
            f"{show(mapping)}"
        )
    field = side.get("event_field")
    field_path = where(path, "event_field")
    if field is None:
        if name not in USAGE_ONLY_SUBCOUNTS:
            errors.append(
                f"{field_path}: None (a native event field) is only "
                f"valid for countries and referrers; give an enriched "
                f"event field"
            )
    elif not isinstance(field, str) or not field.strip():
        errors.append(
            f"{field_path}: must be an event field name or None, got {show(field)}"
        )
    elif field not in MAPPED_EVENT_FIELDS and mapping is None:
        errors.append(
            f"{field_path}: {field!r} is not a mapped event field "
            f"({', '.join(sorted(MAPPED_EVENT_FIELDS))}); add an "
            f"event_field_mapping to map it"
        )
    extraction = side.get("extraction_path_for_event")
    if extraction is not None:
        try:
            resolve_extractor(extraction)
        except (ImportError, ValueError) as error:
            errors.append(
                f"{where(path, 'extraction_path_for_event')}: must be a "
                f"dotted path or an importable callable ({error})"
            )


def check_subcounts(
    config: MutableMapping[str, Any], errors: list[str]
) -> dict[str, list[str]]:
    """Check ``COMMUNITY_STATS_SUBCOUNTS``; return the dropped keys found.

    The dropped keys are removed from the config value (a new dict is written).
    """
    value = config.get(NAME, {})
    if not check_mapping(value, NAME, errors):
        return {}
    cleaned, dropped = strip_dropped_keys(value)
    if dropped:
        config[NAME] = cleaned
    for name, subcount in cleaned.items():
        path = where(NAME, name)
        if name in RESERVED_SUBCOUNTS:
            errors.append(
                f"{path}: the subcount name is reserved and not supported yet"
            )
            continue
        if name not in SUBCOUNT_NAMES:
            errors.append(unknown(path, "subcount name", SUBCOUNT_NAMES))
            continue
        if not check_mapping(subcount, path, errors):
            continue
        for side_name, side in subcount.items():
            side_path = where(path, side_name)
            if side_name not in SIDE_KEYS:
                errors.append(
                    f"{side_path}: unknown key, expected records or usage_events"
                )
                continue
            if side is None or side == {}:
                continue  # a disabled side
            if not check_mapping(side, side_path, errors):
                continue
            if side_name == "records" and name in USAGE_ONLY_SUBCOUNTS:
                errors.append(
                    f"{side_path}: {name} is a usage-only subcount and "
                    f"has no records side; leave it empty"
                )
                continue
            _check_side_common(side, side_path, errors, SIDE_KEYS[side_name])
            if side_name == "usage_events":
                _check_usage_side(name, side, side_path, errors)
    return dropped
