"""The commands in real subprocesses, as an operator runs them (09 §2, W11, 06 §9)."""

import pytest


@pytest.mark.subprocess
def test_console_script_runs_the_same_tree(cli_process):
    """09-W11: ``community-stats`` and ``invenio community-stats`` show the same tree."""
    standalone = cli_process("community-stats", "--help")
    via_invenio = cli_process("invenio", "community-stats", "--help")
    assert standalone.returncode == 0, standalone.stderr
    assert via_invenio.returncode == 0, via_invenio.stderr
    assert standalone.stdout.splitlines()[0].startswith("Usage: community-stats")
    assert via_invenio.stdout.splitlines()[0].startswith(
        "Usage: invenio community-stats"
    )
    assert standalone.stdout.splitlines()[1:] == via_invenio.stdout.splitlines()[1:]


@pytest.mark.subprocess
def test_setup_guide_custom_field_commands(app, search_clear, cli_process):
    """Setup guide 3a, word for word, in a real ``invenio`` process."""
    created = cli_process(
        "invenio", "custom-fields", "communities", "init", "stats:dashboard_layout"
    )
    assert created.returncode == 0, created.stderr
    assert "stats:dashboard_layout: created" in created.stdout
    exists = cli_process(
        "invenio", "custom-fields", "communities", "exists", "stats:dashboard_layout"
    )
    assert exists.returncode == 0, exists.stderr
    assert exists.stdout.strip() == "Field stats:dashboard_layout exists"


def test_set_config_restores_both_apps(base_app, set_config):
    """09 §9 #15: ``set_config`` changes both apps for one test only."""
    from helpers.apps import api_app_of

    set_config(STATS_CACHE_PREFIX="temporary", NOT_SET_BEFORE=1)
    assert base_app.config["STATS_CACHE_PREFIX"] == "temporary"
    assert api_app_of(base_app).config["NOT_SET_BEFORE"] == 1


def test_set_config_was_restored(base_app, app_config):
    """Runs after the test above (file order): nothing leaked."""
    from helpers.apps import api_app_of

    for target in (base_app, api_app_of(base_app)):
        assert target.config["STATS_CACHE_PREFIX"] == app_config["STATS_CACHE_PREFIX"]
        assert "NOT_SET_BEFORE" not in target.config
