"""Project fixtures shared by every test package (09 §8.3)."""

import pytest

TEMPLATE_CREATED_PATTERNS = ("events-stats-*", "stats-*", "backup-*")
"""Index patterns (without prefix) created from templates or by the extension."""


def delete_template_created_indices(client, prefix: str) -> None:
    """Delete the indices pytest-invenio's ``search_clear`` leaves behind."""
    patterns = ",".join(f"{prefix}{pattern}" for pattern in TEMPLATE_CREATED_PATTERNS)
    client.indices.delete(
        index=patterns, ignore_unavailable=True, allow_no_indices=True
    )


@pytest.fixture(scope="module")
def stats_dashboard(base_app):
    """The extension object of the test app."""
    return base_app.extensions["invenio-stats-dashboard"]


@pytest.fixture()
def stats_templates(app, search_clear, stats_dashboard):
    """Put the extension's search setup; delete template-created indices afterwards."""
    prefix = app.config["SEARCH_INDEX_PREFIX"]
    stats_dashboard.ensure_search_setup(force=True)
    yield search_clear
    delete_template_created_indices(search_clear, prefix)


@pytest.fixture(scope="module")
def cli(base_app):
    """Invoke a click command inside the app: ``cli(command, "arg", ..., input=None)``."""

    def invoke(command, *args, input=None):
        return base_app.test_cli_runner().invoke(command, list(args), input=input)

    return invoke
