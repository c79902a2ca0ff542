"""Project fixtures shared by every test package (09 §8.3)."""

import pytest


@pytest.fixture(scope="module")
def stats_dashboard(base_app):
    """The extension object of the test app."""
    return base_app.extensions["invenio-stats-dashboard"]


@pytest.fixture()
def stats_templates(app, search_clear, stats_dashboard):
    """Put the extension's search setup; delete template-created indices afterwards."""
    from helpers.factory_fixtures import delete_stats_indices

    stats_dashboard.ensure_search_setup(force=True)
    yield search_clear
    delete_stats_indices()


@pytest.fixture(scope="module")
def cli(base_app):
    """Invoke a click command inside the app: ``cli(command, "arg", ..., input=None)``."""

    def invoke(command, *args, input=None):
        return base_app.test_cli_runner().invoke(command, list(args), input=input)

    return invoke
