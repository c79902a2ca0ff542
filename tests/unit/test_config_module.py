"""The config module: every variable of 07 §2-§7, docstrings, and docs parity (§11 #25).

The expected values below are transcribed from the spec, not from the module.
"""

import ast
import re
from copy import deepcopy
from pathlib import Path

import pytest
from celery.schedules import crontab
from flask_babel.speaklater import LazyString

import invenio_stats_dashboard.config as config

ROOT = Path(__file__).resolve().parents[2]
CONFIG_PY = ROOT / "invenio_stats_dashboard" / "config.py"
DOCS = ROOT / "docs" / "configuration.md"


class Lazy(str):
    """Marker for an expected lazily translated string."""


SCALARS = {
    # 2.1 feature switches
    "COMMUNITY_STATS_ENABLED": True,
    "COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED": False,
    "COMMUNITY_STATS_SCHEDULED_CACHE_TASKS_ENABLED": False,
    "STATS_DASHBOARD_ENABLED_GLOBAL": False,
    "STATS_DASHBOARD_ENABLED_COMMUNITY": False,
    "STATS_DASHBOARD_COMMUNITY_OPT_IN": True,
    "STATS_DASHBOARD_USE_TEST_DATA": False,
    "STATS_DASHBOARD_OPTIMIZE_DATA_SERIES": True,
    # 2.2 menus
    "STATS_DASHBOARD_MENU_ENABLED": False,
    "STATS_DASHBOARD_MENU_TEXT": Lazy("Statistics"),
    "STATS_DASHBOARD_MENU_ORDER": 1,
    "STATS_DASHBOARD_MENU_ENDPOINT": "invenio_stats_dashboard.global_stats_dashboard",
    "STATS_DASHBOARD_MENU_REGISTRATION_FUNCTION": None,
    "STATS_DASHBOARD_COMMUNITY_MENU_ENABLED": False,
    "STATS_DASHBOARD_COMMUNITY_MENU_TEXT": Lazy("Statistics"),
    "STATS_DASHBOARD_COMMUNITY_MENU_ORDER": 35,
    "STATS_DASHBOARD_COMMUNITY_MENU_ENDPOINT": "invenio_stats_dashboard.community_stats_dashboard",
    "STATS_DASHBOARD_COMMUNITY_MENU_REGISTRATION_FUNCTION": None,
    # 2.4 dashboard content (scalars)
    "STATS_DASHBOARD_DISABLED_MESSAGE_GLOBAL": (
        "The global and community statistics dashboards must be enabled by the "
        "{title} administrators."
    ),
    "STATS_DASHBOARD_DISABLED_MESSAGE_COMMUNITY": Lazy(
        "Community owners and administrators can enable the dashboard from the "
        "community settings page"
    ),
    "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_LABEL": Lazy("Enable Dashboard"),
    "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_DESCRIPTION": Lazy(
        "Show the 'Statistics' tab with this community's statistics dashboard."
    ),
    "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_ICON": "chart line",
    "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_HELPTEXT": Lazy(
        "The first statistics can take several hours to appear after enabling."
    ),
    "STATS_DASHBOARD_COMPRESS_JSON": False,
    "STATS_DASHBOARD_CLIENT_CACHE_COMPRESSION_ENABLED": False,
    # 2.5 aggregation
    "COMMUNITY_STATS_CATCHUP_INTERVAL": 365,
    "COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT": 20,
    "COMMUNITY_STATS_FILTER_AGGREGATION_SIZE": 10000,
    "COMMUNITY_STATS_INITIAL_CHUNK_SIZE": 50,
    "COMMUNITY_STATS_MIN_CHUNK_SIZE": 1,
    "COMMUNITY_STATS_MAX_CHUNK_SIZE": 100,
    "COMMUNITY_STATS_CHUNK_REDUCTION_FACTOR": 0.7,
    "COMMUNITY_STATS_CHUNK_GROWTH_FACTOR": 1.05,
    "COMMUNITY_STATS_BULK_INDEX_TIMEOUT": 300,
    "COMMUNITY_STATS_SCAN_PAGE_SIZE": 200,
    "COMMUNITY_STATS_SCAN_PAGE_SIZE_MIN": 50,
    "COMMUNITY_STATS_SCAN_PAGE_SIZE_MAX": 500,
    "COMMUNITY_STATS_DELTA_BUFFER_SIZE": None,
    "COMMUNITY_STATS_MEM_BUDGET_BYTES": None,
    "COMMUNITY_STATS_MEM_HIGH_WATER_PERCENT": 0.75,
    "COMMUNITY_STATS_WS_OVERHEAD": 1.1,
    "COMMUNITY_STATS_SCAN_OVERHEAD": 0.85,
    "COMMUNITY_STATS_BULK_OVERHEAD": 1.3,
    "COMMUNITY_STATS_DELTA_OVERHEAD": 1.2,
    "COMMUNITY_STATS_MEM_SAFETY_FACTOR": 1.2,
    "COMMUNITY_STATS_TOP_GROWTH_FACTOR": 3.0,
    "COMMUNITY_STATS_TOP_GROWTH_FLOOR_FACTOR": 5.0,
    "COMMUNITY_STATS_TOP_HARD_CAP_PER_KEY": 10000,
    "COMMUNITY_STATS_TOP_DISCOVERY_DECAY": 0.3,
    "COMMUNITY_STATS_AVG_DELTA_BYTES": 10240,
    "COMMUNITY_STATS_INMEMORY_MULTIPLIER": 4.0,
    "COMMUNITY_STATS_SCAN_SCROLL": "2m",
    # 2.6 data series
    "STATS_DATA_SERIES_PAGE_SIZE": 365,
    "STATS_DATA_SERIES_PAGE_SIZE_MIN": 50,
    "STATS_DATA_SERIES_PAGE_SIZE_MAX": 365,
    "STATS_DATA_SERIES_MEM_BUDGET_BYTES": None,
    "STATS_DATA_SERIES_MEM_HIGH_WATER_PERCENT": 0.75,
    "STATS_DATA_SERIES_PAGE_OVERHEAD": 0.85,
    "STATS_DATA_SERIES_SERIES_OVERHEAD": 1.5,
    "STATS_DATA_SERIES_MEM_SAFETY_FACTOR": 1.2,
    "STATS_DATA_SERIES_INMEMORY_MULTIPLIER": 4.0,
    "STATS_DATA_SERIES_BYTES_PER_DATAPOINT": 256,
    "STATS_DATA_SERIES_AVG_DOC_BYTES": 2048,
    # 2.8 migration
    "STATS_DASHBOARD_REINDEXING_MAX_BATCHES": 1000,
    "STATS_DASHBOARD_REINDEXING_BATCH_SIZE": 5000,
    "STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT": 85,
    "STATS_DASHBOARD_REINDEXING_MAX_SPOT_CHECK_SAMPLE_SIZE": 100,
    "STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT": 600,
    # 2.9 cache and registry
    "STATS_CACHE_REDIS_URL": None,
    "STATS_CACHE_REDIS_DB": 7,
    "STATS_CACHE_PREFIX": "stats_dashboard",
    "STATS_CACHE_DEFAULT_TTL": 365,
    "STATS_CACHE_COMPRESSION_METHOD": "gzip",
    "STATS_CACHE_GENERATION_WAIT": 30,
    "STATS_CACHE_UNIQUE_COUNTS_TTL": 3600,
    "STATS_AGG_REGISTRY_REDIS_DB": 8,
    "STATS_AGG_REGISTRY_PREFIX": "stats_agg_registry",
}

