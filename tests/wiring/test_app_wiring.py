"""The extension inside InvenioRDM's own app factory (UI app + API app)."""

from helpers.apps import api_app_of
from invenio_stats.proxies import current_stats

from invenio_stats_dashboard.aggregations.community_events_index import (
    CommunityEventsIndexAggregator,
)


def test_both_apps_carry_the_extension(base_app):
    """09 §2: the extension is on the UI app and on the API app."""
    assert base_app.extensions["invenio-stats-dashboard"].enabled is True
    assert api_app_of(base_app).extensions["invenio-stats-dashboard"].enabled is True


def test_invenio_stats_sees_merged_registries(app):
    """09 §3 step 8: invenio-stats builds every aggregation, ours included."""
    events = current_stats.events_config
    assert events["record-view"]["templates"].endswith("search_templates.record_view")
    assert events["file-download"]["templates"].endswith(
        "search_templates.file_download"
    )
    aggregations = current_stats.aggregations
    assert {"record-view-agg", "file-download-agg", "community-events-agg"} <= set(
        aggregations
    )
    placeholder = aggregations["community-events-agg"]
    assert placeholder.cls is CommunityEventsIndexAggregator
    instance = placeholder.cls(name="community-events-agg", **placeholder.params)
    assert instance.run() == []
    assert instance.list_bookmarks() == []
    assert instance.delete() is None


def test_settings_section_once(app):
    """09-W7: with opt-in on (default) the UI section is there exactly once."""
    sections = [
        section
        for section in app.config["COMMUNITIES_CUSTOM_FIELDS_UI"]
        if any(f["field"] == "stats:dashboard_enabled" for f in section["fields"])
    ]
    assert len(sections) == 1
    (field,) = sections[0]["fields"]
    assert field["ui_widget"] == "DashboardEnabledField"
    assert field["template"] == "dashboard_enabled.html"
    names = [f.name for f in app.config["COMMUNITIES_CUSTOM_FIELDS"]]
    assert names[:2] == ["stats:dashboard_enabled", "stats:dashboard_layout"]
    assert "stats" in app.config["COMMUNITIES_NAMESPACES"]


def test_settings_widget_ships_in_the_webpack_bundle(app):
    """09 §5: the ``DashboardEnabledField`` widget is in the theme bundle's folder."""
    from pathlib import Path

    from invenio_stats_dashboard.webpack import theme

    (field,) = [
        f
        for section in app.config["COMMUNITIES_CUSTOM_FIELDS_UI"]
        for f in section["fields"]
        if f["field"] == "stats:dashboard_enabled"
    ]
    bundle_root = Path(theme.themes["semantic-ui"].path)
    widget = bundle_root / "templates" / "custom_fields" / f"{field['ui_widget']}.js"
    assert widget.is_file()
    assert "export default function DashboardEnabledField" in widget.read_text()
