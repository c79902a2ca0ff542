"""Tests of the layout value schema (chapter 01 §8 table, §11 T10; chapter 07 §5.3)."""

import importlib
from types import SimpleNamespace

import pytest
from invenio_i18n import lazy_gettext

from invenio_stats_dashboard.custom_fields import layout_schema
from invenio_stats_dashboard.custom_fields.layout_schema import (
    LAYOUT_COMPONENT_NAMES,
    validate_layout,
)

COMPONENT_PATH = "community_layout.tabs[0].rows[0].components[0]"
PROPS_PATH = f"{COMPONENT_PATH}.props"


def make_layout(
    component=None, props=None, tab=None, row=None, root="community_layout"
):
    """A small valid layout; the keyword arguments update one level of it."""
    the_component = {"component": "StatsMap", "width": 16, "props": {"title": "Map"}}
    the_component.update(component or {})
    if props is not None:
        the_component["props"] = props
    the_row = {"name": "charts", "components": [the_component]}
    the_row.update(row or {})
    the_tab = {"name": "content", "label": "Content", "rows": [the_row]}
    the_tab.update(tab or {})
    return {root: {"tabs": [the_tab]}}


def only_error(errors):
    assert len(errors) == 1, errors
    return errors[0]


# --------------------------------------------------------------------------- T10


def test_shipped_default_layout_validates():
    """The default ``STATS_DASHBOARD_LAYOUT`` of config.py is valid (01 §10 #19)."""
    config = importlib.import_module("invenio_stats_dashboard.config")
    layout = config.STATS_DASHBOARD_LAYOUT
    assert "global_layout" in layout
    assert validate_layout(layout) == []
    assert validate_layout(layout, LAYOUT_COMPONENT_NAMES) == []


def test_small_valid_layout():
    assert validate_layout(make_layout()) == []


def test_width_17_names_the_path():
    errors = validate_layout(make_layout(component={"width": 17}))
    assert only_error(errors) == f"{COMPONENT_PATH}.width: must be 1-16, got 17"


def test_width_error_path_example_of_the_spec():
    layout = make_layout()
    tab = layout["community_layout"]["tabs"][0]
    tab["rows"].append({"name": "more", "components": [{"component": "StatsMap"}]})
    tab["rows"][1]["components"][0]["width"] = 17
    assert validate_layout(layout) == [
        "community_layout.tabs[0].rows[1].components[0].width: must be 1-16, got 17"
    ]


def test_unknown_tab_key():
    error = only_error(validate_layout(make_layout(tab={"colour": "red"})))
    assert error.startswith("community_layout.tabs[0].colour: unknown key")


def test_unknown_component():
    error = only_error(validate_layout(make_layout(component={"component": "Nope"})))
    assert error == f"{COMPONENT_PATH}.component: unknown component 'Nope'"


def test_zoom_float_is_valid():
    assert validate_layout(make_layout(props={"zoom": 1.3})) == []


def test_community_layout_with_zero_tabs():
    error = only_error(validate_layout({"community_layout": {"tabs": []}}))
    assert error.startswith("community_layout.tabs: must have at least 1 tab")


# ----------------------------------------------------------------------- root row


def test_root_accepts_either_layout_or_both():
    assert validate_layout(make_layout(root="global_layout")) == []
    both = {**make_layout(root="global_layout"), **make_layout()}
    assert validate_layout(both) == []


def test_root_needs_one_layout():
    error = only_error(validate_layout({}))
    assert error.startswith("(root): must contain at least one of")


@pytest.mark.parametrize("value", [None, [], "layout", 3])
def test_root_must_be_an_object(value):
    assert only_error(validate_layout(value)).startswith("(root): must be an object")


def test_root_unknown_key():
    layout = {**make_layout(), "global": {"tabs": []}}
    assert only_error(validate_layout(layout)).startswith("global: unknown key")


def test_path_prefix():
    errors = validate_layout(
        {"global_layout": {"tabs": []}}, path="STATS_DASHBOARD_LAYOUT"
    )
    assert only_error(errors).startswith("STATS_DASHBOARD_LAYOUT.global_layout.tabs:")


