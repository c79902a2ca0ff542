"""Startup validation (07 §1.4, §1.5, §2.9, §11 #10-#15, §12 C3/C4/C9/C11)."""

import logging
from copy import deepcopy

import pytest

import invenio_stats_dashboard.config as config
from invenio_stats_dashboard.config_validation import (
    parse_bool,
    validate_config,
    warn_deprecated,
)
from invenio_stats_dashboard.errors import ConfigurationError
from invenio_stats_dashboard.redis_urls import (
    agg_registry_redis_url,
    redis_url_db,
    stats_cache_redis_url,
)

BOOL_NAMES = sorted(
    name
    for name in dir(config)
    if name.isupper() and isinstance(getattr(config, name), bool)
)


@pytest.fixture
def cfg():
    """A private copy of every default, as init_config sets them."""
    values = {n: deepcopy(getattr(config, n)) for n in dir(config) if n.isupper()}
    values["CACHE_REDIS_URL"] = "redis://localhost:6379/0"
    return values


def data_error(cfg):
    """Run validation and return the ConfigurationError message lines."""
    with pytest.raises(ConfigurationError) as info:
        validate_config(cfg)
    return str(info.value).splitlines()


# --- booleans (07 §1.4, §11 #15, C11) ---------------------------------------------

TRUE_VALUES = [True, 1, "true", "True", "TRUE", "1", "yes", "Yes", "on", "ON"]
FALSE_VALUES = [False, 0, "false", "False", "FALSE", "0", "no", "No", "off", "OFF"]
BAD_VALUES = ["maybe", "", "2", "y", "enabled", 2, None, 1.0, []]


@pytest.mark.parametrize("value", TRUE_VALUES)
def test_parse_bool_true(value):
    assert parse_bool(value) is True


@pytest.mark.parametrize("value", FALSE_VALUES)
def test_parse_bool_false(value):
    assert parse_bool(value) is False


@pytest.mark.parametrize("value", BAD_VALUES)
def test_parse_bool_rejects(value):
    with pytest.raises(ValueError):
        parse_bool(value)


def test_the_boolean_variables_are_those_of_the_spec():
    assert set(BOOL_NAMES) == {
        "COMMUNITY_STATS_ENABLED",
        "COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED",
        "COMMUNITY_STATS_SCHEDULED_CACHE_TASKS_ENABLED",
        "STATS_DASHBOARD_ENABLED_GLOBAL",
        "STATS_DASHBOARD_ENABLED_COMMUNITY",
        "STATS_DASHBOARD_COMMUNITY_OPT_IN",
        "STATS_DASHBOARD_USE_TEST_DATA",
        "STATS_DASHBOARD_OPTIMIZE_DATA_SERIES",
        "STATS_DASHBOARD_MENU_ENABLED",
        "STATS_DASHBOARD_COMMUNITY_MENU_ENABLED",
        "STATS_DASHBOARD_COMPRESS_JSON",
        "STATS_DASHBOARD_CLIENT_CACHE_COMPRESSION_ENABLED",
    }


@pytest.mark.parametrize("name", BOOL_NAMES)
def test_every_boolean_variable_parses_strings_and_writes_back(cfg, name):
    for text, expected in (
        ("False", False),
        ("yes", True),
        ("OFF", False),
        ("1", True),
    ):
        cfg[name] = text
        validate_config(cfg)
        assert cfg[name] is expected


@pytest.mark.parametrize("name", BOOL_NAMES)
def test_every_boolean_variable_rejects_other_strings(cfg, name):
    cfg[name] = "maybe"
    lines = data_error(cfg)
    assert lines[0].startswith(f"{name}: must be a boolean")
    assert "'maybe'" in lines[0]


def test_false_from_the_environment_means_false(cfg):
    cfg["STATS_DASHBOARD_USE_TEST_DATA"] = "False"
    validate_config(cfg)
    assert cfg["STATS_DASHBOARD_USE_TEST_DATA"] is False


# --- data-affecting rules (C3): each broken once ----------------------------------


def set_path(cfg, path, value):
    *parents, last = path
    target = cfg
    for key in parents:
        target = target[key]
    target[last] = value