STRUCTURED = {
    "STATS_DASHBOARD_ROUTES",
    "STATS_DASHBOARD_API_ROUTES",
    "STATS_DASHBOARD_TEMPLATES",
    "STATS_DASHBOARD_UI_CONFIG",
    "STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS",
    "STATS_DASHBOARD_UI_SUBCOUNTS",
    "STATS_DASHBOARD_LAYOUT",
    "STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY",
    "COMMUNITY_STATS_AGGREGATIONS",
    "COMMUNITY_STATS_QUERIES",
    "COMMUNITY_STATS_SERIALIZERS",
    "STATS_DASHBOARD_LOCK_CONFIG",
    "COMMUNITY_STATS_SUBCOUNTS",
    "COMMUNITY_STATS_CELERYBEAT_AGG_SCHEDULE",
    "COMMUNITY_STATS_CELERYBEAT_CACHE_SCHEDULE",
}


def config_names():
    """Names init_config copies: every ``name.isupper()`` attribute."""
    return {name for name in dir(config) if name.isupper()}


def test_every_variable_of_the_spec_and_nothing_else():
    assert config_names() == set(SCALARS) | STRUCTURED


def test_no_private_helper_looks_like_a_variable():
    # "_PBL".isupper() is True: a private helper would be copied into app.config.
    assert not [name for name in config_names() if name.startswith("_")]