# ------------------------------------------------------------------ dashboard row


def test_dashboard_requires_tabs():
    error = only_error(validate_layout({"community_layout": {}}))
    assert error == "community_layout.tabs: is required"


def test_dashboard_unknown_key_and_non_list_tabs():
    errors = validate_layout({"community_layout": {"tabs": {}, "rows": []}})
    assert errors[0] == "community_layout.tabs: must be a list, got an object"
    assert errors[1].startswith("community_layout.rows: unknown key")


def test_dashboard_tab_names_unique():
    layout = make_layout()
    tabs = layout["community_layout"]["tabs"]
    tabs.append(dict(tabs[0], label="Again"))
    error = only_error(validate_layout(layout))
    assert error == "community_layout.tabs[1].name: duplicate name 'content'"


# ------------------------------------------------------------------------ tab row


@pytest.mark.parametrize("key", ["name", "label", "rows"])
def test_tab_required_keys(key):
    layout = make_layout()
    del layout["community_layout"]["tabs"][0][key]
    error = only_error(validate_layout(layout))
    assert error == f"community_layout.tabs[0].{key}: is required"


@pytest.mark.parametrize("key", ["name", "label"])
def test_tab_name_and_label_non_empty(key):
    error = only_error(validate_layout(make_layout(tab={key: "  "})))
    assert error == f"community_layout.tabs[0].{key}: must not be empty"


def test_tab_label_may_be_lazy_string():
    assert validate_layout(make_layout(tab={"label": lazy_gettext("Content")})) == []


@pytest.mark.parametrize("value", ["as_of", "range"])
def test_tab_date_display_valid(value):
    assert validate_layout(make_layout(tab={"date_display": value})) == []


def test_tab_date_display_invalid():
    error = only_error(validate_layout(make_layout(tab={"date_display": "asof"})))
    assert error.startswith("community_layout.tabs[0].date_display: must be one of")


def test_tab_optional_strings():
    tab = {"icon": "chart pie", "date_range_phrase": "Cumulative totals as of"}
    assert validate_layout(make_layout(tab=tab)) == []
    errors = validate_layout(make_layout(tab={"icon": 1, "date_range_phrase": None}))
    assert [e.split(":")[0] for e in errors] == [
        "community_layout.tabs[0].icon",
        "community_layout.tabs[0].date_range_phrase",
    ]


def test_tab_needs_a_row():
    error = only_error(validate_layout(make_layout(tab={"rows": []})))
    assert error == "community_layout.tabs[0].rows: must have at least 1 row, got 0"


# ------------------------------------------------------------------------ row row


@pytest.mark.parametrize("key", ["name", "components"])
def test_row_required_keys(key):
    layout = make_layout()
    del layout["community_layout"]["tabs"][0]["rows"][0][key]
    error = only_error(validate_layout(layout))
    assert error == f"community_layout.tabs[0].rows[0].{key}: is required"


def test_row_needs_a_component_and_rejects_unknown_keys():
    errors = validate_layout(make_layout(row={"components": [], "width": 4}))
    assert errors[0].startswith(
        "community_layout.tabs[0].rows[0].components: must have"
    )
    assert errors[1].startswith("community_layout.tabs[0].rows[0].width: unknown key")


# ------------------------------------------------------------------ component row


def test_component_required():
    layout = make_layout()
    del layout["community_layout"]["tabs"][0]["rows"][0]["components"][0]["component"]
    assert (
        only_error(validate_layout(layout))
        == f"{COMPONENT_PATH}.component: is required"
    )


def test_component_unknown_key():
    error = only_error(validate_layout(make_layout(component={"title": "x"})))
    assert error.startswith(f"{COMPONENT_PATH}.title: unknown key")


@pytest.mark.parametrize("key", ["width", "tablet", "mobile"])
@pytest.mark.parametrize("value", [1, 8, 16])
def test_component_widths_valid(key, value):
    assert validate_layout(make_layout(component={key: value})) == []