DATA_CASES = [
    (
        ("STATS_DASHBOARD_REINDEXING_BATCH_SIZE",),
        20000,
        "STATS_DASHBOARD_REINDEXING_BATCH_SIZE: must be an integer 1-10000, got 20000",
    ),
    (
        ("STATS_DASHBOARD_REINDEXING_BATCH_SIZE",),
        0,
        "STATS_DASHBOARD_REINDEXING_BATCH_SIZE:",
    ),
    (
        ("STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT",),
        101,
        "STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT: must be an integer 1-100",
    ),
    (
        ("STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT",),
        0,
        "STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT:",
    ),
    (
        ("STATS_DASHBOARD_REINDEXING_MAX_BATCHES",),
        -1,
        "STATS_DASHBOARD_REINDEXING_MAX_BATCHES: must be an integer >= 0",
    ),
    (
        ("STATS_DASHBOARD_REINDEXING_MAX_SPOT_CHECK_SAMPLE_SIZE",),
        -1,
        "STATS_DASHBOARD_REINDEXING_MAX_SPOT_CHECK_SAMPLE_SIZE:",
    ),
    (
        ("STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT",),
        0,
        "STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT: must be an integer >= 1",
    ),
    (
        ("COMMUNITY_STATS_CATCHUP_INTERVAL",),
        0,
        "COMMUNITY_STATS_CATCHUP_INTERVAL: must be an integer >= 1, got 0",
    ),
    (
        ("COMMUNITY_STATS_CATCHUP_INTERVAL",),
        "a year",
        "COMMUNITY_STATS_CATCHUP_INTERVAL: must be an integer",
    ),
    (("COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT",), 0, "COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT:"),
    (
        ("COMMUNITY_STATS_FILTER_AGGREGATION_SIZE",),
        0,
        "COMMUNITY_STATS_FILTER_AGGREGATION_SIZE:",
    ),
    (
        ("COMMUNITY_STATS_BULK_INDEX_TIMEOUT",),
        1.5,
        "COMMUNITY_STATS_BULK_INDEX_TIMEOUT:",
    ),
    (
        ("COMMUNITY_STATS_INITIAL_CHUNK_SIZE",),
        500,
        "COMMUNITY_STATS_INITIAL_CHUNK_SIZE: must lie between",
    ),
    (
        ("COMMUNITY_STATS_SCAN_PAGE_SIZE_MIN",),
        1000,
        "COMMUNITY_STATS_SCAN_PAGE_SIZE: must lie between",
    ),
    (("COMMUNITY_STATS_DELTA_BUFFER_SIZE",), 0, "COMMUNITY_STATS_DELTA_BUFFER_SIZE:"),
    (("COMMUNITY_STATS_MEM_BUDGET_BYTES",), -5, "COMMUNITY_STATS_MEM_BUDGET_BYTES:"),
    (
        ("COMMUNITY_STATS_MEM_HIGH_WATER_PERCENT",),
        1.5,
        "COMMUNITY_STATS_MEM_HIGH_WATER_PERCENT: must be a number > 0 and <= 1",
    ),
    (
        ("COMMUNITY_STATS_CHUNK_REDUCTION_FACTOR",),
        0,
        "COMMUNITY_STATS_CHUNK_REDUCTION_FACTOR:",
    ),
    (
        ("COMMUNITY_STATS_CHUNK_GROWTH_FACTOR",),
        0.5,
        "COMMUNITY_STATS_CHUNK_GROWTH_FACTOR:",
    ),
    (("STATS_DATA_SERIES_PAGE_SIZE",), 0, "STATS_DATA_SERIES_PAGE_SIZE:"),
    (
        ("STATS_DATA_SERIES_MEM_HIGH_WATER_PERCENT",),
        0,
        "STATS_DATA_SERIES_MEM_HIGH_WATER_PERCENT:",
    ),
    (("STATS_CACHE_REDIS_DB",), -1, "STATS_CACHE_REDIS_DB:"),
    (("STATS_CACHE_DEFAULT_TTL",), -1, "STATS_CACHE_DEFAULT_TTL:"),
    (("STATS_CACHE_GENERATION_WAIT",), 0, "STATS_CACHE_GENERATION_WAIT:"),
    (("STATS_CACHE_UNIQUE_COUNTS_TTL",), 0, "STATS_CACHE_UNIQUE_COUNTS_TTL:"),
    (("STATS_CACHE_PREFIX",), "", "STATS_CACHE_PREFIX: must be a non-empty string"),
    (("STATS_AGG_REGISTRY_PREFIX",), None, "STATS_AGG_REGISTRY_PREFIX:"),
    (
        ("STATS_CACHE_COMPRESSION_METHOD",),
        "zstd",
        "STATS_CACHE_COMPRESSION_METHOD: must be one of gzip, brotli, none",
    ),
    (("STATS_CACHE_REDIS_URL",), "http://cache:6379", "STATS_CACHE_REDIS_URL:"),
    (("STATS_CACHE_REDIS_URL",), 42, "STATS_CACHE_REDIS_URL:"),
    (("STATS_CACHE_REDIS_URL",), "redis://cache:6379/x", "STATS_CACHE_REDIS_URL:"),
    (("CACHE_REDIS_URL",), "memcached://cache", "CACHE_REDIS_URL:"),
    # same host, same database (07 §2.9)
    (("STATS_CACHE_REDIS_DB",), 8, "STATS_AGG_REGISTRY_REDIS_DB: must differ"),
    (
        ("STATS_CACHE_REDIS_URL",),
        "redis://cache:6379/8",
        "STATS_AGG_REGISTRY_REDIS_DB: must differ",
    ),
    # locks (07 §2.10)
    (
        ("STATS_DASHBOARD_LOCK_CONFIG", "aggregation", "lock_timeout"),
        0,
        "STATS_DASHBOARD_LOCK_CONFIG.aggregation.lock_timeout: must be an integer >= 1",
    ),
    (
        ("STATS_DASHBOARD_LOCK_CONFIG", "response_caching", "lock_name"),
        "",
        "STATS_DASHBOARD_LOCK_CONFIG.response_caching.lock_name:",
    ),
    (
        ("STATS_DASHBOARD_LOCK_CONFIG", "enabled"),
        "maybe",
        "STATS_DASHBOARD_LOCK_CONFIG.enabled: must be a boolean",
    ),
    (
        ("STATS_DASHBOARD_LOCK_CONFIG", "usage_migration", "enabled"),
        "sometimes",
        "STATS_DASHBOARD_LOCK_CONFIG.usage_migration.enabled:",
    ),
    (
        ("STATS_DASHBOARD_LOCK_CONFIG", "indexing"),
        {"enabled": True},
        "STATS_DASHBOARD_LOCK_CONFIG.indexing: unknown lock section",
    ),
    (
        ("STATS_DASHBOARD_LOCK_CONFIG", "community_events", "lock_name"),
        "community_stats_aggregation",
        "STATS_DASHBOARD_LOCK_CONFIG.community_events.lock_name: must differ",
    ),
    # subcounts (07 §3.1)
    (
        ("COMMUNITY_STATS_SUBCOUNTS", "keywords"),
        {},
        "COMMUNITY_STATS_SUBCOUNTS.keywords: unknown subcount name",
    ),
    (
        ("COMMUNITY_STATS_SUBCOUNTS", "user_agents"),
        {},
        "COMMUNITY_STATS_SUBCOUNTS.user_agents: the subcount name is reserved",
    ),
    (
        ("COMMUNITY_STATS_SUBCOUNTS", "languages", "usage_events", "event_field"),
        "colour",
        "COMMUNITY_STATS_SUBCOUNTS.languages.usage_events.event_field: "
        "'colour' is not a mapped event field",
    ),
    (
        ("COMMUNITY_STATS_SUBCOUNTS", "languages", "usage_events", "event_field"),
        None,
        "COMMUNITY_STATS_SUBCOUNTS.languages.usage_events.event_field: None",
    ),
    (
        ("COMMUNITY_STATS_SUBCOUNTS", "languages", "records", "snapshot_type"),
        "some",
        "COMMUNITY_STATS_SUBCOUNTS.languages.records.snapshot_type: must be "
        "one of all, top",
    ),
    (
        ("COMMUNITY_STATS_SUBCOUNTS", "countries", "records"),
        {"source_fields": [{"field": "metadata.country"}]},
        "COMMUNITY_STATS_SUBCOUNTS.countries.records: countries is a usage-only",
    ),
    (
        (
            "COMMUNITY_STATS_SUBCOUNTS",
            "rights",
            "records",
            "source_fields",
            0,
            "label_field",
        ),
        "metadata.rights.title.keyword",
        "COMMUNITY_STATS_SUBCOUNTS.rights.records.source_fields[0].label_field:",
    ),
    (
        ("COMMUNITY_STATS_SUBCOUNTS", "rights", "records", "source_fields", 0, "field"),
        "",
        "COMMUNITY_STATS_SUBCOUNTS.rights.records.source_fields[0].field:",
    ),
    (
        ("COMMUNITY_STATS_SUBCOUNTS", "rights", "records", "sort"),
        "desc",
        "COMMUNITY_STATS_SUBCOUNTS.rights.records.sort: unknown key",
    ),
    (
        (
            "COMMUNITY_STATS_SUBCOUNTS",
            "funders",
            "usage_events",
            "extraction_path_for_event",
        ),
        "invenio_stats_dashboard.usage_events.extraction:no_such_function",
        "COMMUNITY_STATS_SUBCOUNTS.funders.usage_events.extraction_path_for_event:",
    ),
    (
        ("COMMUNITY_STATS_SUBCOUNTS", "funders", "usage_events", "event_field_mapping"),
        "keyword",
        "COMMUNITY_STATS_SUBCOUNTS.funders.usage_events.event_field_mapping:",
    ),
    (
        ("COMMUNITY_STATS_SUBCOUNTS", "funders", "statistics"),
        {},
        "COMMUNITY_STATS_SUBCOUNTS.funders.statistics: unknown key",
    ),
    # aggregations, queries, serializers
    (
        ("COMMUNITY_STATS_AGGREGATIONS", "community-events-agg", "cls"),
        None,
        "COMMUNITY_STATS_AGGREGATIONS.community-events-agg.cls:",
    ),
    (("COMMUNITY_STATS_AGGREGATIONS",), [], "COMMUNITY_STATS_AGGREGATIONS: must be"),
    (
        ("COMMUNITY_STATS_QUERIES", "global-stats"),
        {"cls": "x.Y", "params": {"permission_factory": "x.p"}},
        "COMMUNITY_STATS_QUERIES.global-stats.params.permission_factory:",
    ),
    (
        ("COMMUNITY_STATS_QUERIES", "global-stats"),
        {"params": {}},
        "COMMUNITY_STATS_QUERIES.global-stats.cls:",
    ),
    (
        ("COMMUNITY_STATS_SERIALIZERS", "json"),
        "x:y",
        "COMMUNITY_STATS_SERIALIZERS.json: key must be a MIME type",
    ),
    # beat entries (07 §7.1)
    (
        (
            "COMMUNITY_STATS_CELERYBEAT_AGG_SCHEDULE",
            "stats-aggregate-community-record-stats",
            "schedule",
        ),
        "hourly",
        "COMMUNITY_STATS_CELERYBEAT_AGG_SCHEDULE.stats-aggregate-community-record-"
        "stats.schedule:",
    ),
    (
        (
            "COMMUNITY_STATS_CELERYBEAT_CACHE_SCHEDULE",
            "stats-cache-hourly-generation",
            "task",
        ),
        "",
        "COMMUNITY_STATS_CELERYBEAT_CACHE_SCHEDULE.stats-cache-hourly-generation.task:",
    ),
    # routes and templates
    (
        ("STATS_DASHBOARD_ROUTES", "community"),
        "/communities/<slug>/stats",
        "STATS_DASHBOARD_ROUTES.community: must contain the placeholder <pid_value>",
    ),
    (
        ("STATS_DASHBOARD_ROUTES", "global"),
        "stats",
        "STATS_DASHBOARD_ROUTES.global: must start with '/'",
    ),
    (
        ("STATS_DASHBOARD_API_ROUTES", "stats_series"),
        None,
        "STATS_DASHBOARD_API_ROUTES.stats_series:",
    ),
    (("STATS_DASHBOARD_TEMPLATES", "macro"), "", "STATS_DASHBOARD_TEMPLATES.macro:"),
]


