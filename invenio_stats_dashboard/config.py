"""Default configuration of invenio-stats-dashboard.

Every upper-case name of this module is copied into ``app.config`` with
``setdefault`` at app initialisation, so instance values (``invenio.cfg``,
``INVENIO_*`` environment variables) always win. Each variable is followed by a
docstring; ``docs/configuration.md`` lists the same names and defaults.
"""

from typing import Any

from celery.schedules import crontab
from invenio_i18n import lazy_gettext as _

from .aggregations.registration import register_aggregations

# ---------------------------------------------------------------------------
# Feature switches
# ---------------------------------------------------------------------------

COMMUNITY_STATS_ENABLED = True
"""Master switch: when False the extension adds no services, beat entries or menus,
and its pages, API and CLI answer as disabled."""

COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED = False
"""Add the hourly aggregation entry to the Celery beat schedule; the ``aggregate``
CLI runs whatever this flag says."""

COMMUNITY_STATS_SCHEDULED_CACHE_TASKS_ENABLED = False
"""Add the hourly response-cache entry to the Celery beat schedule; the
``cache generate`` CLI runs whatever this flag says."""

STATS_DASHBOARD_ENABLED_GLOBAL = False
"""Render the global dashboard; when False the page shows the disabled message and
the API answers 403 for ``global`` except to superusers."""

STATS_DASHBOARD_ENABLED_COMMUNITY = False
"""Render community dashboards for enabled communities; when False every community
page shows the disabled message and the API answers 403 except to superusers."""

STATS_DASHBOARD_COMMUNITY_OPT_IN = True
"""When True only communities whose ``stats:dashboard_enabled`` is true are enabled
(and the settings toggle is shown); when False every community is enabled."""

STATS_DASHBOARD_USE_TEST_DATA = False
"""Make the front end show generated sample data instead of calling the API."""

STATS_DASHBOARD_OPTIMIZE_DATA_SERIES = True
"""Default of "optimize": data series hold only the metrics that the active
layout's components need; a request, task or CLI argument overrides it."""

# ---------------------------------------------------------------------------
# Menus
# ---------------------------------------------------------------------------

STATS_DASHBOARD_MENU_ENABLED = False
"""Register the main-navigation item ``main.stats``."""

STATS_DASHBOARD_MENU_TEXT = _("Statistics")
"""Text of the main-navigation item."""

STATS_DASHBOARD_MENU_ORDER = 1
"""Order of the main-navigation item."""

STATS_DASHBOARD_MENU_ENDPOINT = "invenio_stats_dashboard.global_stats_dashboard"
"""Endpoint the main-navigation item links to."""

STATS_DASHBOARD_MENU_REGISTRATION_FUNCTION = None
"""Callable ``(app)`` that replaces the default registration of the main-navigation
item; a non-callable value logs a warning and the default registration is used."""

STATS_DASHBOARD_COMMUNITY_MENU_ENABLED = False
"""Register the community header tab ``communities.stats``."""

STATS_DASHBOARD_COMMUNITY_MENU_TEXT = _("Statistics")
"""Text of the community header tab."""

STATS_DASHBOARD_COMMUNITY_MENU_ORDER = 35
"""Order of the community header tab (35 places it after "Members")."""

STATS_DASHBOARD_COMMUNITY_MENU_ENDPOINT = (
    "invenio_stats_dashboard.community_stats_dashboard"
)
"""Endpoint of the community header tab; it must accept ``pid_value``."""

STATS_DASHBOARD_COMMUNITY_MENU_REGISTRATION_FUNCTION = None
"""Callable ``(app)`` that replaces the registration of the community tab; it must
pass ``expected_args=["pid_value"]``."""

# ---------------------------------------------------------------------------
# Routes and templates
# ---------------------------------------------------------------------------

STATS_DASHBOARD_ROUTES = {
    "global": "/stats",
    "community": "/communities/<pid_value>/stats",
}
"""URL rules of the two dashboard pages; the community placeholder must be named
``pid_value``."""

STATS_DASHBOARD_API_ROUTES = {
    "stats_series": "/stats-dashboard",
}
"""URL rule of the POST endpoint on the API blueprint, served as
``/api/stats-dashboard``."""

STATS_DASHBOARD_TEMPLATES = {
    "macro": "invenio_stats_dashboard/macros/stats_dashboard_macro.html",
    "global": "invenio_stats_dashboard/stats_dashboard.html",
    "community": "invenio_communities/details/stats/index.html",
}
"""Jinja templates of the dashboard macro and of the global and community pages."""

# ---------------------------------------------------------------------------
# Dashboard content
# ---------------------------------------------------------------------------