@pytest.mark.parametrize("key", ["width", "tablet", "mobile"])
@pytest.mark.parametrize("value", [0, 17, 8.0, "8", True, None])
def test_component_widths_invalid(key, value):
    error = only_error(validate_layout(make_layout(component={key: value})))
    assert error.startswith(f"{COMPONENT_PATH}.{key}: must be")


@pytest.mark.parametrize(
    "name",
    ["StatsChart", "DateRangeSelector", "SingleStatBox", "TopReferrersMultiDisplay"],
)
def test_non_layout_components_rejected(name):
    error = only_error(validate_layout(make_layout(component={"component": name})))
    assert error.startswith(f"{COMPONENT_PATH}.component: ")


def test_props_must_be_an_object():
    error = only_error(validate_layout(make_layout(component={"props": []})))
    assert error == f"{PROPS_PATH}: must be an object, got a list"


# ----------------------------------------------------------------- component names


def test_component_name_families():
    assert len(LAYOUT_COMPONENT_NAMES) == 84
    for name in [
        "ContentStatsChart",
        "TrafficStatsChartCumulative",
        "SingleStatTrafficCumulative",
        "SingleStatVisitors",
        "StatsMap",
        "FundersMultiDisplayDownloadsDelta",
        "ResourceTypesMultiDisplay",
        "CountriesMultiDisplayViewsDelta",
        "ReferrersMultiDisplayViews",
        "MostViewedRecordsMultiDisplay",
        "MostDownloadedRecordsMultiDisplay",
    ]:
        assert name in LAYOUT_COMPONENT_NAMES
    assert "SingleStatVisitorsCumulative" not in LAYOUT_COMPONENT_NAMES
    assert "CountriesMultiDisplay" not in LAYOUT_COMPONENT_NAMES
    assert "StatsMultiDisplay" not in LAYOUT_COMPONENT_NAMES


def test_entry_point_components_are_known(monkeypatch):
    def fake_entry_points(group):
        assert group == "invenio_stats_dashboard.components"
        return [SimpleNamespace(name="MyWidget", value="pkg:MyWidget")]

    monkeypatch.setattr(layout_schema, "entry_points", fake_entry_points)
    layout = make_layout(component={"component": "MyWidget"})
    assert validate_layout(layout) == []
    # an explicit set replaces the default names and the entry points
    assert validate_layout(layout, {"StatsMap"}) != []
    assert validate_layout(make_layout(), {"StatsMap"}) == []


def test_broken_entry_points_fall_back_to_builtin_names(monkeypatch):
    def broken(group):
        raise RuntimeError("broken metadata")

    monkeypatch.setattr(layout_schema, "entry_points", broken)
    assert validate_layout(make_layout()) == []


# ---------------------------------------------------------------------- props row

VALID_PROPS = [
    ("title", "Top Work Types"),
    ("title", lazy_gettext("Top Work Types")),
    ("icon", "chart line"),
    ("width", 8),
    ("tablet", 16),
    ("mobile", 1),
    ("height", 100),
    ("height", 2000),
    ("minHeight", 400),
    ("maxHeight", "300px"),
    ("chartType", "bar"),
    ("chartType", "line"),
    ("maxSeries", 1),
    ("maxSeries", 50),
    ("display_subcounts", {}),
    ("display_subcounts", {"resource_types": {}, "subjects": {"extra": 1}}),
    ("display_subcounts", {"languages": {"defaultLineDisplay": "stacked"}}),
    ("defaultLineDisplay", "stacked"),
    ("defaultLineDisplay", "overlapping"),
    ("pageSize", 1),
    ("pageSize", 100),
    ("default_view", "table"),
    ("available_views", ["pie", "bar", "list", "table"]),
    ("available_views", []),
    ("hideOtherInCharts", True),
    ("headers", ["Work type", "Records"]),
    ("zoom", 1),
    ("zoom", 1.3),
    ("zoom", 20),
    ("center", [0, 20]),
    ("center", [-73.5, 45.5]),
    ("metric", "views"),
    ("metric", "downloads"),
    ("metric", "visitors"),
    ("metric", "dataVolume"),
    ("useSnapshot", False),
    ("uniformColorMode", True),
    ("compactThreshold", 1),
    ("compactThreshold", 100000),
    ("anythingElse", {"passed": ["through"]}),
]