@pytest.mark.parametrize(
    "path, value, expected",
    DATA_CASES,
    ids=[".".join(map(str, c[0])) + "=" + repr(c[1])[:20] for c in DATA_CASES],
)
def test_data_rule_broken_once_raises(cfg, path, value, expected):
    set_path(cfg, path, value)
    lines = data_error(cfg)
    assert lines[0].startswith(expected), lines


def test_a_single_data_error_is_one_line(cfg):
    cfg["STATS_DASHBOARD_REINDEXING_BATCH_SIZE"] = 20000
    assert len(data_error(cfg)) == 1


def test_every_data_error_is_reported(cfg):
    cfg["STATS_DASHBOARD_REINDEXING_BATCH_SIZE"] = 20000
    cfg["COMMUNITY_STATS_CATCHUP_INTERVAL"] = 0
    lines = data_error(cfg)
    assert len(lines) == 2
    assert any(line.startswith("COMMUNITY_STATS_CATCHUP_INTERVAL:") for line in lines)


@pytest.mark.parametrize("value", [1, 10000])
def test_batch_size_bounds_are_accepted(cfg, value):
    cfg["STATS_DASHBOARD_REINDEXING_BATCH_SIZE"] = value
    assert validate_config(cfg) == []


def test_numeric_strings_are_converted(cfg):
    cfg["STATS_DASHBOARD_REINDEXING_BATCH_SIZE"] = "250"
    cfg["COMMUNITY_STATS_MEM_HIGH_WATER_PERCENT"] = "0.5"
    validate_config(cfg)
    assert cfg["STATS_DASHBOARD_REINDEXING_BATCH_SIZE"] == 250
    assert cfg["COMMUNITY_STATS_MEM_HIGH_WATER_PERCENT"] == 0.5