STATS_DASHBOARD_UI_CONFIG = {
    "global": {
        "title": _("Statistics"),
        "description": _("This is the global stats dashboard."),
        "maxHistoryYears": 10,
        "default_granularity": "week",
        "show_title": False,
        "show_description": False,
        "default_record_start_basis": "added",
    },
    "community": {
        "title": _("Statistics"),
        "description": _("This is the community stats dashboard."),
        "maxHistoryYears": 10,
        "default_granularity": "week",
        "show_title": True,
        "show_description": False,
        "default_record_start_basis": "added",
    },
}
"""Per-dashboard page settings sent to the client in ``dashboard_config``; keys the
server computes (``layout``, ``dashboard_enabled``, ...) are dropped with an error."""

STATS_DASHBOARD_DEFAULT_RANGE_OPTIONS = {
    "day": "30days",
    "week": "yearToDate",
    "month": "yearToDate",
    "quarter": "yearToDate",
    "year": "2years",
}
"""Initial date-range period id for each granularity."""

STATS_DASHBOARD_UI_SUBCOUNTS: dict[str, dict[str, Any]] = {
    "resource_types": {},
    "subjects": {},
    "languages": {},
    "rights": {},
    "funders": {},
    "periodicals": {},
    "publishers": {},
    "affiliations": {},
    "countries": {},
    "file_types": {},
    "access_statuses": {},
    "file_presence": {},
}
"""Breakdowns (subcount name -> options) a chart offers when it has no
``display_subcounts`` of its own."""


def _multi(
    title: Any,
    views: tuple[str, ...],
    default_view: str | None = None,
    page_size: int = 10,
    **extra: Any,
) -> dict[str, Any]:
    """Build the props of a multi-display component of the shipped layout."""
    props = {"title": title, "pageSize": page_size, "available_views": list(views)}
    if default_view is not None:
        props["default_view"] = default_view
    props["hideOtherInCharts"] = True
    props.update(extra)
    return props


def _component(name: str, width: int, props: dict[str, Any]) -> dict[str, Any]:
    """Build one component entry of the shipped layout."""
    return {"component": name, "width": width, "props": props}


def _single_stat(
    name: str, width: int, title: Any, icon: str, mobile: int
) -> dict[str, Any]:
    """Build a single-stat component entry of the shipped layout."""
    return _component(name, width, {"title": title, "icon": icon, "mobile": mobile})


_pbl = ("pie", "bar", "list")
_pl = ("pie", "list")

_content_chart_subcounts = (
    "resource_types",
    "languages",
    "rights",
    "affiliations",
    "funders",
    "publishers",
    "file_types",
    "access_statuses",
)
_contributions_chart_subcounts = (
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
)
_traffic_chart_subcounts = (
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
)


def _map_props() -> dict[str, Any]:
    """Return the size, zoom and centre props shared by the shipped maps."""
    return {"height": 400, "minHeight": 400, "zoom": 1.3, "center": [0, 20]}


