"""Rules for presentation-only variables (07 §1.5).

A broken presentation variable never stops the app: its errors are logged and the
shipped default replaces the whole variable. Two finer rules apply:
reserved ``STATS_DASHBOARD_UI_CONFIG`` keys are dropped one by one, and a
non-callable menu registration function is replaced by None with a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from .primitives import (
    check_bool,
    check_choice,
    check_int,
    check_mapping,
    check_text,
    is_text,
    show,
    unknown,
    where,
)
from .subcounts import SUBCOUNT_NAMES

Config = MutableMapping[str, Any]

GRANULARITIES = ("day", "week", "month", "quarter", "year")
RANGE_OPTION_IDS = (
    "allTime",
    "7days",
    "30days",
    "90days",
    "1week",
    "2weeks",
    "4weeks",
    "8weeks",
    "12weeks",
    "24weeks",
    "currentMonth",
    "1month",
    "3months",
    "6months",
    "12months",
    "currentQuarter",
    "previousQuarter",
    "2quarters",
    "3quarters",
    "4quarters",
    "yearToDate",
    "currentYear",
    "previousYear",
    "2years",
    "3years",
    "4years",
    "5years",
)
"""Period ids the date-range selector knows (07 §2.4)."""

UI_CONFIG_RESERVED_KEYS = frozenset(
    {
        "layout",
        "dashboard_type",
        "dashboard_enabled",
        "dashboard_enabled_global",
        "dashboard_enabled_communities",
        "disabled_message",
        "disabled_message_global",
        "ui_subcounts",
        "default_range_options",
        "use_test_data",
        "compress_json",
        "client_cache_compression_enabled",
        "display_binary_sizes",
        "agg_in_progress",
        "caching_in_progress",
        "first_run_incomplete",
        "api_url",
        "status_url",
        "help_url",
        "search_facets",
        "show_admin_hints",
    }
)
"""Keys the server computes for ``dashboard_config`` (08 §4)."""

UI_SUBCOUNT_KEYS = frozenset(SUBCOUNT_NAMES) | {"file_presence"}
LINE_DISPLAYS = ("stacked", "overlapping")
RECORD_START_BASES = ("added",)

TEXT_VARIABLES = (
    "STATS_DASHBOARD_MENU_TEXT",
    "STATS_DASHBOARD_MENU_ENDPOINT",
    "STATS_DASHBOARD_COMMUNITY_MENU_TEXT",
    "STATS_DASHBOARD_COMMUNITY_MENU_ENDPOINT",
    "STATS_DASHBOARD_DISABLED_MESSAGE_COMMUNITY",
    "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_LABEL",
    "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_DESCRIPTION",
    "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_ICON",
    "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_HELPTEXT",
)
ORDER_VARIABLES = ("STATS_DASHBOARD_MENU_ORDER", "STATS_DASHBOARD_COMMUNITY_MENU_ORDER")
REGISTRATION_FUNCTIONS = (
    "STATS_DASHBOARD_MENU_REGISTRATION_FUNCTION",
    "STATS_DASHBOARD_COMMUNITY_MENU_REGISTRATION_FUNCTION",
)

LAYOUT = "STATS_DASHBOARD_LAYOUT"


def check_layout(value: Any) -> list[str]:
    """Check ``STATS_DASHBOARD_LAYOUT`` with the shared layout schema."""
    errors: list[str] = []
    if not check_mapping(value, LAYOUT, errors):
        return errors
    if "global_layout" not in value:
        errors.append(f"{where(LAYOUT, 'global_layout')}: is required")
    from ..custom_fields.layout_schema import validate_layout

    for message in validate_layout(value):
        if message.startswith("(root)"):
            errors.append(LAYOUT + message[len("(root)") :])
        elif message.startswith("["):
            errors.append(LAYOUT + message)
        else:
            errors.append(f"{LAYOUT}.{message}")
    return errors


def check_ui_config(value: Any, errors: list[str]) -> tuple[Any, list[str]]:
    """Check ``STATS_DASHBOARD_UI_CONFIG``.

    Returns the value without reserved keys, and one message per dropped key.
    Other problems are appended to ``errors``.
    """
    name = "STATS_DASHBOARD_UI_CONFIG"
    if not check_mapping(value, name, errors):
        return value, []
    dropped: list[str] = []
    cleaned: dict[str, Any] = {}
    for dashboard, settings in value.items():
        path = where(name, dashboard)
        if dashboard not in ("global", "community"):
            errors.append(f"{path}: unknown key, expected global or community")
        if not check_mapping(settings, path, errors):
            continue
        kept = {}
        for key, item in settings.items():
            if key in UI_CONFIG_RESERVED_KEYS:
                dropped.append(
                    f"{where(path, key)}: is computed by the server and "
                    f"may not be configured; the key is ignored"
                )
            else:
                kept[key] = item
        _check_dashboard_settings(kept, path, errors)
        cleaned[dashboard] = kept
    return cleaned, dropped


def _check_dashboard_settings(settings: dict, path: str, errors: list[str]) -> None:
    """Check the known keys of one dashboard's UI settings (in place)."""
    for key in ("maxHistoryYears", "max_history_years"):
        if key in settings:
            settings[key] = check_int(settings[key], where(path, key), errors, 1)
    if "default_granularity" in settings:
        check_choice(
            settings["default_granularity"],
            where(path, "default_granularity"),
            errors,
            GRANULARITIES,
        )
    if "default_record_start_basis" in settings:
        check_choice(
            settings["default_record_start_basis"],
            where(path, "default_record_start_basis"),
            errors,
            RECORD_START_BASES,
        )
    for key in ("show_title", "show_description"):
        if key in settings:
            settings[key] = check_bool(settings[key], where(path, key), errors)
    for key in ("title", "description"):
        if key in settings and not is_text(settings[key]):
            errors.append(
                f"{where(path, key)}: must be a string, got {show(settings[key])}"
            )