def test_none_is_allowed_where_documented(cfg):
    for name in (
        "COMMUNITY_STATS_DELTA_BUFFER_SIZE",
        "COMMUNITY_STATS_MEM_BUDGET_BYTES",
        "STATS_DATA_SERIES_MEM_BUDGET_BYTES",
        "STATS_CACHE_DEFAULT_TTL",
    ):
        cfg[name] = None
    cfg["STATS_CACHE_DEFAULT_TTL"] = 0
    assert validate_config(cfg) == []


def test_compression_method_is_normalised(cfg):
    cfg["STATS_CACHE_COMPRESSION_METHOD"] = "Brotli"
    validate_config(cfg)
    assert cfg["STATS_CACHE_COMPRESSION_METHOD"] == "brotli"


def test_partial_lock_config_is_completed(cfg):
    cfg["STATS_DASHBOARD_LOCK_CONFIG"] = {"aggregation": {"lock_timeout": 600}}
    validate_config(cfg)
    locks = cfg["STATS_DASHBOARD_LOCK_CONFIG"]
    assert locks["enabled"] is True
    assert locks["aggregation"] == {
        "enabled": True,
        "lock_timeout": 600,
        "lock_name": "community_stats_aggregation",
    }
    assert (
        locks["community_events"]
        == config.STATS_DASHBOARD_LOCK_CONFIG["community_events"]
    )