@pytest.mark.parametrize("name", sorted(SCALARS))
def test_scalar_default(name):
    expected, value = SCALARS[name], getattr(config, name)
    if isinstance(expected, Lazy):
        assert isinstance(value, LazyString)
        assert str(value) == str(expected)
    else:
        assert type(value) is type(expected)
        assert value == expected


def test_routes_and_templates():
    assert config.STATS_DASHBOARD_ROUTES == {
        "global": "/stats",
        "community": "/communities/<pid_value>/stats",
    }
    assert config.STATS_DASHBOARD_API_ROUTES == {"stats_series": "/stats-dashboard"}
    assert config.STATS_DASHBOARD_TEMPLATES == {
        "macro": "invenio_stats_dashboard/macros/stats_dashboard_macro.html",
        "global": "invenio_stats_dashboard/stats_dashboard.html",
        "community": "invenio_communities/details/stats/index.html",
    }


def test_ui_config_range_options_and_ui_subcounts():
    common = {
        "title": "Statistics",
        "maxHistoryYears": 10,
        "default_granularity": "week",
        "show_description": False,
        "default_record_start_basis": "added",
    }
    assert plain_text(config.STATS_DASHBOARD_UI_CONFIG) == {
        "global": {
            **common,
            "show_title": False,
            "description": "This is the global stats dashboard.",
        },
        "community": {
            **common,
            "show_title": True,
            "description": "This is the community stats dashboard.",
        },
    }
    for dashboard in ("global", "community"):
        for key in ("title", "description"):
            assert isinstance(
                config.STATS_DASHBOARD_UI_CONFIG[dashboard][key], LazyString
            )
    assert config.STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS == {
        "day": "30days",
        "week": "yearToDate",
        "month": "yearToDate",
        "quarter": "yearToDate",
        "year": "2years",
    }
    assert config.STATS_DASHBOARD_UI_SUBCOUNTS == {
        key: {}
        for key in (
            "resource_types",
            "subjects",
            "languages",
            "rights",
            "funders",
            "periodicals",
            "publishers",
            "affiliations",
            "countries",
            "file_types",
            "access_statuses",
            "file_presence",
        )
    }


def test_registries_follow_the_leads_decisions():
    """Exactly the five entries of 04 §2, each resolvable to a class."""
    from werkzeug.utils import import_string

    entries = config.COMMUNITY_STATS_AGGREGATIONS
    assert list(entries) == [
        "community-usage-delta-agg",
        "community-records-delta-added-agg",
        "community-records-snapshot-added-agg",
        "community-usage-snapshot-agg",
        "community-events-agg",
    ]
    for entry in entries.values():
        assert set(entry) == {"templates", "cls", "params"}
        assert import_string(entry["cls"])
        assert import_string(entry["templates"])
    assert entries["community-events-agg"]["templates"].endswith(
        ".stats_community_events"
    )
    assert config.COMMUNITY_STATS_QUERIES == {}
    assert config.COMMUNITY_STATS_SERIALIZERS == {}


def test_lock_config():
    section = {"enabled": True, "lock_timeout": 300}
    assert config.STATS_DASHBOARD_LOCK_CONFIG == {
        "enabled": True,
        "aggregation": {**section, "lock_name": "community_stats_aggregation"},
        "response_caching": {
            **section,
            "lock_name": "community_stats_cache_generation",
        },
        "usage_migration": {**section, "lock_name": "community_stats_usage_migration"},
        "community_events": {
            **section,
            "lock_name": "community_stats_community_events",
        },
    }


def test_beat_entries():
    agg = config.COMMUNITY_STATS_CELERYBEAT_AGG_SCHEDULE
    assert list(agg) == ["stats-aggregate-community-record-stats"]
    entry = agg["stats-aggregate-community-record-stats"]
    assert entry["task"] == (
        "invenio_stats_dashboard.tasks.aggregation_tasks."
        "aggregate_community_record_stats"
    )
    assert entry["schedule"] == crontab(minute=40)
    assert entry["args"] == (
        (
            "community-usage-delta-agg",
            "community-records-delta-added-agg",
            "community-records-snapshot-added-agg",
            "community-usage-snapshot-agg",
        ),
    )
    assert entry["options"] == {"expires": 3300}

    cache = config.COMMUNITY_STATS_CELERYBEAT_CACHE_SCHEDULE
    assert list(cache) == ["stats-cache-hourly-generation"]
    entry = cache["stats-cache-hourly-generation"]
    assert entry["task"] == (
        "invenio_stats_dashboard.tasks.cache_tasks.generate_cached_responses_task"
    )
    assert entry["schedule"] == crontab(minute=50)
    assert entry["args"] == ("all", None, False, False, None)
    assert entry["options"] == {"expires": 3300}


