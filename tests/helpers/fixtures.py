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


@pytest.fixture()
def set_config(base_app):
    """Set config values on the UI and the API app; always restored after the test."""
    from helpers.apps import api_app_of

    apps = (base_app, api_app_of(base_app))
    missing = object()
    saved = []

    def set_values(**values):
        for target in apps:
            for key, value in values.items():
                saved.append((target, key, target.config.get(key, missing)))
                target.config[key] = value

    yield set_values
    for target, key, value in reversed(saved):
        if value is missing:
            target.config.pop(key, None)
        else:
            target.config[key] = value


@pytest.fixture()
def cli_process(app_config, tmp_path):
    """Run a real ``invenio``/``community-stats`` subprocess on the test services.

    ``cli_process("invenio", "community-stats", "--help", config={...})``; ``config``
    adds ``invenio.cfg`` values for that call.
    """
    from helpers.processes import run_command, write_instance_config

    def run(program, *args, config=None, timeout=120):
        instance = tmp_path / "instance"
        write_instance_config(instance, app_config, **(config or {}))
        return run_command(instance, program, *args, timeout=timeout)

    return run
