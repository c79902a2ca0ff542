"""The ``invenio community-stats`` group and its master switch (06 §1, 07 §1.6)."""

import click
import pytest
from flask import Flask

from invenio_stats_dashboard.cli import cli
from invenio_stats_dashboard.ext import InvenioStatsDashboard


@pytest.fixture()
def probe_command():
    """A throwaway sub-command, removed again after the test."""

    @cli.command("probe")
    def probe():
        click.echo("probe ran")

    yield probe
    cli.commands.pop("probe")


@pytest.mark.parametrize("enabled", [True, False])
def test_master_switch(probe_command, enabled):
    """09-W2, 07 §11 #8: a disabled extension makes every command exit 1, one line."""
    app = Flask("cli")
    app.config["COMMUNITY_STATS_ENABLED"] = enabled
    InvenioStatsDashboard(app)
    result = app.test_cli_runner().invoke(cli, ["probe"])
    if enabled:
        assert result.exit_code == 0
        assert result.stdout == "probe ran\n"
    else:
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr.strip().splitlines() == [
            "Error: refused: invenio-stats-dashboard is disabled "
            "(COMMUNITY_STATS_ENABLED is False)"
        ]


def test_help_lists_only_working_commands():
    """Issue acceptance: ``--help`` lists no command that does not work."""
    app = Flask("cli")
    InvenioStatsDashboard(app)
    result = app.test_cli_runner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert set(cli.commands) == {
        "aggregate",
        "aggregate-background",
        "status",
        "read",
        "clear-bookmarks",
        "clear-lock",
        "community-events",
        "processes",
        "usage-events",
    }
    assert set(cli.commands["community-events"].commands) == {
        "generate",
        "status",
        "generate-background",
    }
    assert set(cli.commands["processes"].commands) == {"status", "cancel", "list"}
