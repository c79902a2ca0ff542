"""Rules for data-affecting variables (07 §1.5): any error stops the app.

Each ``check_*`` function appends error messages to a list and may write a
normalised value (a parsed boolean, a converted number) back into the config.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, MutableMapping
from copy import deepcopy
from datetime import timedelta
from typing import Any

from .. import config as defaults
from ..redis_urls import (
    agg_registry_redis_url,
    redis_location,
    redis_url_db,
    stats_cache_redis_url,
)
from .primitives import (
    check_bool,
    check_choice,
    check_int,
    check_mapping,
    check_number,
    check_text,
    is_number,
    is_text,
    show,
    where,
)

Config = MutableMapping[str, Any]

# name -> (minimum, maximum, None allowed)
INT_RULES: dict[str, tuple[int | None, int | None, bool]] = {
    "COMMUNITY_STATS_CATCHUP_INTERVAL": (1, None, False),
    "COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT": (1, None, False),
    "COMMUNITY_STATS_FILTER_AGGREGATION_SIZE": (1, None, False),
    "COMMUNITY_STATS_INITIAL_CHUNK_SIZE": (1, None, False),
    "COMMUNITY_STATS_MIN_CHUNK_SIZE": (1, None, False),
    "COMMUNITY_STATS_MAX_CHUNK_SIZE": (1, None, False),
    "COMMUNITY_STATS_BULK_INDEX_TIMEOUT": (1, None, False),
    "COMMUNITY_STATS_SCAN_PAGE_SIZE": (1, None, False),
    "COMMUNITY_STATS_SCAN_PAGE_SIZE_MIN": (1, None, False),
    "COMMUNITY_STATS_SCAN_PAGE_SIZE_MAX": (1, None, False),
    "COMMUNITY_STATS_DELTA_BUFFER_SIZE": (1, None, True),
    "COMMUNITY_STATS_MEM_BUDGET_BYTES": (1, None, True),
    "STATS_DATA_SERIES_PAGE_SIZE": (1, None, False),
    "STATS_DATA_SERIES_PAGE_SIZE_MIN": (1, None, False),
    "STATS_DATA_SERIES_PAGE_SIZE_MAX": (1, None, False),
    "STATS_DATA_SERIES_MEM_BUDGET_BYTES": (0, None, True),
    "STATS_DATA_SERIES_BYTES_PER_DATAPOINT": (1, None, False),
    "STATS_DATA_SERIES_AVG_DOC_BYTES": (1, None, False),
    "STATS_DASHBOARD_REINDEXING_MAX_BATCHES": (0, None, False),
    "STATS_DASHBOARD_REINDEXING_BATCH_SIZE": (1, 10000, False),
    "STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT": (1, 100, False),
    "STATS_DASHBOARD_REINDEXING_MAX_SPOT_CHECK_SAMPLE_SIZE": (0, None, False),
    "STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT": (1, None, False),
    "STATS_CACHE_REDIS_DB": (0, None, False),
    "STATS_CACHE_DEFAULT_TTL": (0, None, True),
    "STATS_CACHE_GENERATION_WAIT": (1, None, False),
    "STATS_CACHE_UNIQUE_COUNTS_TTL": (1, None, False),
    "STATS_AGG_REGISTRY_REDIS_DB": (0, None, False),
}
"""Integer variables and their allowed ranges."""

# name -> (minimum, maximum, minimum excluded)
NUMBER_RULES: dict[str, tuple[float | None, float | None, bool]] = {
    "COMMUNITY_STATS_CHUNK_REDUCTION_FACTOR": (0, 1, True),
    "COMMUNITY_STATS_CHUNK_GROWTH_FACTOR": (1, None, False),
    "COMMUNITY_STATS_MEM_HIGH_WATER_PERCENT": (0, 1, True),
    "STATS_DATA_SERIES_MEM_HIGH_WATER_PERCENT": (0, 1, True),
    "STATS_DATA_SERIES_PAGE_OVERHEAD": (0, None, True),
    "STATS_DATA_SERIES_SERIES_OVERHEAD": (0, None, True),
    "STATS_DATA_SERIES_MEM_SAFETY_FACTOR": (0, None, True),
    "STATS_DATA_SERIES_INMEMORY_MULTIPLIER": (0, None, True),
}
"""Float variables and their allowed ranges."""

# (minimum variable, value variable, maximum variable)
ORDER_RULES = (
    (
        "COMMUNITY_STATS_MIN_CHUNK_SIZE",
        "COMMUNITY_STATS_INITIAL_CHUNK_SIZE",
        "COMMUNITY_STATS_MAX_CHUNK_SIZE",
    ),
    (
        "COMMUNITY_STATS_SCAN_PAGE_SIZE_MIN",
        "COMMUNITY_STATS_SCAN_PAGE_SIZE",
        "COMMUNITY_STATS_SCAN_PAGE_SIZE_MAX",
    ),
    (
        "STATS_DATA_SERIES_PAGE_SIZE_MIN",
        "STATS_DATA_SERIES_PAGE_SIZE",
        "STATS_DATA_SERIES_PAGE_SIZE_MAX",
    ),
)
"""Adaptive sizes whose start must lie between their minimum and maximum."""

TEXT_VARIABLES = ("STATS_CACHE_PREFIX", "STATS_AGG_REGISTRY_PREFIX")
COMPRESSION_METHODS = ("gzip", "brotli", "none")
LOCK_SECTIONS = (
    "aggregation",
    "response_caching",
    "usage_migration",
    "community_events",
)
PID_VALUE_PLACEHOLDER = re.compile(r"<(?:[A-Za-z_]+(?:\([^)]*\))?:)?pid_value>")


def bool_variables() -> list[str]:
    """Return the names of the boolean variables of the config module."""
    return sorted(
        name
        for name in dir(defaults)
        if name.isupper() and isinstance(getattr(defaults, name), bool)
    )


def check_booleans(config: Config, errors: list[str]) -> None:
    """Parse every boolean variable strictly and write the parsed value back."""
    for name in bool_variables():
        if name in config:
            config[name] = check_bool(config[name], name, errors)


def check_scalars(config: Config, errors: list[str]) -> None:
    """Check the integer, float, text and choice variables and their ordering."""
    for name, (low, high, allow_none) in INT_RULES.items():
        if name in config:
            config[name] = check_int(config[name], name, errors, low, high, allow_none)
    for name, (lower, upper, exclusive) in NUMBER_RULES.items():
        if name in config:
            config[name] = check_number(
                config[name], name, errors, lower, upper, exclusive
            )
    for name in TEXT_VARIABLES:
        if name in config:
            check_text(config[name], name, errors)
    method = config.get("STATS_CACHE_COMPRESSION_METHOD", "gzip")
    if isinstance(method, str):
        method = method.strip().lower()
        config["STATS_CACHE_COMPRESSION_METHOD"] = method
    check_choice(method, "STATS_CACHE_COMPRESSION_METHOD", errors, COMPRESSION_METHODS)
    for low_name, name, high_name in ORDER_RULES:
        values = [config.get(n) for n in (low_name, name, high_name)]
        if all(is_number(v) for v in values) and not (
            values[0] <= values[1] <= values[2]  # type: ignore[operator]
        ):
            errors.append(
                f"{name}: must lie between {low_name} ({values[0]}) and "
                f"{high_name} ({values[2]}), got {values[1]}"
            )


def check_redis(config: Config, errors: list[str]) -> None:
    """Check the Redis URLs and that cache and registry never share a database."""
    url = config.get("STATS_CACHE_REDIS_URL")
    if url is not None and not isinstance(url, str):
        errors.append(
            f"STATS_CACHE_REDIS_URL: must be a Redis URL or None, got {show(url)}"
        )
        return
    dbs = [
        config.get(n) for n in ("STATS_CACHE_REDIS_DB", "STATS_AGG_REGISTRY_REDIS_DB")
    ]
    if not all(
        isinstance(db, int) and not isinstance(db, bool) and db >= 0 for db in dbs
    ):
        return  # already reported by check_scalars
    try:
        cache_url = stats_cache_redis_url(config)
        registry_url = agg_registry_redis_url(config)
        cache_db, registry_db = redis_url_db(cache_url), redis_url_db(registry_url)
    except ValueError as error:
        source = "STATS_CACHE_REDIS_URL" if url and url.strip() else "CACHE_REDIS_URL"
        errors.append(f"{source}: {error}")
        return
    if redis_location(cache_url) == redis_location(registry_url) and (
        cache_db == registry_db
    ):
        errors.append(
            f"STATS_AGG_REGISTRY_REDIS_DB: must differ from the response-cache "
            f"database on the same Redis host ({cache_url}), got {registry_db}"
        )


def check_locks(config: Config, errors: list[str]) -> None:
    """Check the lock sections, filling missing sections and keys from defaults."""
    name = "STATS_DASHBOARD_LOCK_CONFIG"
    value = config.get(name, {})
    if not check_mapping(value, name, errors):
        return
    shipped: dict[str, Any] = defaults.STATS_DASHBOARD_LOCK_CONFIG
    merged: dict[str, Any] = {"enabled": value.get("enabled", True)}
    merged["enabled"] = check_bool(merged["enabled"], where(name, "enabled"), errors)
    for key in value:
        if key != "enabled" and key not in LOCK_SECTIONS:
            errors.append(
                f"{where(name, key)}: unknown lock section, expected one "
                f"of {', '.join(LOCK_SECTIONS)}"
            )
    lock_names: dict[str, str] = {}
    for section in LOCK_SECTIONS:
        given = value.get(section, {})
        path = where(name, section)
        if not check_mapping(given, path, errors):
            continue
        entry = {**deepcopy(shipped[section]), **given}
        for key in entry:
            if key not in ("enabled", "lock_name", "lock_timeout"):
                errors.append(
                    f"{where(path, key)}: unknown key, expected enabled, "
                    f"lock_name or lock_timeout"
                )
        entry["enabled"] = check_bool(entry["enabled"], where(path, "enabled"), errors)
        check_text(entry["lock_name"], where(path, "lock_name"), errors)
        entry["lock_timeout"] = check_int(
            entry["lock_timeout"], where(path, "lock_timeout"), errors, 1
        )
        lock = entry["lock_name"]
        if isinstance(lock, str) and lock in lock_names:
            errors.append(
                f"{where(path, 'lock_name')}: must differ from the lock of "
                f"{lock_names[lock]}, got {show(lock)}"
            )
        elif isinstance(lock, str):
            lock_names[lock] = section
        merged[section] = entry
    config[name] = merged


def _check_registry_entry(
    entry: Any, path: str, errors: list[str], extra_keys: tuple[str, ...] = ()
) -> Mapping | None:
    """Check an invenio-stats registry entry: a dict with ``cls``, or a factory."""
    if callable(entry) or (is_text(entry) and str(entry).strip()):
        return None  # an import string or a callable taking the app
    if not check_mapping(entry, path, errors):
        return None
    cls = entry.get("cls")
    if not (callable(cls) or (isinstance(cls, str) and cls.strip())):
        errors.append(
            f"{where(path, 'cls')}: must be a class or an import "
            f"string, got {show(cls)}"
        )
    params = entry.get("params", {})
    if params is not None:
        check_mapping(params, where(path, "params"), errors)
    for key in entry:
        if key not in ("cls", "params", *extra_keys):
            errors.append(f"{where(path, key)}: unknown key")
    return entry


def check_registries(config: Config, errors: list[str]) -> None:
    """Check ``COMMUNITY_STATS_AGGREGATIONS``, ``_QUERIES`` and ``_SERIALIZERS``."""
    name = "COMMUNITY_STATS_AGGREGATIONS"
    if check_mapping(config.get(name, {}), name, errors):
        for agg, entry in config.get(name, {}).items():
            entry = _check_registry_entry(
                entry, where(name, agg), errors, ("templates",)
            )
            templates = entry.get("templates") if entry else None
            if templates is not None and not isinstance(templates, str):
                errors.append(
                    f"{where(name, agg, 'templates')}: must be an import "
                    f"path string, got {show(templates)}"
                )
    name = "COMMUNITY_STATS_QUERIES"
    if check_mapping(config.get(name, {}), name, errors):
        for query, entry in config.get(name, {}).items():
            entry = _check_registry_entry(
                entry, where(name, query), errors, ("permission_factory",)
            )
            params = entry.get("params") if entry else None
            if isinstance(params, Mapping) and "permission_factory" in params:
                errors.append(
                    f"{where(name, query, 'params', 'permission_factory')}"
                    f": must be a key of the entry, not of its params"
                )
    name = "COMMUNITY_STATS_SERIALIZERS"
    if check_mapping(config.get(name, {}), name, errors):
        for mime, serializer in config.get(name, {}).items():
            if not (isinstance(mime, str) and "/" in mime):
                errors.append(f"{where(name, mime)}: key must be a MIME type")
            if not (callable(serializer) or isinstance(serializer, str)):
                errors.append(
                    f"{where(name, mime)}: must be a callable or an "
                    f"import string, got {show(serializer)}"
                )


def _is_schedule(value: Any) -> bool:
    """Return True for a Celery schedule, a timedelta or a positive interval."""
    if isinstance(value, timedelta) or hasattr(value, "is_due"):
        return True
    return is_number(value) and value > 0


def check_beat(config: Config, errors: list[str]) -> None:
    """Check the two beat-entry variables (07 §7.1)."""
    for name in (
        "COMMUNITY_STATS_CELERYBEAT_AGG_SCHEDULE",
        "COMMUNITY_STATS_CELERYBEAT_CACHE_SCHEDULE",
    ):
        value = config.get(name, {})
        if not check_mapping(value, name, errors):
            continue
        for key, entry in value.items():
            path = where(name, key)
            if not check_mapping(entry, path, errors):
                continue
            check_text(entry.get("task"), where(path, "task"), errors)
            if not _is_schedule(entry.get("schedule")):
                errors.append(
                    f"{where(path, 'schedule')}: must be a Celery schedule "
                    f"such as crontab(minute=40), got "
                    f"{show(entry.get('schedule'))}"
                )
            checks: dict[str, Callable[[Any], bool]] = {
                "args": lambda v: isinstance(v, (list, tuple)),
                "kwargs": lambda v: isinstance(v, Mapping),
                "options": lambda v: isinstance(v, Mapping),
            }
            for key_name, ok in checks.items():
                if key_name in entry and not ok(entry[key_name]):
                    errors.append(
                        f"{where(path, key_name)}: has the wrong type, "
                        f"got {show(entry[key_name])}"
                    )


def check_routes(config: Config, errors: list[str]) -> None:
    """Check the UI and API routes and the page templates."""
    required = {
        "STATS_DASHBOARD_ROUTES": ("global", "community"),
        "STATS_DASHBOARD_API_ROUTES": ("stats_series",),
        "STATS_DASHBOARD_TEMPLATES": ("macro", "global", "community"),
    }
    for name, keys in required.items():
        value = config.get(name, {})
        if not check_mapping(value, name, errors):
            continue
        for key in keys:
            item = value.get(key)
            check_text(item, where(name, key), errors)
            if (
                name != "STATS_DASHBOARD_TEMPLATES"
                and isinstance(item, str)
                and (not item.startswith("/"))
            ):
                errors.append(
                    f"{where(name, key)}: must start with '/', got {show(item)}"
                )
    community = config.get("STATS_DASHBOARD_ROUTES", {})
    community = community.get("community") if isinstance(community, Mapping) else None
    if isinstance(community, str) and not PID_VALUE_PLACEHOLDER.search(community):
        errors.append(
            f"STATS_DASHBOARD_ROUTES.community: must contain the "
            f"placeholder <pid_value>, got {show(community)}"
        )
