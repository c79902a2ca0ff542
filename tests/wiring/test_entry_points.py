"""09-W1: the installed distribution registers exactly the entry points that work."""

from importlib.metadata import distribution

from invenio_base.utils import obj_or_import_string

EXPECTED = {
    ("invenio_base.apps", "invenio_stats_dashboard"): (
        "invenio_stats_dashboard.ext:InvenioStatsDashboard"
    ),
    ("invenio_base.api_apps", "invenio_stats_dashboard"): (
        "invenio_stats_dashboard.ext:InvenioStatsDashboard"
    ),
    ("invenio_base.blueprints", "invenio_stats_dashboard"): (
        "invenio_stats_dashboard.views.views:create_blueprint"
    ),
    ("invenio_base.finalize_app", "invenio_stats_dashboard"): (
        "invenio_stats_dashboard.ext:finalize_app"
    ),
    ("invenio_base.api_finalize_app", "invenio_stats_dashboard"): (
        "invenio_stats_dashboard.ext:api_finalize_app"
    ),
    ("invenio_assets.webpack", "invenio_stats_dashboard_theme"): (
        "invenio_stats_dashboard.webpack:theme"
    ),
    ("flask.commands", "community-stats"): "invenio_stats_dashboard.cli:cli",
    ("flask.commands", "custom-fields"): (
        "invenio_stats_dashboard.cli.custom_fields:custom_fields"
    ),
    ("console_scripts", "community-stats"): "invenio_stats_dashboard.cli:main",
}


def test_entry_points_exact_and_importable():
    registered = {
        (ep.group, ep.name): ep.value
        for ep in distribution("invenio-stats-dashboard").entry_points
    }
    assert registered == EXPECTED
    for value in registered.values():
        assert obj_or_import_string(value.replace(":", ".")) is not None