def check_range_options(
    value: Any, shipped: Mapping[str, str], errors: list[str]
) -> Any:
    """Check ``STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS``; fill missing granularities."""
    name = "STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS"
    if not check_mapping(value, name, errors):
        return value
    for granularity, period in value.items():
        path = where(name, granularity)
        if granularity not in GRANULARITIES:
            errors.append(unknown(path, "granularity", GRANULARITIES))
        elif period not in RANGE_OPTION_IDS:
            errors.append(unknown(path, "period id", RANGE_OPTION_IDS, got=period))
    return {**shipped, **value}


def check_ui_subcounts(value: Any, errors: list[str]) -> None:
    """Check ``STATS_DASHBOARD_UI_SUBCOUNTS`` (07 §4)."""
    name = "STATS_DASHBOARD_UI_SUBCOUNTS"
    if not check_mapping(value, name, errors):
        return
    for key, options in value.items():
        path = where(name, key)
        if key not in UI_SUBCOUNT_KEYS:
            errors.append(unknown(path, "subcount", sorted(UI_SUBCOUNT_KEYS)))
            continue
        if not check_mapping(options, path, errors):
            continue
        if "defaultLineDisplay" in options:
            check_choice(
                options["defaultLineDisplay"],
                where(path, "defaultLineDisplay"),
                errors,
                LINE_DISPLAYS,
            )


def check_texts(config: Config, name: str, errors: list[str]) -> None:
    """Check a menu text, endpoint, order or message variable."""
    value = config.get(name)
    if name in ORDER_VARIABLES:
        config[name] = check_int(value, name, errors)
    elif name == "STATS_DASHBOARD_DISABLED_MESSAGE_GLOBAL":
        check_text(value, name, errors)
        if is_text(value):
            try:
                str(value).format(title="InvenioRDM")
            except (AttributeError, IndexError, KeyError, ValueError) as error:
                errors.append(
                    f"{name}: may contain only the placeholder {{title}} "
                    f"({error!r}), got {show(value)}"
                )
    else:
        check_text(value, name, errors)


def check_registration_function(
    value: Any, name: str
) -> tuple[Callable | None, str | None]:
    """Return the function to use (None for the default) and a warning, if any."""
    if value is None or callable(value):
        return value, None
    return None, (
        f"{name}: must be a callable taking the app or None, got "
        f"{show(value)}; the default registration is used"
    )