# --- layout (07 §5.2) ---------------------------------------------------------

PBL, PL = ["pie", "bar", "list"], ["pie", "list"]
CONTENT_SUBCOUNTS = [
    "resource_types",
    "languages",
    "rights",
    "affiliations",
    "funders",
    "publishers",
    "file_types",
    "access_statuses",
]
CONTRIB_SUBCOUNTS = [
    "file_presence",
    "resource_types",
    "subjects",
    "languages",
    "rights",
    "affiliations",
    "periodicals",
    "publishers",
    "file_types",
    "access_statuses",
]
TRAFFIC_SUBCOUNTS = [
    "countries",
    "file_presence",
    "resource_types",
    "languages",
    "rights",
    "affiliations",
    "periodicals",
    "publishers",
    "file_types",
    "access_statuses",
]


def stat(name, width, title, icon, mobile):
    return (name, width, {"title": title, "icon": icon, "mobile": mobile})


def multi(name, title, views, default=None, page=10, **extra):
    props = {
        "title": title,
        "available_views": views,
        "pageSize": page,
        "hideOtherInCharts": True,
        **extra,
    }
    if default:
        props["default_view"] = default
    return (name, 8, props)


def chart(name, title, subcounts, max_series=None):
    props = {
        "height": 300,
        "title": title,
        "display_subcounts": {k: {} for k in subcounts},
    }
    if max_series:
        props["maxSeries"] = max_series
    return (name, 16, props)


def stats_map(title, **extra):
    return (
        "StatsMap",
        16,
        {
            "title": title,
            "height": 400,
            "minHeight": 400,
            "zoom": 1.3,
            "center": [0, 20],
            "uniformColorMode": True,
            **extra,
        },
    )