STATS_DASHBOARD_LAYOUT = {
    "global_layout": {
        "tabs": [
            {
                "name": "content",
                "label": _("Content"),
                "icon": "chart pie",
                "date_range_phrase": _("Cumulative totals as of"),
                "rows": [
                    {
                        "name": "single-stats",
                        "components": [
                            _single_stat(
                                "SingleStatRecordCountCumulative",
                                5,
                                _("Total Records"),
                                "file",
                                6,
                            ),
                            _single_stat(
                                "SingleStatUploadersCumulative",
                                6,
                                _("Total Uploaders"),
                                "users",
                                6,
                            ),
                            _single_stat(
                                "SingleStatDataVolumeCumulative",
                                5,
                                _("Total Data Volume"),
                                "database",
                                16,
                            ),
                        ],
                    },
                    {
                        "name": "charts",
                        "components": [
                            _component(
                                "ContentStatsChartCumulative",
                                16,
                                {
                                    "height": 300,
                                    "title": _("Cumulative Content Totals"),
                                    "maxSeries": 10,
                                    "display_subcounts": {
                                        k: {} for k in _content_chart_subcounts
                                    },
                                },
                            ),
                        ],
                    },
                    {
                        "name": "tables",
                        "components": [
                            _component(
                                "ResourceTypesMultiDisplay",
                                8,
                                _multi(_("Top Work Types"), _pbl),
                            ),
                            _component(
                                "FileTypesMultiDisplay",
                                8,
                                _multi(_("Top File Types"), _pbl, "bar"),
                            ),
                            _component(
                                "LanguagesMultiDisplay",
                                8,
                                _multi(_("Top Languages"), _pbl, "bar"),
                            ),
                            _component(
                                "SubjectsMultiDisplay",
                                8,
                                _multi(_("Top Subjects"), _pbl, "list"),
                            ),
                            _component(
                                "AccessStatusesMultiDisplay",
                                8,
                                _multi(_("Top Access Statuses"), _pbl, "bar"),
                            ),
                            _component(
                                "RightsMultiDisplay",
                                8,
                                _multi(_("Top Rights"), _pl, "list"),
                            ),
                            _component(
                                "AffiliationsMultiDisplay",
                                8,
                                _multi(_("Top Affiliations"), _pbl, "list"),
                            ),
                            _component(
                                "PublishersMultiDisplay",
                                8,
                                _multi(_("Top Publishers"), _pbl, "bar", page_size=8),
                            ),
                        ],
                    },
                ],
            },
            {
                "name": "contributions",
                "label": _("Contributions"),
                "icon": "users",
                "date_range_phrase": _("Activity during"),
                "rows": [
                    {
                        "name": "single-stats",
                        "components": [
                            _single_stat(
                                "SingleStatRecordCount", 5, _("New Records"), "file", 6
                            ),
                            _single_stat(
                                "SingleStatUploaders",
                                6,
                                _("Active Uploaders"),
                                "users",
                                6,
                            ),
                            _single_stat(
                                "SingleStatDataVolume",
                                5,
                                _("New Data Uploaded"),
                                "database",
                                16,
                            ),
                        ],
                    },
                    {
                        "name": "charts",
                        "components": [
                            _component(
                                "ContentStatsChart",
                                16,
                                {
                                    "height": 300,
                                    "title": _("New Contribution Rates"),
                                    "maxSeries": 8,
                                    "display_subcounts": {
                                        k: {} for k in _contributions_chart_subcounts
                                    },
                                },
                            ),
                        ],
                    },
                    {
                        "name": "tables",
                        "components": [
                            _component(
                                "ResourceTypesMultiDisplayDelta",
                                8,
                                _multi(_("Work Types Added"), _pbl),
                            ),
                            _component(
                                "FileTypesMultiDisplayDelta",
                                8,
                                _multi(_("File Types Added"), _pbl, "bar"),
                            ),
                            _component(
                                "LanguagesMultiDisplayDelta",
                                8,
                                _multi(_("Languages Added"), _pbl, "bar"),
                            ),
                            _component(
                                "SubjectsMultiDisplayDelta",
                                8,
                                _multi(_("Subjects Added"), _pbl, "list"),
                            ),
                            _component(
                                "AccessStatusesMultiDisplayDelta",
                                8,
                                _multi(_("Access Statuses Added"), _pbl, "pie"),
                            ),
                            _component(
                                "RightsMultiDisplayDelta",
                                8,
                                _multi(_("Rights Added"), _pl, "list"),
                            ),
                            _component(
                                "AffiliationsMultiDisplayDelta",
                                8,
                                _multi(_("Affiliations Added"), _pbl, "list"),
                            ),
                            _component(
                                "PeriodicalsMultiDisplayDelta",
                                8,
                                _multi(_("Periodicals Added"), _pbl, "list"),
                            ),
                            _component(
                                "PublishersMultiDisplayDelta",
                                8,
                                _multi(
                                    _("Publishers Added"), _pbl, "list", page_size=8
                                ),
                            ),
                        ],
                    },
                ],
            },
            {
                "name": "traffic",
                "label": _("Cumulative Traffic"),
                "icon": "world",
                "date_range_phrase": _("Cumulative totals as of"),
                "rows": [
                    {
                        "name": "single-stats",
                        "components": [
                            _single_stat(
                                "SingleStatViewsCumulative",
                                5,
                                _("Total Views"),
                                "eye",
                                6,
                            ),
                            _single_stat(
                                "SingleStatDownloadsCumulative",
                                6,
                                _("Total Downloads"),
                                "download",
                                6,
                            ),
                            _single_stat(
                                "SingleStatTrafficCumulative",
                                5,
                                _("Total Traffic"),
                                "chart line",
                                16,
                            ),
                        ],
                    },
                    {
                        "name": "charts",
                        "components": [
                            _component(
                                "TrafficStatsChartCumulative",
                                16,
                                {
                                    "height": 300,
                                    "title": _("Cumulative Traffic Totals"),
                                    "maxSeries": 10,
                                    "display_subcounts": {
                                        k: {} for k in _traffic_chart_subcounts
                                    },
                                },
                            ),
                        ],
                    },
                    {
                        "name": "tables",
                        "components": [
                            _component(
                                "MostDownloadedRecordsMultiDisplay",
                                8,
                                _multi(
                                    _("Most Downloaded Works"),
                                    ("list",),
                                    page_size=6,
                                    maxHeight="300px",
                                ),
                            ),
                            _component(
                                "MostViewedRecordsMultiDisplay",
                                8,
                                _multi(
                                    _("Most Viewed Works"),
                                    ("list",),
                                    page_size=6,
                                    maxHeight="300px",
                                ),
                            ),
                        ],
                    },
                    {
                        "name": "world-map",
                        "components": [
                            _component(
                                "StatsMap",
                                16,
                                {
                                    "title": _("All Countries of Origin for Visits"),
                                    **_map_props(),
                                    "uniformColorMode": True,
                                },
                            ),
                        ],
                    },
                    {
                        "name": "tables2",
                        "components": [
                            _component(
                                "FileTypesMultiDisplayDownloads",
                                8,
                                _multi(_("File Types Downloaded"), _pbl, "bar"),
                            ),
                            _component(
                                "LanguagesMultiDisplayViews",
                                8,
                                _multi(_("Top Languages Visited"), _pbl, "bar"),
                            ),
                            _component(
                                "ResourceTypesMultiDisplayViews",
                                8,
                                _multi(_("Top Work Types Visited"), _pbl, "bar"),
                            ),
                            _component(
                                "RightsMultiDisplayViews",
                                8,
                                _multi(_("Top Licenses by Visits"), _pbl, "pie"),
                            ),
                            _component(
                                "PublishersMultiDisplayViews",
                                8,
                                _multi(_("Top Publishers by Visits"), _pbl, "list"),
                            ),
                        ],
                    },
                ],
            },
            {
                "name": "usage",
                "label": _("Usage Rates"),
                "icon": "download",
                "date_range_phrase": _("Activity during"),
                "rows": [
                    {
                        "name": "single-stats",
                        "components": [
                            _single_stat(
                                "SingleStatViews", 5, _("Record Views"), "eye", 6
                            ),
                            _single_stat(
                                "SingleStatDownloads",
                                6,
                                _("Record Downloads"),
                                "download",
                                6,
                            ),
                            _single_stat(
                                "SingleStatTraffic",
                                5,
                                _("Data Downloaded"),
                                "chart line",
                                16,
                            ),
                        ],
                    },
                    {
                        "name": "charts",
                        "components": [
                            _component(
                                "TrafficStatsChart",
                                16,
                                {
                                    "height": 300,
                                    "title": _("Usage Rates"),
                                    "display_subcounts": {
                                        k: {} for k in _traffic_chart_subcounts
                                    },
                                },
                            ),
                        ],
                    },
                    {
                        "name": "world-map-delta",
                        "components": [
                            _component(
                                "StatsMap",
                                16,
                                {
                                    "title": _("Top Countries of Origin for Visits"),
                                    **_map_props(),
                                    "useSnapshot": False,
                                    "uniformColorMode": True,
                                },
                            ),
                        ],
                    },
                    {
                        "name": "tables2",
                        "components": [
                            _component(
                                "FileTypesMultiDisplayDownloadsDelta",
                                8,
                                _multi(_("File Types Downloaded"), _pbl, "bar"),
                            ),
                            _component(
                                "LanguagesMultiDisplayViewsDelta",
                                8,
                                _multi(_("Top Languages Visited"), _pbl, "bar"),
                            ),
                            _component(
                                "ResourceTypesMultiDisplayViewsDelta",
                                8,
                                _multi(_("Top Work Types Visited"), _pbl, "bar"),
                            ),
                            _component(
                                "RightsMultiDisplayViewsDelta",
                                8,
                                _multi(_("Top Licenses by Visits"), _pbl, "pie"),
                            ),
                            _component(
                                "PublishersMultiDisplayViewsDelta",
                                8,
                                _multi(_("Top Publishers by Visits"), _pbl, "list"),
                            ),
                        ],
                    },
                ],
            },
        ],
    },
}
"""Dashboard tabs, rows and components; ``global_layout`` is required and an optional
``community_layout`` is used by community dashboards."""