def test_unmapped_event_field_with_a_mapping_is_accepted(cfg):
    cfg["COMMUNITY_STATS_SUBCOUNTS"]["languages"]["usage_events"].update(
        event_field="language_codes", event_field_mapping={"type": "keyword"}
    )
    assert validate_config(cfg) == []


def test_subcount_sides_may_be_empty(cfg):
    cfg["COMMUNITY_STATS_SUBCOUNTS"]["rights"] = {"records": {}}
    cfg["COMMUNITY_STATS_SUBCOUNTS"]["subjects"]["usage_events"] = {
        "event_field": "subjects",
        "extraction_path_for_event": "metadata.subjects",
        "snapshot_type": "top",
        "source_fields": [{"field": "subjects.id", "label_field": "subjects.subject"}],
    }
    assert validate_config(cfg) == []


def test_dropped_subcount_keys_warn_once_per_key(cfg, caplog):
    """§11 #13: the original's inert keys load, with one warning per key."""
    subcounts = cfg["COMMUNITY_STATS_SUBCOUNTS"]
    expected = deepcopy(subcounts)
    subcounts["languages"]["usage_events"]["field_type"] = "keyword"
    subcounts["rights"]["usage_events"]["field_type"] = "keyword"
    subcounts["file_types"]["records"]["with_files_only"] = True
    subcounts["funders"]["delta_aggregation_name"] = "funders-delta"
    with caplog.at_level(logging.WARNING):
        assert validate_config(cfg) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    for key in ("field_type", "with_files_only", "delta_aggregation_name"):
        assert sum(key in message for message in warnings) == 1
    assert cfg["COMMUNITY_STATS_SUBCOUNTS"] == expected


# --- deprecated variables (07 §2.5, §11 #18) ----------------------------------------


def test_deprecated_variable_set_by_the_instance_warns_once(cfg, caplog):
    with caplog.at_level(logging.WARNING):
        validate_config(
            cfg, instance_keys={"COMMUNITY_STATS_SCAN_SCROLL", "STATS_CACHE_PREFIX"}
        )
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "COMMUNITY_STATS_SCAN_SCROLL" in messages[0]


def test_deprecated_variables_are_found_by_value_without_instance_keys(cfg, caplog):
    cfg["COMMUNITY_STATS_WS_OVERHEAD"] = 2.0
    cfg["COMMUNITY_STATS_TOP_HARD_CAP_PER_KEY"] = 5
    with caplog.at_level(logging.WARNING):
        warned = warn_deprecated(cfg)
    assert warned == [
        "COMMUNITY_STATS_WS_OVERHEAD",
        "COMMUNITY_STATS_TOP_HARD_CAP_PER_KEY",
    ]
    assert len(caplog.records) == 2


def test_defaults_trigger_no_deprecation_warning(cfg, caplog):
    with caplog.at_level(logging.WARNING):
        assert warn_deprecated(cfg) == []
    assert not caplog.records


# --- presentation rules (C4): each broken once logs and falls back ----------------


