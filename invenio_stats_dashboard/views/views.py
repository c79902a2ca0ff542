"""UI blueprint factory.

The blueprint carries the extension's Jinja templates, among them the display
template of the ``stats:dashboard_enabled`` custom field that the community about
page includes. The dashboard pages join it with the dashboards (08).
"""

from flask import Blueprint


def create_blueprint(app) -> Blueprint:
    """Create the ``invenio_stats_dashboard`` UI blueprint."""
    return Blueprint(
        "invenio_stats_dashboard",
        __name__,
        template_folder="../templates/semantic-ui",
    )