# Subcounts of the component-metrics registry: name -> multi-display prefix.
_registry_subcounts = {
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
# Usage subcounts whose snapshot type is ``all``: one series for views and downloads.
_all_type_usage_subcounts = ("resource_types", "access_statuses", "file_types")


def _usage_snapshot_subcount_entries() -> dict[str, dict[str, list[str]]]:
    """Build the per-subcount ``usage_snapshots`` registry entries."""
    entries = {}
    for key, md in _registry_subcounts.items():
        if key in _all_type_usage_subcounts:
            entries[key] = {
                "views": [f"{md}MultiDisplayViews"],
                "downloads": [f"{md}MultiDisplayDownloads"],
            }
        else:
            entries[f"{key}_by_view"] = {"views": [f"{md}MultiDisplayViews"]}
            entries[f"{key}_by_download"] = {
                "downloads": [f"{md}MultiDisplayDownloads"]
            }
    return entries


STATS_DASHBOARD_COMPONENT_METRICS_REGISTRY = {
    "record_deltas": {
        "global": {
            "records": ["ContentStatsChart", "SingleStatRecordCount"],
            "data_volume": ["ContentStatsChart", "SingleStatDataVolume"],
        },
        **{
            key: {"records": [f"{md}MultiDisplayDelta"]}
            for key, md in _registry_subcounts.items()
        },
    },
    "record_snapshots": {
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
        },
        **{
            key: {"records": [f"{md}MultiDisplay"]}
            for key, md in _registry_subcounts.items()
        },
    },
    "usage_deltas": {
        "global": {
            "views": ["TrafficStatsChart", "SingleStatViews"],
            "downloads": ["TrafficStatsChart", "SingleStatDownloads"],
            "data_volume": ["TrafficStatsChart", "SingleStatTraffic"],
        },
        "countries": {"views": ["CountriesMultiDisplayViewsDelta"]},
        "referrers": {"views": ["ReferrersMultiDisplayViewsDelta"]},
        **{
            key: {
                "views": [f"{md}MultiDisplayViewsDelta"],
                "downloads": [f"{md}MultiDisplayDownloadsDelta"],
            }
            for key, md in _registry_subcounts.items()
        },
    },
    "usage_snapshots": {
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
        **_usage_snapshot_subcount_entries(),
    },
}
"""Which components need which metric of which series (category -> series ->
metric -> component names); drives the pruning of optimised data series."""