def presentation(cfg, caplog):
    """Validate, returning the problems and the error-level log messages."""
    with caplog.at_level(logging.WARNING):
        problems = validate_config(cfg)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    return problems, errors


def test_layout_width_17_logs_the_full_path_and_serves_the_default(cfg, caplog):
    """§11 #14."""
    tabs = cfg["STATS_DASHBOARD_LAYOUT"]["global_layout"]["tabs"]
    tabs[1]["rows"][0]["components"][2]["width"] = 17
    problems, errors = presentation(cfg, caplog)
    path = "STATS_DASHBOARD_LAYOUT.global_layout.tabs[1].rows[0].components[2].width"
    assert len(problems) == 1 and problems[0].startswith(path)
    assert "17" in problems[0]
    assert len(errors) == 1 and errors[0].startswith(path)
    assert cfg["STATS_DASHBOARD_LAYOUT"] == config.STATS_DASHBOARD_LAYOUT
    assert cfg["STATS_DASHBOARD_LAYOUT"] is not config.STATS_DASHBOARD_LAYOUT


def test_layout_without_global_layout_falls_back(cfg, caplog):
    cfg["STATS_DASHBOARD_LAYOUT"] = {
        "community_layout": config.STATS_DASHBOARD_LAYOUT["global_layout"]
    }
    problems, errors = presentation(cfg, caplog)
    assert problems[0].startswith("STATS_DASHBOARD_LAYOUT.global_layout: is required")
    assert errors
    assert list(cfg["STATS_DASHBOARD_LAYOUT"]) == ["global_layout"]


def test_layout_with_an_unknown_component_falls_back(cfg, caplog):
    row = cfg["STATS_DASHBOARD_LAYOUT"]["global_layout"]["tabs"][0]["rows"][2]
    row["components"][0]["component"] = "TopReferrersMultiDisplay"
    problems, _ = presentation(cfg, caplog)
    assert problems[0].startswith(
        "STATS_DASHBOARD_LAYOUT.global_layout.tabs[0].rows[2].components[0].component"
    )
    assert cfg["STATS_DASHBOARD_LAYOUT"] == config.STATS_DASHBOARD_LAYOUT


def test_reserved_ui_config_keys_are_dropped_with_an_error(cfg, caplog):
    """§11 #10: the page keeps the real layout; the log names the key."""
    cfg["STATS_DASHBOARD_UI_CONFIG"]["global"]["layout"] = {}
    cfg["STATS_DASHBOARD_UI_CONFIG"]["community"]["dashboard_enabled"] = True
    cfg["STATS_DASHBOARD_UI_CONFIG"]["global"]["title"] = "Our numbers"
    problems, errors = presentation(cfg, caplog)
    assert len(problems) == 2
    assert any(e.startswith("STATS_DASHBOARD_UI_CONFIG.global.layout") for e in errors)
    assert any(
        e.startswith("STATS_DASHBOARD_UI_CONFIG.community.dashboard_enabled")
        for e in errors
    )
    ui = cfg["STATS_DASHBOARD_UI_CONFIG"]
    assert "layout" not in ui["global"]
    assert "dashboard_enabled" not in ui["community"]
    assert ui["global"]["title"] == "Our numbers"


@pytest.mark.parametrize(
    "key, value",
    [
        ("default_granularity", "hour"),
        ("maxHistoryYears", 0),
        ("default_record_start_basis", "published"),
        ("show_title", "maybe"),
    ],
)
def test_bad_ui_config_falls_back_to_the_default(cfg, caplog, key, value):
    cfg["STATS_DASHBOARD_UI_CONFIG"]["global"][key] = value
    problems, errors = presentation(cfg, caplog)
    assert problems[0].startswith(f"STATS_DASHBOARD_UI_CONFIG.global.{key}:")
    assert errors[0].startswith(f"STATS_DASHBOARD_UI_CONFIG.global.{key}:")
    assert cfg["STATS_DASHBOARD_UI_CONFIG"] == config.STATS_DASHBOARD_UI_CONFIG


def test_ui_config_show_title_string_is_parsed(cfg):
    cfg["STATS_DASHBOARD_UI_CONFIG"]["global"]["show_title"] = "yes"
    assert validate_config(cfg) == []
    assert cfg["STATS_DASHBOARD_UI_CONFIG"]["global"]["show_title"] is True


@pytest.mark.parametrize(
    "options, path",
    [
        ({"day": "fortnight"}, "STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS.day:"),
        ({"hour": "7days"}, "STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS.hour:"),
        ("30days", "STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS:"),
    ],
)
def test_bad_range_option_falls_back(cfg, caplog, options, path):
    cfg["STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS"] = options
    problems, errors = presentation(cfg, caplog)
    assert problems[0].startswith(path) and errors[0].startswith(path)
    assert (
        cfg["STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS"]
        == config.STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS
    )