INVALID_PROPS = [
    ("title", 3, "title: must be a string"),
    ("icon", None, "icon: must be a string"),
    ("width", 17, "width: must be 1-16, got 17"),
    ("tablet", 0, "tablet: must be 1-16, got 0"),
    ("mobile", 2.5, "mobile: must be an integer 1-16"),
    ("height", 99, "height: must be 100-2000, got 99"),
    ("height", 2001, "height: must be 100-2000, got 2001"),
    ("minHeight", "400", "minHeight: must be an integer 100-2000"),
    ("maxHeight", 300, "maxHeight: must be a string"),
    ("chartType", "pie", "chartType: must be one of bar, line"),
    ("maxSeries", 0, "maxSeries: must be 1-50, got 0"),
    ("maxSeries", 51, "maxSeries: must be 1-50, got 51"),
    ("display_subcounts", ["resource_types"], "display_subcounts: must be an object"),
    ("display_subcounts", {"subjects": None}, "display_subcounts.subjects: must be"),
    (
        "display_subcounts",
        {"subjects": {"defaultLineDisplay": "flat"}},
        "display_subcounts.subjects.defaultLineDisplay: must be one of",
    ),
    ("defaultLineDisplay", "stack", "defaultLineDisplay: must be one of"),
    ("pageSize", 0, "pageSize: must be 1-100, got 0"),
    ("pageSize", 101, "pageSize: must be 1-100, got 101"),
    ("default_view", "grid", "default_view: must be one of pie, bar, list, table"),
    ("available_views", "pie", "available_views: must be a list"),
    ("available_views", ["pie", "map"], "available_views[1]: must be one of"),
    ("hideOtherInCharts", "true", "hideOtherInCharts: must be true or false"),
    ("headers", "Name", "headers: must be a list"),
    ("headers", ["Name", 2], "headers[1]: must be a string"),
    ("zoom", 0.5, "zoom: must be 1-20, got 0.5"),
    ("zoom", 21, "zoom: must be 1-20, got 21"),
    ("zoom", "1.3", "zoom: must be a number 1-20"),
    ("zoom", float("nan"), "zoom: must be a number 1-20"),
    ("center", [0], "center: must have exactly 2 items"),
    ("center", [0, "20"], "center[1]: must be a number"),
    ("center", {"lon": 0, "lat": 20}, "center: must be a list"),
    ("metric", "volume", "metric: must be one of views, downloads, visitors"),
    ("useSnapshot", 0, "useSnapshot: must be true or false"),
    ("uniformColorMode", None, "uniformColorMode: must be true or false"),
    ("compactThreshold", 0, "compactThreshold: must be >= 1, got 0"),
    ("compactThreshold", 1.5, "compactThreshold: must be an integer >= 1"),
]


@pytest.mark.parametrize("key,value", VALID_PROPS)
def test_props_valid(key, value):
    assert validate_layout(make_layout(props={key: value})) == []


@pytest.mark.parametrize("key,value,message", INVALID_PROPS)
def test_props_invalid(key, value, message):
    error = only_error(validate_layout(make_layout(props={key: value})))
    assert error.startswith(f"{PROPS_PATH}.{message}"), error


# -------------------------------------------------------------------- ordering


def test_errors_follow_document_order():
    layout = make_layout(component={"width": 0, "props": {"zoom": 99}}, tab={"x": 1})
    layout["community_layout"]["tabs"].append({"name": "b", "label": "", "rows": []})
    errors = validate_layout(layout)
    assert [e.split(":")[0] for e in errors] == [
        f"{COMPONENT_PATH}.width",
        f"{PROPS_PATH}.zoom",
        "community_layout.tabs[0].x",
        "community_layout.tabs[1].label",
        "community_layout.tabs[1].rows",
    ]


def test_validation_does_not_mutate_the_value():
    layout = make_layout(component={"width": 20})
    snapshot = repr(layout)
    validate_layout(layout)
    assert repr(layout) == snapshot