EXPECTED_TABS = [
    (
        "content",
        "Content",
        "chart pie",
        "Cumulative totals as of",
        [
            (
                "single-stats",
                [
                    stat(
                        "SingleStatRecordCountCumulative", 5, "Total Records", "file", 6
                    ),
                    stat(
                        "SingleStatUploadersCumulative",
                        6,
                        "Total Uploaders",
                        "users",
                        6,
                    ),
                    stat(
                        "SingleStatDataVolumeCumulative",
                        5,
                        "Total Data Volume",
                        "database",
                        16,
                    ),
                ],
            ),
            (
                "charts",
                [
                    chart(
                        "ContentStatsChartCumulative",
                        "Cumulative Content Totals",
                        CONTENT_SUBCOUNTS,
                        10,
                    )
                ],
            ),
            (
                "tables",
                [
                    multi("ResourceTypesMultiDisplay", "Top Work Types", PBL),
                    multi("FileTypesMultiDisplay", "Top File Types", PBL, "bar"),
                    multi("LanguagesMultiDisplay", "Top Languages", PBL, "bar"),
                    multi("SubjectsMultiDisplay", "Top Subjects", PBL, "list"),
                    multi(
                        "AccessStatusesMultiDisplay", "Top Access Statuses", PBL, "bar"
                    ),
                    multi("RightsMultiDisplay", "Top Rights", PL, "list"),
                    multi("AffiliationsMultiDisplay", "Top Affiliations", PBL, "list"),
                    multi(
                        "PublishersMultiDisplay", "Top Publishers", PBL, "bar", page=8
                    ),
                ],
            ),
        ],
    ),
    (
        "contributions",
        "Contributions",
        "users",
        "Activity during",
        [
            (
                "single-stats",
                [
                    stat("SingleStatRecordCount", 5, "New Records", "file", 6),
                    stat("SingleStatUploaders", 6, "Active Uploaders", "users", 6),
                    stat(
                        "SingleStatDataVolume", 5, "New Data Uploaded", "database", 16
                    ),
                ],
            ),
            (
                "charts",
                [
                    chart(
                        "ContentStatsChart",
                        "New Contribution Rates",
                        CONTRIB_SUBCOUNTS,
                        8,
                    )
                ],
            ),
            (
                "tables",
                [
                    multi("ResourceTypesMultiDisplayDelta", "Work Types Added", PBL),
                    multi("FileTypesMultiDisplayDelta", "File Types Added", PBL, "bar"),
                    multi("LanguagesMultiDisplayDelta", "Languages Added", PBL, "bar"),
                    multi("SubjectsMultiDisplayDelta", "Subjects Added", PBL, "list"),
                    multi(
                        "AccessStatusesMultiDisplayDelta",
                        "Access Statuses Added",
                        PBL,
                        "pie",
                    ),
                    multi("RightsMultiDisplayDelta", "Rights Added", PL, "list"),
                    multi(
                        "AffiliationsMultiDisplayDelta",
                        "Affiliations Added",
                        PBL,
                        "list",
                    ),
                    multi(
                        "PeriodicalsMultiDisplayDelta", "Periodicals Added", PBL, "list"
                    ),
                    multi(
                        "PublishersMultiDisplayDelta",
                        "Publishers Added",
                        PBL,
                        "list",
                        page=8,
                    ),
                ],
            ),
        ],
    ),
    (
        "traffic",
        "Cumulative Traffic",
        "world",
        "Cumulative totals as of",
        [
            (
                "single-stats",
                [
                    stat("SingleStatViewsCumulative", 5, "Total Views", "eye", 6),
                    stat(
                        "SingleStatDownloadsCumulative",
                        6,
                        "Total Downloads",
                        "download",
                        6,
                    ),
                    stat(
                        "SingleStatTrafficCumulative",
                        5,
                        "Total Traffic",
                        "chart line",
                        16,
                    ),
                ],
            ),
            (
                "charts",
                [
                    chart(
                        "TrafficStatsChartCumulative",
                        "Cumulative Traffic Totals",
                        TRAFFIC_SUBCOUNTS,
                        10,
                    )
                ],
            ),
            (
                "tables",
                [
                    multi(
                        "MostDownloadedRecordsMultiDisplay",
                        "Most Downloaded Works",
                        ["list"],
                        page=6,
                        maxHeight="300px",
                    ),
                    multi(
                        "MostViewedRecordsMultiDisplay",
                        "Most Viewed Works",
                        ["list"],
                        page=6,
                        maxHeight="300px",
                    ),
                ],
            ),
            ("world-map", [stats_map("All Countries of Origin for Visits")]),
            (
                "tables2",
                [
                    multi(
                        "FileTypesMultiDisplayDownloads",
                        "File Types Downloaded",
                        PBL,
                        "bar",
                    ),
                    multi(
                        "LanguagesMultiDisplayViews",
                        "Top Languages Visited",
                        PBL,
                        "bar",
                    ),
                    multi(
                        "ResourceTypesMultiDisplayViews",
                        "Top Work Types Visited",
                        PBL,
                        "bar",
                    ),
                    multi(
                        "RightsMultiDisplayViews", "Top Licenses by Visits", PBL, "pie"
                    ),
                    multi(
                        "PublishersMultiDisplayViews",
                        "Top Publishers by Visits",
                        PBL,
                        "list",
                    ),
                ],
            ),
        ],
    ),
    (
        "usage",
        "Usage Rates",
        "download",
        "Activity during",
        [
            (
                "single-stats",
                [
                    stat("SingleStatViews", 5, "Record Views", "eye", 6),
                    stat("SingleStatDownloads", 6, "Record Downloads", "download", 6),
                    stat("SingleStatTraffic", 5, "Data Downloaded", "chart line", 16),
                ],
            ),
            ("charts", [chart("TrafficStatsChart", "Usage Rates", TRAFFIC_SUBCOUNTS)]),
            (
                "world-map-delta",
                [stats_map("Top Countries of Origin for Visits", useSnapshot=False)],
            ),
            (
                "tables2",
                [
                    multi(
                        "FileTypesMultiDisplayDownloadsDelta",
                        "File Types Downloaded",
                        PBL,
                        "bar",
                    ),
                    multi(
                        "LanguagesMultiDisplayViewsDelta",
                        "Top Languages Visited",
                        PBL,
                        "bar",
                    ),
                    multi(
                        "ResourceTypesMultiDisplayViewsDelta",
                        "Top Work Types Visited",
                        PBL,
                        "bar",
                    ),
                    multi(
                        "RightsMultiDisplayViewsDelta",
                        "Top Licenses by Visits",
                        PBL,
                        "pie",
                    ),
                    multi(
                        "PublishersMultiDisplayViewsDelta",
                        "Top Publishers by Visits",
                        PBL,
                        "list",
                    ),
                ],
            ),
        ],
    ),
]


