"""Startup validation of the extension's configuration (07 §1.5).

:func:`validate_config` runs once at app initialisation, after the defaults are
set. Data-affecting variables raise
:class:`~invenio_stats_dashboard.errors.ConfigurationError` (one line per problem,
each naming the variable and the path inside it);
presentation-only variables are logged at error level and replaced by their
shipped default. Parsed booleans and converted numbers are written back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping
from copy import deepcopy
from typing import Any

from .. import config as defaults
from ..errors import ConfigurationError
from .data import (
    check_beat,
    check_booleans,
    check_locks,
    check_redis,
    check_registries,
    check_routes,
    check_scalars,
)
from .presentation import (
    ORDER_VARIABLES,
    REGISTRATION_FUNCTIONS,
    TEXT_VARIABLES,
    check_layout,
    check_range_options,
    check_registration_function,
    check_texts,
    check_ui_config,
    check_ui_subcounts,
)
from .primitives import parse_bool
from .registry import check_registry
from .subcounts import DROPPED_KEYS, check_subcounts

__all__ = (
    "DEPRECATED_VARIABLES",
    "parse_bool",
    "validate_config",
    "validate_data_config",
    "validate_presentation_config",
    "warn_deprecated",
)

_logger = logging.getLogger(__name__)

Config = MutableMapping[str, Any]

DEPRECATED_VARIABLES = (
    "COMMUNITY_STATS_WS_OVERHEAD",
    "COMMUNITY_STATS_SCAN_OVERHEAD",
    "COMMUNITY_STATS_BULK_OVERHEAD",
    "COMMUNITY_STATS_DELTA_OVERHEAD",
    "COMMUNITY_STATS_MEM_SAFETY_FACTOR",
    "COMMUNITY_STATS_TOP_GROWTH_FACTOR",
    "COMMUNITY_STATS_TOP_GROWTH_FLOOR_FACTOR",
    "COMMUNITY_STATS_TOP_HARD_CAP_PER_KEY",
    "COMMUNITY_STATS_TOP_DISCOVERY_DECAY",
    "COMMUNITY_STATS_AVG_DELTA_BYTES",
    "COMMUNITY_STATS_INMEMORY_MULTIPLIER",
    "COMMUNITY_STATS_SCAN_SCROLL",
)
"""Accepted and ignored variables (07 §2.5): one warning each when an instance sets
them."""


def _shipped(name: str) -> Any:
    """Return a private copy of the shipped default of ``name``."""
    return deepcopy(getattr(defaults, name))


def warn_deprecated(
    config: Config,
    instance_keys: Iterable[str] | None = None,
    logger: logging.Logger | None = None,
) -> list[str]:
    """Log one warning per deprecated variable the instance set; return their names.

    ``instance_keys`` are the names the instance set explicitly; without it a
    variable counts as set when its value differs from the shipped default.
    """
    log = logger or _logger
    explicit = set(instance_keys) if instance_keys is not None else None
    warned = []
    for name in DEPRECATED_VARIABLES:
        if name not in config:
            continue
        is_set = (
            (name in explicit)
            if explicit is not None
            else (config[name] != getattr(defaults, name))
        )
        if is_set:
            warned.append(name)
            log.warning(
                "%s is deprecated and has no effect: aggregation passes "
                "stream their data and need no memory estimator or scroll "
                "setting. Remove it from the instance configuration.",
                name,
            )
    return warned


def validate_data_config(
    config: Config, logger: logging.Logger | None = None
) -> list[str]:
    """Check the data-affecting variables; return the errors (nothing is raised).

    Dropped subcount keys are removed and logged as one warning per key.
    """
    log = logger or _logger
    errors: list[str] = []
    check_booleans(config, errors)
    check_scalars(config, errors)
    check_redis(config, errors)
    check_locks(config, errors)
    check_registries(config, errors)
    check_beat(config, errors)
    check_routes(config, errors)
    dropped = check_subcounts(config, errors)
    for key in DROPPED_KEYS:
        if key in dropped:
            log.warning(
                "COMMUNITY_STATS_SUBCOUNTS: the key %r has no effect and is "
                "ignored (found at %s); remove it.",
                key,
                ", ".join(dropped[key]),
            )
    return errors


def _fall_back(
    config: Config, name: str, errors: list[str], log: logging.Logger
) -> None:
    """Log each error and replace the variable by its shipped default."""
    for error in errors:
        log.error("%s (the shipped default of %s is used)", error, name)
    config[name] = _shipped(name)


def validate_presentation_config(
    config: Config, logger: logging.Logger | None = None
) -> list[str]:
    """Check the presentation-only variables, falling back to shipped defaults.

    Returns every problem found; each was logged (errors at error level, a bad
    menu registration function at warning level).
    """
    log = logger or _logger
    problems: list[str] = []

    def run(name: str, check: Any) -> None:
        if name not in config:
            return
        errors: list[str] = []
        check(errors)
        if errors:
            _fall_back(config, name, errors, log)
            problems.extend(errors)

    run(
        "STATS_DASHBOARD_LAYOUT",
        lambda errors: errors.extend(check_layout(config["STATS_DASHBOARD_LAYOUT"])),
    )

    if "STATS_DASHBOARD_UI_CONFIG" in config:
        ui_errors: list[str] = []
        cleaned, dropped = check_ui_config(
            config["STATS_DASHBOARD_UI_CONFIG"], ui_errors
        )
        for message in dropped:
            log.error(message)
        problems.extend(dropped)
        config["STATS_DASHBOARD_UI_CONFIG"] = cleaned
        if ui_errors:
            _fall_back(config, "STATS_DASHBOARD_UI_CONFIG", ui_errors, log)
            problems.extend(ui_errors)

    name = "STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS"
    if name in config:
        range_errors: list[str] = []
        merged = check_range_options(
            config[name], getattr(defaults, name), range_errors
        )
        if range_errors:
            _fall_back(config, name, range_errors, log)
            problems.extend(range_errors)
        else:
            config[name] = merged

    run(
        "STATS_DASHBOARD_UI_SUBCOUNTS",
        lambda errors: check_ui_subcounts(
            config["STATS_DASHBOARD_UI_SUBCOUNTS"], errors
        ),
    )
    for text_name in (
        *TEXT_VARIABLES,
        *ORDER_VARIABLES,
        "STATS_DASHBOARD_DISABLED_MESSAGE_GLOBAL",
    ):
        run(text_name, lambda errors, n=text_name: check_texts(config, n, errors))
    for function_name in REGISTRATION_FUNCTIONS:
        if function_name in config:
            function, warning = check_registration_function(
                config[function_name], function_name
            )
            config[function_name] = function
            if warning:
                log.warning(warning)
                problems.append(warning)
    run(
        "STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY",
        lambda errors: errors.extend(
            check_registry(config["STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY"])
        ),
    )
    return problems


def validate_config(
    config: Config,
    *,
    instance_keys: Iterable[str] | None = None,
    logger: logging.Logger | None = None,
) -> list[str]:
    """Validate the extension's configuration in place (07 §1.5).

    :param config: the app config, with the defaults already set.
    :param instance_keys: names the instance set explicitly (for the deprecation
        warnings); None compares values with the shipped defaults instead.
    :param logger: where warnings and presentation errors are logged.
    :returns: the presentation problems, each already logged and replaced by
        the shipped default.
    :raises ConfigurationError: when a data-affecting variable is invalid; the
        message has one line per problem, the first naming the first variable.
    """
    log = logger or _logger
    warn_deprecated(config, instance_keys, log)
    errors = validate_data_config(config, logger=log)
    if errors:
        raise ConfigurationError("\n".join(errors))
    return validate_presentation_config(config, logger=log)
