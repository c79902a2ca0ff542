"""Rules for ``STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY`` (07 §6 rule 5).

Shape: category -> series key -> metric -> list of component names. Every
category must be known, every metric must belong to its category and every
component must be a layout component name (07 §5.3 or the entry point group).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .primitives import check_mapping, show, unknown, where

NAME = "STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY"

RECORD_METRICS = frozenset(
    {"records", "parents", "uploaders", "file_count", "data_volume"}
)
USAGE_METRICS = frozenset(
    {
        "views",
        "downloads",
        "view_visitors",
        "download_visitors",
        "view_unique_records",
        "view_unique_parents",
        "download_unique_records",
        "download_unique_parents",
        "download_unique_files",
        "data_volume",
    }
)
CATEGORY_METRICS = {
    "record_deltas": RECORD_METRICS,
    "record_snapshots": RECORD_METRICS,
    "usage_deltas": USAGE_METRICS,
    "usage_snapshots": USAGE_METRICS,
}
"""Metric names allowed in each registry category."""


def _component_names() -> frozenset[str] | None:
    """Return the known layout component names, or None when unavailable."""
    try:
        from ..custom_fields.layout_schema import known_component_names
    except ImportError:
        return None
    return known_component_names()


def check_registry(value: Any, known: Iterable[str] | None = None) -> list[str]:
    """Check the component-metrics registry; return the problems found."""
    errors: list[str] = []
    if not check_mapping(value, NAME, errors):
        return errors
    names = frozenset(known) if known is not None else _component_names()
    for category, series_map in value.items():
        path = where(NAME, category)
        metrics = CATEGORY_METRICS.get(category)
        if metrics is None:
            errors.append(unknown(path, "category", CATEGORY_METRICS))
            continue
        if not check_mapping(series_map, path, errors):
            continue
        for series, metric_map in series_map.items():
            series_path = where(path, series)
            if not isinstance(series, str) or not series:
                errors.append(f"{series_path}: series keys must be non-empty strings")
                continue
            if not check_mapping(metric_map, series_path, errors):
                continue
            for metric, components in metric_map.items():
                metric_path = where(series_path, metric)
                if metric not in metrics:
                    errors.append(
                        unknown(metric_path, f"metric for {category}", sorted(metrics))
                    )
                    continue
                errors.extend(_check_components(components, metric_path, names))
    return errors


def _check_components(
    components: Any, path: str, names: frozenset[str] | None
) -> list[str]:
    """Check one list of component names."""
    if not isinstance(components, (list, tuple)):
        return [f"{path}: must be a list of component names, got {show(components)}"]
    errors = []
    for index, component in enumerate(components):
        if not isinstance(component, str):
            errors.append(
                f"{where(path, index)}: must be a component name, got {show(component)}"
            )
        elif names is not None and component not in names:
            errors.append(f"{where(path, index)}: unknown component {component!r}")
    return errors