def test_shipped_layout_is_the_spec_layout():
    layout = config.STATS_DASHBOARD_LAYOUT
    assert list(layout) == ["global_layout"]
    expected = {
        "tabs": [
            {
                "name": name,
                "label": label,
                "icon": icon,
                "date_range_phrase": phrase,
                "rows": [
                    {
                        "name": row,
                        "components": [
                            {"component": c, "width": w, "props": p}
                            for c, w, p in comps
                        ],
                    }
                    for row, comps in rows
                ],
            }
            for name, label, icon, phrase, rows in EXPECTED_TABS
        ]
    }
    assert plain_text(layout["global_layout"]) == expected


def test_shipped_layout_texts_are_lazy():
    for tab in config.STATS_DASHBOARD_LAYOUT["global_layout"]["tabs"]:
        assert isinstance(tab["label"], LazyString)
        assert isinstance(tab["date_range_phrase"], LazyString)
        for row in tab["rows"]:
            for component in row["components"]:
                assert isinstance(component["props"]["title"], LazyString)


def test_shipped_layout_passes_the_layout_schema():
    from invenio_stats_dashboard.custom_fields.layout_schema import validate_layout

    assert validate_layout(config.STATS_DASHBOARD_LAYOUT) == []


# --- component-metrics registry (07 §6) -------------------------------------------

TEN = {
    "resource_types": "ResourceTypes",
    "access_statuses": "AccessStatuses",
    "languages": "Languages",
    "subjects": "Subjects",
    "rights": "Rights",
    "funders": "Funders",
    "periodicals": "Periodicals",
    "publishers": "Publishers",
    "affiliations": "Affiliations",
    "file_types": "FileTypes",
}
ALL_TYPE = {"resource_types", "access_statuses", "file_types"}


def expected_registry():
    record_deltas = {
        "global": {
            "records": ["ContentStatsChart", "SingleStatRecordCount"],
            "data_volume": ["ContentStatsChart", "SingleStatDataVolume"],
        }
    }
    record_snapshots = {
        "global": {
            "records": [
                "ContentStatsChartCumulative",
                "SingleStatRecordCountCumulative",
            ],
            "uploaders": [
                "ContentStatsChartCumulative",
                "SingleStatUploadersCumulative",
            ],
            "data_volume": [
                "ContentStatsChartCumulative",
                "SingleStatDataVolumeCumulative",
            ],
            "file_count": ["ContentStatsChartCumulative"],
        }
    }
    usage_deltas = {
        "global": {
            "views": ["TrafficStatsChart", "SingleStatViews"],
            "downloads": ["TrafficStatsChart", "SingleStatDownloads"],
            "data_volume": ["TrafficStatsChart", "SingleStatTraffic"],
        },
        "countries": {"views": ["CountriesMultiDisplayViewsDelta"]},
        "referrers": {"views": ["ReferrersMultiDisplayViewsDelta"]},
    }
    usage_snapshots = {
        "global": {
            "views": ["TrafficStatsChartCumulative", "SingleStatViewsCumulative"],
            "downloads": [
                "TrafficStatsChartCumulative",
                "SingleStatDownloadsCumulative",
            ],
            "data_volume": [
                "TrafficStatsChartCumulative",
                "SingleStatTrafficCumulative",
            ],
        },
        "countries_by_view": {"views": ["CountriesMultiDisplayViews"]},
        "referrers_by_view": {"views": ["ReferrersMultiDisplayViews"]},
    }
    for key, md in TEN.items():
        record_deltas[key] = {"records": [f"{md}MultiDisplayDelta"]}
        record_snapshots[key] = {"records": [f"{md}MultiDisplay"]}
        usage_deltas[key] = {
            "views": [f"{md}MultiDisplayViewsDelta"],
            "downloads": [f"{md}MultiDisplayDownloadsDelta"],
        }
        view = key if key in ALL_TYPE else f"{key}_by_view"
        download = key if key in ALL_TYPE else f"{key}_by_download"
        usage_snapshots.setdefault(view, {})["views"] = [f"{md}MultiDisplayViews"]
        usage_snapshots.setdefault(download, {})["downloads"] = [
            f"{md}MultiDisplayDownloads"
        ]
    return {
        "record_deltas": record_deltas,
        "record_snapshots": record_snapshots,
        "usage_deltas": usage_deltas,
        "usage_snapshots": usage_snapshots,
    }