def test_partial_range_options_keep_the_other_defaults(cfg):
    cfg["STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS"] = {"day": "7days"}
    assert validate_config(cfg) == []
    assert cfg["STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS"] == {
        **config.STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS,
        "day": "7days",
    }


@pytest.mark.parametrize(
    "value, path",
    [
        ({"keywords": {}}, "STATS_DASHBOARD_UI_SUBCOUNTS.keywords:"),
        ({"user_agents": {}}, "STATS_DASHBOARD_UI_SUBCOUNTS.user_agents:"),
        (
            {"languages": {"defaultLineDisplay": "spread"}},
            "STATS_DASHBOARD_UI_SUBCOUNTS.languages.defaultLineDisplay:",
        ),
        ({"languages": []}, "STATS_DASHBOARD_UI_SUBCOUNTS.languages:"),
    ],
)
def test_bad_ui_subcounts_fall_back(cfg, caplog, value, path):
    cfg["STATS_DASHBOARD_UI_SUBCOUNTS"] = value
    problems, errors = presentation(cfg, caplog)
    assert problems[0].startswith(path) and errors[0].startswith(path)
    assert cfg["STATS_DASHBOARD_UI_SUBCOUNTS"] == config.STATS_DASHBOARD_UI_SUBCOUNTS


def test_ui_subcounts_subset_with_option_is_accepted(cfg):
    cfg["STATS_DASHBOARD_UI_SUBCOUNTS"] = {
        "file_presence": {},
        "countries": {"defaultLineDisplay": "stacked"},
    }
    assert validate_config(cfg) == []


@pytest.mark.parametrize(
    "name, value",
    [
        ("STATS_DASHBOARD_MENU_TEXT", ""),
        ("STATS_DASHBOARD_COMMUNITY_MENU_TEXT", 12),
        ("STATS_DASHBOARD_MENU_ORDER", "first"),
        ("STATS_DASHBOARD_COMMUNITY_MENU_ENDPOINT", None),
        ("STATS_DASHBOARD_DISABLED_MESSAGE_GLOBAL", "Ask the {site} admins."),
        ("STATS_DASHBOARD_DISABLED_MESSAGE_COMMUNITY", ""),
        ("STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_LABEL", None),
        ("STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_ICON", ""),
    ],
)
def test_bad_menu_or_message_falls_back(cfg, caplog, name, value):
    cfg[name] = value
    problems, errors = presentation(cfg, caplog)
    assert problems[0].startswith(f"{name}:") and errors[0].startswith(f"{name}:")
    assert str(cfg[name]) == str(getattr(config, name))


@pytest.mark.parametrize(
    "name",
    [
        "STATS_DASHBOARD_MENU_REGISTRATION_FUNCTION",
        "STATS_DASHBOARD_COMMUNITY_MENU_REGISTRATION_FUNCTION",
    ],
)
def test_non_callable_menu_registration_warns_and_is_ignored(cfg, caplog, name):
    cfg[name] = "my_site.menus:register"
    with caplog.at_level(logging.WARNING):
        problems = validate_config(cfg)
    assert problems[0].startswith(f"{name}:")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].getMessage().startswith(f"{name}:")
    assert cfg[name] is None


def test_callable_menu_registration_is_kept(cfg):
    def register(app):
        return None

    cfg["STATS_DASHBOARD_MENU_REGISTRATION_FUNCTION"] = register
    assert validate_config(cfg) == []
    assert cfg["STATS_DASHBOARD_MENU_REGISTRATION_FUNCTION"] is register


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (
            ("record_counts",),
            {},
            "STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY.record_counts:",
        ),
        (
            ("usage_deltas", "global", "records"),
            ["TrafficStatsChart"],
            "STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY.usage_deltas.global.records: "
            "unknown metric",
        ),
        (
            ("usage_deltas", "global", "views"),
            ["TopReferrersMultiDisplay"],
            "STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY.usage_deltas.global.views[0]: "
            "unknown component",
        ),
        (
            ("record_deltas", "global", "records"),
            "ContentStatsChart",
            "STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY.record_deltas.global.records:",
        ),
    ],
)
def test_bad_registry_falls_back(cfg, caplog, path, value, expected):
    set_path(cfg["STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY"], path, value)
    problems, errors = presentation(cfg, caplog)
    assert problems[0].startswith(expected) and errors[0].startswith(expected)
    assert (
        cfg["STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY"]
        == config.STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY
    )