STATS_DASHBOARD_DISABLED_MESSAGE_GLOBAL = (
    "The global and community statistics dashboards must be enabled by the "
    "{title} administrators."
)
"""Message of a disabled global dashboard, translated per request; ``{title}`` is
replaced by ``THEME_SHORT_TITLE``, else ``THEME_SITENAME``."""

STATS_DASHBOARD_DISABLED_MESSAGE_COMMUNITY = _(
    "Community owners and administrators can enable the dashboard from the "
    "community settings page"
)
"""Message of a disabled community dashboard when both dashboard switches are on."""

STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_LABEL = _("Enable Dashboard")
"""Label of the dashboard toggle in the community settings."""

STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_DESCRIPTION = _(
    "Show the 'Statistics' tab with this community's statistics dashboard."
)
"""Description of the dashboard toggle in the community settings."""

STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_ICON = "chart line"
"""Semantic UI icon of the dashboard toggle in the community settings."""

STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_HELPTEXT = _(
    "The first statistics can take several hours to appear after enabling."
)
"""Help text of the dashboard toggle in the community settings."""

STATS_DASHBOARD_COMPRESS_JSON = False
"""Deprecated: when True the client asks the API for ``application/json+gzip``."""

STATS_DASHBOARD_CLIENT_CACHE_COMPRESSION_ENABLED = False
"""Store gzip blobs instead of plain objects in the browser cache (IndexedDB)."""

# ---------------------------------------------------------------------------
# Aggregation behaviour and tuning
# ---------------------------------------------------------------------------

COMMUNITY_STATS_AGGREGATIONS = register_aggregations()
"""Aggregator registry merged into ``STATS_AGGREGATIONS``; the templates of each entry
are registered too."""

COMMUNITY_STATS_CATCHUP_INTERVAL = 365
"""Days one aggregation pass covers per scope; scheduled runs make one pass, the
``aggregate`` CLI repeats passes until the requested end."""

COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT = 20
"""Number of items kept by ``top`` subcounts in snapshot documents."""

COMMUNITY_STATS_FILTER_AGGREGATION_SIZE = 10000
"""Page size when listing communities, for runs and ``status`` (all pages are read,
so this is not a cap)."""

COMMUNITY_STATS_INITIAL_CHUNK_SIZE = 50
"""Initial number of documents per adaptive bulk-index request."""

COMMUNITY_STATS_MIN_CHUNK_SIZE = 1
"""Smallest adaptive bulk-index chunk size."""

COMMUNITY_STATS_MAX_CHUNK_SIZE = 100
"""Largest adaptive bulk-index chunk size."""

COMMUNITY_STATS_CHUNK_REDUCTION_FACTOR = 0.7
"""Chunk-size multiplier after a timeout or an HTTP 413 answer."""

COMMUNITY_STATS_CHUNK_GROWTH_FACTOR = 1.05
"""Chunk-size multiplier after a successful bulk request."""

COMMUNITY_STATS_BULK_INDEX_TIMEOUT = 300
"""Timeout in seconds of aggregator bulk and search requests."""

COMMUNITY_STATS_SCAN_PAGE_SIZE = 200
"""Documents per page of every aggregation scan (aggregation pages hold 1,000
buckets)."""

COMMUNITY_STATS_SCAN_PAGE_SIZE_MIN = 50
"""Smallest adaptive scan page; pages shrink towards it under memory pressure."""

COMMUNITY_STATS_SCAN_PAGE_SIZE_MAX = 500
"""Largest adaptive scan page."""

COMMUNITY_STATS_DELTA_BUFFER_SIZE = None
"""Delta documents buffered by snapshot passes; ``None`` means the scan page size."""

COMMUNITY_STATS_MEM_BUDGET_BYTES = None
"""Resident-memory budget of an aggregation pass in bytes; ``None`` means total RAM
times ``COMMUNITY_STATS_MEM_HIGH_WATER_PERCENT``."""

COMMUNITY_STATS_MEM_HIGH_WATER_PERCENT = 0.75
"""Fraction (0-1) of total RAM used as the aggregation memory budget."""

COMMUNITY_STATS_WS_OVERHEAD = 1.1
"""Deprecated memory-estimator factor; accepted and ignored with a startup warning."""

COMMUNITY_STATS_SCAN_OVERHEAD = 0.85
"""Deprecated memory-estimator factor; accepted and ignored with a startup warning."""

COMMUNITY_STATS_BULK_OVERHEAD = 1.3
"""Deprecated memory-estimator factor; accepted and ignored with a startup warning."""