def test_component_metrics_registry():
    assert config.STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY == expected_registry()


# --- subcounts (07 §3.2, §3.3) -----------------------------------------------------


def spec(field, label=None, includes=(), combine=None):
    result = {
        "field": field,
        "label_field": label,
        "label_source_includes": list(includes),
    }
    if combine:
        result["combine_subfields"] = list(combine)
    return result


EXTRACTION = "invenio_stats_dashboard.usage_events.extraction"
M = "metadata."


def test_subcounts_records_side():
    records = {
        name: value["records"]
        for name, value in config.COMMUNITY_STATS_SUBCOUNTS.items()
    }
    rt, lang, subj, rights, fund = (
        M + "resource_type.",
        M + "languages.",
        M + "subjects.",
        M + "rights.",
        M + "funding.funder.",
    )
    assert records == {
        "resource_types": {
            "snapshot_type": "all",
            "source_fields": [spec(rt + "id", rt + "title", [rt + "title", rt + "id"])],
        },
        "access_statuses": {
            "snapshot_type": "all",
            "source_fields": [spec("access.status")],
        },
        "languages": {
            "snapshot_type": "top",
            "source_fields": [
                spec(lang + "id", lang + "title", [lang + "title", lang + "id"])
            ],
        },
        "subjects": {
            "snapshot_type": "top",
            "source_fields": [
                spec(
                    subj + "id",
                    subj + "subject",
                    [subj + "subject", subj + "scheme", subj + "id"],
                )
            ],
        },
        "rights": {
            "snapshot_type": "top",
            "source_fields": [
                spec(rights + "id", rights + "title", [rights + "title", rights + "id"])
            ],
        },
        "funders": {
            "snapshot_type": "top",
            "source_fields": [
                spec(
                    fund + "id",
                    fund + "name",
                    [fund + "name", fund + "id"],
                    [fund + "id", fund + "name.keyword"],
                )
            ],
        },
        "periodicals": {
            "snapshot_type": "top",
            "source_fields": [spec("custom_fields.journal:journal.title.keyword")],
        },
        "publishers": {
            "snapshot_type": "top",
            "source_fields": [spec(M + "publisher.keyword")],
        },
        "affiliations": {
            "snapshot_type": "top",
            "source_fields": [
                spec(
                    f"{M}{role}.affiliations.id",
                    f"{M}{role}.affiliations.name",
                    [f"{M}{role}.affiliations.name", f"{M}{role}.affiliations.id"],
                )
                for role in ("creators", "contributors")
            ],
        },
        "file_types": {
            "snapshot_type": "all",
            "source_fields": [spec("files.entries.ext")],
        },
        "countries": {},
        "referrers": {},
    }


def usage(event_field, path, snapshot, *specs):
    result = {
        "event_field": event_field,
        "snapshot_type": snapshot,
        "source_fields": list(specs),
    }
    if path is not None:
        result["extraction_path_for_event"] = path
    return result


def test_subcounts_usage_side():
    usage_sides = {
        name: value["usage_events"]
        for name, value in config.COMMUNITY_STATS_SUBCOUNTS.items()
    }
    assert usage_sides == {
        "resource_types": usage(
            "resource_type",
            M + "resource_type",
            "all",
            spec(
                "resource_type.id",
                "resource_type.title",
                ["resource_type.title", "resource_type.id"],
            ),
        ),
        "access_statuses": usage(
            "access_status", "access.status", "all", spec("access_status")
        ),
        "languages": usage(
            "languages",
            M + "languages",
            "top",
            spec(
                "languages.id", "languages.title", ["languages.title", "languages.id"]
            ),
        ),
        "subjects": {},
        "rights": usage(
            "rights",
            M + "rights",
            "top",
            spec("rights.id", "rights.title", ["rights.title", "rights.id"]),
        ),
        "funders": usage(
            "funders",
            f"{EXTRACTION}:extract_funders",
            "top",
            spec(
                "funders.id",
                "funders.name",
                ["funders.id", "funders.name"],
                ["funders.id", "funders.name"],
            ),
        ),
        "periodicals": usage(
            "journal_title",
            "custom_fields.journal:journal.title",
            "top",
            spec("journal_title"),
        ),
        "publishers": usage("publisher", M + "publisher", "top", spec("publisher")),
        "affiliations": usage(
            "affiliations",
            f"{EXTRACTION}:extract_affiliations",
            "top",
            spec(
                "affiliations.id",
                "affiliations.name",
                ["affiliations.name", "affiliations.id"],
            ),
        ),
        "countries": usage(None, None, "top", spec("country")),
        "referrers": {},
        "file_types": usage(
            "file_types", f"{EXTRACTION}:extract_file_types", "all", spec("file_types")
        ),
    }