def test_registry_override_with_an_extra_entry_is_kept(cfg):
    """§11 #2: an override adding SingleStatViews under view_visitors is valid."""
    registry = cfg["STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY"]
    registry["usage_deltas"]["global"]["view_visitors"] = ["SingleStatViews"]
    assert validate_config(cfg) == []
    assert cfg["STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY"] is registry


def test_presentation_errors_never_raise(cfg):
    cfg["STATS_DASHBOARD_LAYOUT"] = "none"
    cfg["STATS_DASHBOARD_UI_SUBCOUNTS"] = {"keywords": {}}
    cfg["STATS_DASHBOARD_MENU_TEXT"] = ""
    assert len(validate_config(cfg)) == 3


def test_a_data_error_wins_over_presentation_errors(cfg):
    cfg["STATS_DASHBOARD_LAYOUT"] = "none"
    cfg["STATS_CACHE_REDIS_DB"] = 8
    lines = data_error(cfg)
    assert lines == [line for line in lines if not line.startswith("STATS_DASHBOARD_L")]


# --- Redis URLs (07 §2.9, §11 #11, #12, C9) -----------------------------------------


def redis_config(url=None, base="unset", cache_db=7, registry_db=8):
    values = {
        "STATS_CACHE_REDIS_URL": url,
        "STATS_CACHE_REDIS_DB": cache_db,
        "STATS_AGG_REGISTRY_REDIS_DB": registry_db,
    }
    if base != "unset":
        values["CACHE_REDIS_URL"] = base
    return values


@pytest.mark.parametrize(
    "base, cache, registry",
    [
        ("unset", "redis://localhost:6379/7", "redis://localhost:6379/8"),
        (None, "redis://localhost:6379/7", "redis://localhost:6379/8"),
        ("", "redis://localhost:6379/7", "redis://localhost:6379/8"),
        ("redis://h:6379", "redis://h:6379/7", "redis://h:6379/8"),
        ("redis://h:6379/0", "redis://h:6379/7", "redis://h:6379/8"),
        ("rediss://u:p@h:6380/2", "rediss://u:p@h:6380/7", "rediss://u:p@h:6380/8"),
    ],
)
def test_unset_cache_url_derives_from_cache_redis_url(base, cache, registry):
    for unset in (None, "", "None"):
        values = redis_config(unset, base)
        assert stats_cache_redis_url(values) == cache
        assert agg_registry_redis_url(values) == registry


@pytest.mark.parametrize(
    "url, cache, registry",
    [
        ("redis://h:6379", "redis://h:6379/7", "redis://h:6379/8"),
        ("redis://h:6379/", "redis://h:6379/7", "redis://h:6379/8"),
        ("redis://h:6379/0", "redis://h:6379/0", "redis://h:6379/8"),
        ("rediss://u:p@h:6380/2", "rediss://u:p@h:6380/2", "rediss://u:p@h:6380/8"),
        (
            "redis://h:6379/3?health_check_interval=5",
            "redis://h:6379/3?health_check_interval=5",
            "redis://h:6379/8?health_check_interval=5",
        ),
        (
            "unix:///run/redis.sock",
            "unix:///run/redis.sock?db=7",
            "unix:///run/redis.sock?db=8",
        ),
    ],
)
def test_explicit_cache_url(url, cache, registry):
    values = redis_config(url, "redis://localhost:6379/0")
    assert stats_cache_redis_url(values) == cache
    assert agg_registry_redis_url(values) == registry


def test_set_url_gives_the_registry_its_own_db():
    """§11 #12: cache DB 7, registry DB 8, on the cache URL's host."""
    values = redis_config("redis://cache:6379", "redis://other:6379/0")
    assert redis_url_db(stats_cache_redis_url(values)) == 7
    assert redis_url_db(agg_registry_redis_url(values)) == 8
    assert agg_registry_redis_url(values).startswith("redis://cache:6379/")


def test_the_string_none_from_invenio_cfg_is_unset(cfg):
    """§11 #11: ``None`` written as text never becomes a host."""
    cfg["STATS_CACHE_REDIS_URL"] = "None"
    cfg["CACHE_REDIS_URL"] = "redis://cache:6379/0"
    assert validate_config(cfg) == []
    assert stats_cache_redis_url(cfg) == "redis://cache:6379/7"


def test_other_databases_are_accepted(cfg):
    cfg["STATS_CACHE_REDIS_DB"] = 3
    cfg["STATS_AGG_REGISTRY_REDIS_DB"] = 4
    assert validate_config(cfg) == []
