"""Validation of dashboard layout values (chapter 01 §8, chapter 07 §5).

One schema serves both the ``STATS_DASHBOARD_LAYOUT`` configuration variable and the
``stats:dashboard_layout`` community custom field. It is written as rule tables: one
:class:`Level` per level of the layout (root, dashboard, tab, row, component, props)
maps each allowed key to a check. :func:`validate_layout` walks a value through the
tables and returns one message per problem, in document order, each starting with the
path of the offending key, e.g.
``community_layout.tabs[0].rows[1].components[0].width: must be 1-16, got 17``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from flask_babel.speaklater import LazyString

logger = logging.getLogger(__name__)

COMPONENTS_ENTRY_POINT_GROUP = "invenio_stats_dashboard.components"
"""Entry point group through which instances add layout components (08 §8.5)."""

ROOT_PATH = "(root)"
"""How the path of the layout value itself is shown in messages."""

_CHARTS = ("ContentStatsChart", "TrafficStatsChart")
_SINGLE_STATS = "RecordCount Uploaders DataVolume Views Downloads Traffic".split()
_SUBCOUNTS = (
    "ResourceTypes Subjects AccessStatuses Rights Affiliations Funders"
    " Periodicals Publishers Languages FileTypes"
).split()
_CUMULATIVE = ("", "Cumulative")
_DELTA = ("", "Delta")
_VIEW_ONLY = ("Countries", "Referrers")

LAYOUT_COMPONENT_NAMES: frozenset[str] = frozenset(
    (
        *(f"{chart}{c}" for chart in _CHARTS for c in _CUMULATIVE),
        *(f"SingleStat{stat}{c}" for stat in _SINGLE_STATS for c in _CUMULATIVE),
        "SingleStatVisitors",
        "StatsMap",
        *(
            f"{subcount}MultiDisplay{variant}{d}"
            for subcount in _SUBCOUNTS
            for variant in ("", "Views", "Downloads")
            for d in _DELTA
        ),
        *(f"{x}MultiDisplayViews{d}" for x in _VIEW_ONLY for d in _DELTA),
        "MostDownloadedRecordsMultiDisplay",
        "MostViewedRecordsMultiDisplay",
    )
)
"""Every component name of chapter 07 §5.3 (entry-point additions excluded)."""

NON_LAYOUT_COMPONENT_NAMES: frozenset[str] = frozenset(
    (
        "DateRangeSelector GranularitySelector ReportSelector StatsChart StatsTable"
        " SingleStatBox StatsPopup StatsMultiDisplay"
    ).split()
)
"""Client components that exist but may not be placed in a layout (07 §5.3)."""


def known_component_names() -> frozenset[str]:
    """Return the names of 07 §5.3 plus those of the components entry point group."""
    try:
        added = {ep.name for ep in entry_points(group=COMPONENTS_ENTRY_POINT_GROUP)}
    except Exception:  # a broken distribution must not break validation
        logger.exception("Cannot read entry points %s", COMPONENTS_ENTRY_POINT_GROUP)
        added = set()
    return LAYOUT_COMPONENT_NAMES | added


Check = Callable[[Any, str, frozenset[str]], list[str]]
"""A check takes (value, path, known component names) and returns error messages."""


def _at(path: str, message: str) -> str:
    return f"{path or ROOT_PATH}: {message}"


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _show(value: Any) -> str:
    """Describe a value briefly for a message."""
    if isinstance(value, (dict, list, tuple)):
        return "an object" if isinstance(value, dict) else "a list"
    if isinstance(value, LazyString):
        value = str(value)
    return "null" if value is None else repr(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _simple(test: Callable[[Any], bool], expected: str) -> Check:
    def check(value: Any, path: str, known: frozenset[str]) -> list[str]:
        if test(value):
            return []
        return [_at(path, f"must be {expected}, got {_show(value)}")]

    return check


def string(non_empty: bool = False) -> Check:
    """Check for a string (lazy translations included), optionally non-empty."""
    is_str = _simple(lambda v: isinstance(v, (str, LazyString)), "a string")

    def check(value: Any, path: str, known: frozenset[str]) -> list[str]:
        errors = is_str(value, path, known)
        if not errors and non_empty and not str(value).strip():
            errors = [_at(path, "must not be empty")]
        return errors

    return check


BOOLEAN = _simple(lambda v: isinstance(v, bool), "true or false")


def integer(lo: int, hi: int | None = None) -> Check:
    """Check for an integer in ``[lo, hi]`` (no upper bound when ``hi`` is None)."""
    return _ranged(_is_int, "an integer", lo, hi)


def number(lo: float, hi: float | None = None) -> Check:
    """Check for an integer or finite float in ``[lo, hi]``."""
    return _ranged(_is_number, "a number", lo, hi)


def _ranged(test: Callable[[Any], bool], kind: str, lo: float, hi: Any) -> Check:
    bounds = f"{lo}-{hi}" if hi is not None else f">= {lo}"
    of_kind = _simple(test, f"{kind} {bounds}")

    def check(value: Any, path: str, known: frozenset[str]) -> list[str]:
        errors = of_kind(value, path, known)
        if not errors and (value < lo or (hi is not None and value > hi)):
            errors = [_at(path, f"must be {bounds}, got {value}")]
        return errors

    return check


def one_of(*choices: str) -> Check:
    """Check for one of the given strings."""
    expected = "one of " + ", ".join(choices)
    return _simple(lambda v: isinstance(v, str) and v in choices, expected)


def list_of(
    item: Check, length: int | None = None, min_items: int = 0, noun: str = "item"
) -> Check:
    """Check for a list of exactly ``length`` or at least ``min_items`` ``item``s."""
    least = f"at least {min_items} {noun}" + ("" if min_items == 1 else "s")

    def check(value: Any, path: str, known: frozenset[str]) -> list[str]:
        if not isinstance(value, (list, tuple)):
            return [_at(path, f"must be a list, got {_show(value)}")]
        if length is not None and len(value) != length:
            return [_at(path, f"must have exactly {length} items, got {len(value)}")]
        if len(value) < min_items:
            return [_at(path, f"must have {least}, got {len(value)}")]
        return [e for i, v in enumerate(value) for e in item(v, f"{path}[{i}]", known)]

    return check


def mapping_of(value_check: Check) -> Check:
    """Check for an object with non-empty string keys, values passing the check."""

    def check(value: Any, path: str, known: frozenset[str]) -> list[str]:
        if not isinstance(value, dict):
            return [_at(path, f"must be an object, got {_show(value)}")]
        errors = []
        for key, val in value.items():
            if not isinstance(key, str) or not key:
                errors.append(_at(_join(path, key), "keys must be non-empty strings"))
            else:
                errors.extend(value_check(val, _join(path, key), known))
        return errors

    return check


def component_name(value: Any, path: str, known: frozenset[str]) -> list[str]:
    """Check for a known layout component name."""
    if not isinstance(value, str):
        return [_at(path, f"must be a component name, got {_show(value)}")]
    if value in known:
        return []
    if value in NON_LAYOUT_COMPONENT_NAMES:
        return [_at(path, f"'{value}' is not a layout component")]
    return [_at(path, f"unknown component '{value}'")]


def at_least_one_of(*keys: str) -> Check:
    """Check that an object holds at least one of ``keys``."""

    def check(value: dict, path: str, known: frozenset[str]) -> list[str]:
        if any(k in value for k in keys):
            return []
        return [_at(path, "must contain at least one of " + ", ".join(keys))]

    return check


def unique(list_key: str, item_key: str) -> Check:
    """Check that ``item_key`` is unique among the objects in ``list_key``."""

    def check(value: dict, path: str, known: frozenset[str]) -> list[str]:
        items = value.get(list_key)
        seen, errors = set(), []
        for i, item in enumerate(items if isinstance(items, list) else []):
            name = item.get(item_key) if isinstance(item, dict) else None
            if isinstance(name, str) and name in seen:
                where = f"{_join(path, list_key)}[{i}].{item_key}"
                errors.append(_at(where, f"duplicate {item_key} '{name}'"))
            seen.add(name)
        return errors

    return check


@dataclass(frozen=True, eq=False)
class Level:
    """Rule table of one level of the layout."""

    keys: dict[str, Check]
    required: tuple[str, ...] = ()
    open: bool = False  # keys not in the table pass through unchecked
    rules: tuple[Check, ...] = ()  # object-level rules, run after the key checks

    def __call__(self, value: Any, path: str, known: frozenset[str]) -> list[str]:
        """Check an object against this table, in the order of its keys."""
        if not isinstance(value, dict):
            return [_at(path, f"must be an object, got {_show(value)}")]
        errors: list[str] = []
        for key, val in value.items():
            if key in self.keys:
                errors.extend(self.keys[key](val, _join(path, key), known))
            elif not self.open:
                allowed = ", ".join(self.keys)
                message = f"unknown key (allowed: {allowed})"
                errors.append(_at(_join(path, key), message))
        errors.extend(
            _at(_join(path, key), "is required")
            for key in self.required
            if key not in value
        )
        for rule in self.rules:
            errors.extend(rule(value, path, known))
        return errors


VIEWS = ("pie", "bar", "list", "table")
LINE_DISPLAY = one_of("stacked", "overlapping")
WIDTH = integer(1, 16)
HEIGHT = integer(100, 2000)

PROPS = Level(
    open=True,
    keys={
        "title": string(),
        "icon": string(),
        "width": WIDTH,
        "tablet": WIDTH,
        "mobile": WIDTH,
        "height": HEIGHT,
        "minHeight": HEIGHT,
        "maxHeight": string(),
        "chartType": one_of("bar", "line"),
        "maxSeries": integer(1, 50),
        "display_subcounts": mapping_of(
            Level(open=True, keys={"defaultLineDisplay": LINE_DISPLAY})
        ),
        "defaultLineDisplay": LINE_DISPLAY,
        "pageSize": integer(1, 100),
        "default_view": one_of(*VIEWS),
        "available_views": list_of(one_of(*VIEWS)),
        "hideOtherInCharts": BOOLEAN,
        "headers": list_of(string()),
        "zoom": number(1, 20),
        "center": list_of(_simple(_is_number, "a number"), length=2),  # [lon, lat]
        "metric": one_of("views", "downloads", "visitors", "dataVolume"),
        "useSnapshot": BOOLEAN,
        "uniformColorMode": BOOLEAN,
        "compactThreshold": integer(1),
    },
)

COMPONENT = Level(
    keys={
        "component": component_name,
        "width": WIDTH,
        "tablet": WIDTH,
        "mobile": WIDTH,
        "props": PROPS,
    },
    required=("component",),
)

ROW = Level(
    keys={
        "name": string(),
        "components": list_of(COMPONENT, min_items=1, noun="component"),
    },
    required=("name", "components"),
)

TAB = Level(
    keys={
        "name": string(non_empty=True),
        "label": string(non_empty=True),
        "icon": string(),
        "date_range_phrase": string(),
        "date_display": one_of("as_of", "range"),
        "rows": list_of(ROW, min_items=1, noun="row"),
    },
    required=("name", "label", "rows"),
)

DASHBOARD = Level(
    keys={"tabs": list_of(TAB, min_items=1, noun="tab")},
    required=("tabs",),
    rules=(unique("tabs", "name"),),
)

ROOT = Level(
    keys={"global_layout": DASHBOARD, "community_layout": DASHBOARD},
    rules=(at_least_one_of("global_layout", "community_layout"),),
)


def validate_layout(
    value: Any,
    known_components: Iterable[str] | None = None,
    *,
    path: str = "",
) -> list[str]:
    """Validate a layout value; return the problems found (empty when valid).

    :param value: the layout: an object with ``global_layout`` and/or
        ``community_layout``, each holding ``tabs`` → ``rows`` → ``components``.
    :param known_components: the component names to accept. ``None`` means
        :data:`LAYOUT_COMPONENT_NAMES` plus the names of the entry point group
        ``invenio_stats_dashboard.components``.
    :param path: prefix of every message path, e.g. ``"STATS_DASHBOARD_LAYOUT"``.
    :returns: messages in document order, each starting with the path of the
        offending key; missing required keys follow the present keys' problems.
    """
    if known_components is None:
        known = known_component_names()
    else:
        known = frozenset(known_components)
    return ROOT(value, path, known)