def test_default_extraction_callables_are_package_functions():
    from invenio_stats_dashboard.usage_events import extraction
    from invenio_stats_dashboard.usage_events.extraction import resolve_extractor

    for name in ("funders", "affiliations", "file_types"):
        path = config.COMMUNITY_STATS_SUBCOUNTS[name]["usage_events"][
            "extraction_path_for_event"
        ]
        function = resolve_extractor(path)
        assert function is getattr(extraction, path.rpartition(":")[2])
        assert function.__name__ != "<lambda>"


def test_default_config_validates_without_problems(caplog):
    from invenio_stats_dashboard.config_validation import validate_config

    values = {name: deepcopy(getattr(config, name)) for name in config_names()}
    with caplog.at_level("WARNING"):
        assert validate_config(values) == []
    assert not caplog.records


# --- docstrings -------------------------------------------------------------------


def test_a_docstring_follows_every_assignment():
    body = ast.parse(CONFIG_PY.read_text()).body
    assigned = set()
    for index, node in enumerate(body):
        if not isinstance(node, (ast.Assign, ast.AnnAssign)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if not any(name.isupper() and not name.startswith("_") for name in names):
            continue
        assigned.update(names)
        following = body[index + 1] if index + 1 < len(body) else None
        assert isinstance(following, ast.Expr), names
        assert isinstance(following.value, ast.Constant), names
        assert isinstance(following.value.value, str), names
        assert following.value.value.strip(), names
    assert assigned == config_names()


# --- docs parity (07 §11 #25) -----------------------------------------------------

ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*`([^`]*)`\s*\|", re.M)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def evaluate(node):
    """Evaluate a literal, ``_("...")`` (lazy) or ``crontab(...)`` expression."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Dict):
        return {
            evaluate(k): evaluate(v)
            for k, v in zip(node.keys, node.values, strict=True)
        }
    if isinstance(node, ast.List):
        return [evaluate(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(evaluate(e) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -evaluate(node.operand)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [evaluate(a) for a in node.args]
        kwargs = {k.arg: evaluate(k.value) for k in node.keywords}
        if node.func.id == "_":
            return ("lazy", *args)
        if node.func.id == "crontab":
            return crontab(*args, **kwargs)
    raise AssertionError(f"unsupported expression in the docs: {ast.dump(node)}")


def plain(value):
    """Render lazy strings as ``("lazy", text)`` so laziness is compared too."""
    if isinstance(value, LazyString):
        return ("lazy", str(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


def plain_text(value):
    """Render lazy strings as plain text."""
    if isinstance(value, LazyString):
        return str(value)
    if isinstance(value, dict):
        return {k: plain_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_text(v) for v in value]
    return value


def documented():
    text = DOCS.read_text()
    rows = ROW.findall(text)
    blocks = {}
    for block in BLOCK.findall(text):
        for node in ast.parse(block).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                blocks[node.targets[0].id] = evaluate(node.value)
    return rows, blocks


def test_docs_list_every_variable_once_and_nothing_else():
    rows, _ = documented()
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a variable is documented twice"
    assert set(names) - config_names() == set(), "documented but not in config.py"
    assert config_names() - set(names) == set(), "in config.py but not documented"


def test_docs_defaults_equal_the_config_module():
    rows, blocks = documented()
    for name, cell in rows:
        if cell == "{...}":
            assert name in blocks, f"{name}: no code block with its full default"
            documented_value = blocks[name]
        else:
            documented_value = evaluate(ast.parse(cell, mode="eval").body)
        assert documented_value == plain(getattr(config, name)), name
    assert set(blocks) <= config_names()