COMMUNITY_STATS_DELTA_OVERHEAD = 1.2
"""Deprecated memory-estimator factor; accepted and ignored with a startup warning."""

COMMUNITY_STATS_MEM_SAFETY_FACTOR = 1.2
"""Deprecated memory-estimator factor; accepted and ignored with a startup warning."""

COMMUNITY_STATS_TOP_GROWTH_FACTOR = 3.0
"""Deprecated estimator setting for ``top`` subcounts; accepted and ignored with a
startup warning."""

COMMUNITY_STATS_TOP_GROWTH_FLOOR_FACTOR = 5.0
"""Deprecated estimator setting for ``top`` subcounts; accepted and ignored with a
startup warning."""

COMMUNITY_STATS_TOP_HARD_CAP_PER_KEY = 10000
"""Deprecated estimator setting for ``top`` subcounts; accepted and ignored with a
startup warning."""

COMMUNITY_STATS_TOP_DISCOVERY_DECAY = 0.3
"""Deprecated estimator setting for ``top`` subcounts; accepted and ignored with a
startup warning."""

COMMUNITY_STATS_AVG_DELTA_BYTES = 10240
"""Deprecated estimator setting; accepted and ignored with a startup warning."""

COMMUNITY_STATS_INMEMORY_MULTIPLIER = 4.0
"""Deprecated estimator setting; accepted and ignored with a startup warning."""

COMMUNITY_STATS_SCAN_SCROLL = "2m"
"""Deprecated: aggregation passes open no scroll contexts; accepted and ignored
with a startup warning."""

# ---------------------------------------------------------------------------
# Data-series query tuning
# ---------------------------------------------------------------------------

STATS_DATA_SERIES_PAGE_SIZE = 365
"""Page size of data-series queries."""

STATS_DATA_SERIES_PAGE_SIZE_MIN = 50
"""Smallest adaptive data-series page size."""

STATS_DATA_SERIES_PAGE_SIZE_MAX = 365
"""Largest adaptive data-series page size."""

STATS_DATA_SERIES_MEM_BUDGET_BYTES = None
"""Explicit memory budget of data-series queries in bytes; a positive int overrides
the RAM-based budget."""

STATS_DATA_SERIES_MEM_HIGH_WATER_PERCENT = 0.75
"""Fraction (0-1) of total RAM used as the data-series memory budget."""

STATS_DATA_SERIES_PAGE_OVERHEAD = 0.85
"""Estimator factor for the memory of one result page."""

STATS_DATA_SERIES_SERIES_OVERHEAD = 1.5
"""Estimator factor for the memory of the built series."""

STATS_DATA_SERIES_MEM_SAFETY_FACTOR = 1.2
"""Safety factor applied to the data-series memory estimate."""

STATS_DATA_SERIES_INMEMORY_MULTIPLIER = 4.0
"""Ratio of in-memory size to serialised document size."""

STATS_DATA_SERIES_BYTES_PER_DATAPOINT = 256
"""Assumed bytes per data point of a series."""

STATS_DATA_SERIES_AVG_DOC_BYTES = 2048
"""Assumed average size in bytes of an aggregation document."""

# ---------------------------------------------------------------------------
# Queries, API, serializers
# ---------------------------------------------------------------------------

# Empty for now: the 15 query entries (05 §6) are added with the API issue,
# when their query classes exist.
COMMUNITY_STATS_QUERIES: dict[str, Any] = {}
"""Query registry (name -> ``cls``, ``params``, ``permission_factory``) merged into
``STATS_QUERIES``; the API accepts only these names."""

# Empty for now: the serializers (JSON, brotli/gzip JSON, CSV, XLSX, XML) are
# added with the API issue.
COMMUNITY_STATS_SERIALIZERS: dict[str, Any] = {}
"""Content negotiation of the API POST: MIME type -> serializer."""

# ---------------------------------------------------------------------------
# Usage-event migration
# ---------------------------------------------------------------------------

STATS_DASHBOARD_REINDEXING_MAX_BATCHES = 1000
"""Most batches processed per monthly index per migration run (``0`` means no cap);
a month that reaches it is bookmarked and resumed by the next run."""

STATS_DASHBOARD_REINDEXING_BATCH_SIZE = 5000
"""Events per search page of the usage-event migration (1-10000)."""

STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT = 85
"""The migration stops cleanly, keeping its bookmark, when the OpenSearch JVM heap or
the local host memory use exceeds this percentage."""

STATS_DASHBOARD_REINDEXING_MAX_SPOT_CHECK_SAMPLE_SIZE = 100
"""Most documents compared field by field when a migrated month is validated."""

STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT = 600
"""Longest time in seconds the live events indexer may stay paused during the
current-month switch."""

# ---------------------------------------------------------------------------
# Response cache and job registry (Redis)
# ---------------------------------------------------------------------------

STATS_CACHE_REDIS_URL = None
"""Full URL of the response-cache Redis; ``None`` or empty means ``CACHE_REDIS_URL``
with its database replaced by ``STATS_CACHE_REDIS_DB``."""

STATS_CACHE_REDIS_DB = 7
"""Redis database of the response cache."""

STATS_CACHE_PREFIX = "stats_dashboard"
"""Key prefix of cached responses; followed by ``-lock:``, ``-state:`` or ``-test:``
it also prefixes the extension's lock, job-state and test keys."""

STATS_CACHE_DEFAULT_TTL = 365
"""Lifetime of cached responses in days; ``None`` or 0 means no expiry."""

STATS_CACHE_COMPRESSION_METHOD = "gzip"
"""How cached bodies are stored in Redis: ``gzip``, ``brotli`` or ``none``."""

STATS_CACHE_GENERATION_WAIT = 30
"""Seconds a request waits for another worker's build of the same cache entry before
answering 503 with ``Retry-After``."""

STATS_CACHE_UNIQUE_COUNTS_TTL = 3600
"""TTL in seconds of ``unique-counts`` entries whose range ends on or after
yesterday."""

STATS_AGG_REGISTRY_REDIS_DB = 8
"""Redis database of the job registry, on the same host as the cache; it never shares
the cache database."""

STATS_AGG_REGISTRY_PREFIX = "stats_agg_registry"
"""Prefix of every job-registry key."""

# ---------------------------------------------------------------------------
# Locks
# ---------------------------------------------------------------------------

STATS_DASHBOARD_LOCK_CONFIG = {
    "enabled": True,
    "aggregation": {
        "enabled": True,
        "lock_name": "community_stats_aggregation",
        "lock_timeout": 300,
    },
    "response_caching": {
        "enabled": True,
        "lock_name": "community_stats_cache_generation",
        "lock_timeout": 300,
    },
    "usage_migration": {
        "enabled": True,
        "lock_name": "community_stats_usage_migration",
        "lock_timeout": 300,
    },
    "community_events": {
        "enabled": True,
        "lock_name": "community_stats_community_events",
        "lock_timeout": 300,
    },
}
"""Renewable task locks: a task locks when the top-level and its section's
``enabled`` are true; ``lock_timeout`` is the lease length in seconds."""

# ---------------------------------------------------------------------------
# Subcounts
# ---------------------------------------------------------------------------

_extraction = "invenio_stats_dashboard.usage_events.extraction"


def _spec(
    field: str,
    label_field: str | None = None,
    includes: Any = (),
    combine: Any = None,
) -> dict[str, Any]:
    """Build one field spec of a subcount side."""
    spec = {
        "field": field,
        "label_field": label_field,
        "label_source_includes": list(includes),
    }
    if combine:
        spec["combine_subfields"] = list(combine)
    return spec


COMMUNITY_STATS_SUBCOUNTS = {
    "resource_types": {
        "records": {
            "snapshot_type": "all",
            "source_fields": [
                _spec(
                    "metadata.resource_type.id",
                    "metadata.resource_type.title",
                    ["metadata.resource_type.title", "metadata.resource_type.id"],
                ),
            ],
        },
        "usage_events": {
            "event_field": "resource_type",
            "extraction_path_for_event": "metadata.resource_type",
            "snapshot_type": "all",
            "source_fields": [
                _spec(
                    "resource_type.id",
                    "resource_type.title",
                    ["resource_type.title", "resource_type.id"],
                ),
            ],
        },
    },
    "access_statuses": {
        "records": {
            "snapshot_type": "all",
            "source_fields": [_spec("access.status")],
        },
        "usage_events": {
            "event_field": "access_status",
            "extraction_path_for_event": "access.status",
            "snapshot_type": "all",
            "source_fields": [_spec("access_status")],
        },
    },
    "languages": {
        "records": {
            "snapshot_type": "top",
            "source_fields": [
                _spec(
                    "metadata.languages.id",
                    "metadata.languages.title",
                    ["metadata.languages.title", "metadata.languages.id"],
                ),
            ],
        },
        "usage_events": {
            "event_field": "languages",
            "extraction_path_for_event": "metadata.languages",
            "snapshot_type": "top",
            "source_fields": [
                _spec(
                    "languages.id",
                    "languages.title",
                    ["languages.title", "languages.id"],
                ),
            ],
        },
    },
    "subjects": {
        "records": {
            "snapshot_type": "top",
            "source_fields": [
                _spec(
                    "metadata.subjects.id",
                    "metadata.subjects.subject",
                    [
                        "metadata.subjects.subject",
                        "metadata.subjects.scheme",
                        "metadata.subjects.id",
                    ],
                ),
            ],
        },
        # Off by default. To enable: event_field "subjects", extraction path
        # "metadata.subjects", snapshot_type "top", field "subjects.id", label
        # "subjects.subject" (then run usage-events migrate --reenrich).
        "usage_events": {},
    },
    "rights": {
        "records": {
            "snapshot_type": "top",
            "source_fields": [
                _spec(
                    "metadata.rights.id",
                    "metadata.rights.title",
                    ["metadata.rights.title", "metadata.rights.id"],
                ),
            ],
        },
        "usage_events": {
            "event_field": "rights",
            "extraction_path_for_event": "metadata.rights",
            "snapshot_type": "top",
            "source_fields": [
                _spec("rights.id", "rights.title", ["rights.title", "rights.id"]),
            ],
        },
    },
    "funders": {
        "records": {
            "snapshot_type": "top",
            "source_fields": [
                _spec(
                    "metadata.funding.funder.id",
                    "metadata.funding.funder.name",
                    ["metadata.funding.funder.name", "metadata.funding.funder.id"],
                    [
                        "metadata.funding.funder.id",
                        "metadata.funding.funder.name.keyword",
                    ],
                ),
            ],
        },
        "usage_events": {
            "event_field": "funders",
            "extraction_path_for_event": f"{_extraction}:extract_funders",
            "snapshot_type": "top",
            "source_fields": [
                _spec(
                    "funders.id",
                    "funders.name",
                    ["funders.id", "funders.name"],
                    ["funders.id", "funders.name"],
                ),
            ],
        },
    },
    "periodicals": {
        "records": {
            "snapshot_type": "top",
            "source_fields": [_spec("custom_fields.journal:journal.title.keyword")],
        },
        "usage_events": {
            "event_field": "journal_title",
            "extraction_path_for_event": "custom_fields.journal:journal.title",
            "snapshot_type": "top",
            "source_fields": [_spec("journal_title")],
        },
    },
    "publishers": {
        "records": {
            "snapshot_type": "top",
            "source_fields": [_spec("metadata.publisher.keyword")],
        },
        "usage_events": {
            "event_field": "publisher",
            "extraction_path_for_event": "metadata.publisher",
            "snapshot_type": "top",
            "source_fields": [_spec("publisher")],
        },
    },
    "affiliations": {
        "records": {
            "snapshot_type": "top",
            "source_fields": [
                _spec(
                    "metadata.creators.affiliations.id",
                    "metadata.creators.affiliations.name",
                    [
                        "metadata.creators.affiliations.name",
                        "metadata.creators.affiliations.id",
                    ],
                ),
                _spec(
                    "metadata.contributors.affiliations.id",
                    "metadata.contributors.affiliations.name",
                    [
                        "metadata.contributors.affiliations.name",
                        "metadata.contributors.affiliations.id",
                    ],
                ),
            ],
        },
        "usage_events": {
            "event_field": "affiliations",
            "extraction_path_for_event": f"{_extraction}:extract_affiliations",
            "snapshot_type": "top",
            "source_fields": [
                _spec(
                    "affiliations.id",
                    "affiliations.name",
                    ["affiliations.name", "affiliations.id"],
                ),
            ],
        },
    },
    "countries": {
        "records": {},
        "usage_events": {
            "event_field": None,
            "snapshot_type": "top",
            "source_fields": [_spec("country")],
        },
    },
    # Off by default. To enable: usage_events {"event_field": None,
    # "snapshot_type": "top", "source_fields": [{"field": "referrer", ...}]}.
    "referrers": {
        "records": {},
        "usage_events": {},
    },
    "file_types": {
        "records": {
            "snapshot_type": "all",
            "source_fields": [_spec("files.entries.ext")],
        },
        "usage_events": {
            "event_field": "file_types",
            "extraction_path_for_event": f"{_extraction}:extract_file_types",
            "snapshot_type": "all",
            "source_fields": [_spec("file_types")],
        },
    },
}
"""Subcount name -> ``records`` and ``usage_events`` sides: which record or enriched
event fields each breakdown groups by; an empty side is disabled."""

# ---------------------------------------------------------------------------
# Celery beat
# ---------------------------------------------------------------------------

COMMUNITY_STATS_CELERYBEAT_AGG_SCHEDULE = {
    "stats-aggregate-community-record-stats": {
        "task": (
            "invenio_stats_dashboard.tasks.aggregation_tasks."
            "aggregate_community_record_stats"
        ),
        "schedule": crontab(minute=40),
        "args": (
            (
                "community-usage-delta-agg",
                "community-records-delta-added-agg",
                "community-records-snapshot-added-agg",
                "community-usage-snapshot-agg",
            ),
        ),
        "options": {"expires": 3300},
    },
}
"""Beat entry of the hourly aggregation (minute 40), added to
``CELERY_BEAT_SCHEDULE`` when ``COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED`` is on."""

COMMUNITY_STATS_CELERYBEAT_CACHE_SCHEDULE = {
    "stats-cache-hourly-generation": {
        "task": (
            "invenio_stats_dashboard.tasks.cache_tasks.generate_cached_responses_task"
        ),
        "schedule": crontab(minute=50),
        "args": ("all", None, False, False, None),
        "options": {"expires": 3300},
    },
}
"""Beat entry of the hourly response caching (minute 50), added to
``CELERY_BEAT_SCHEDULE`` when ``COMMUNITY_STATS_SCHEDULED_CACHE_TASKS_ENABLED`` is
on."""
