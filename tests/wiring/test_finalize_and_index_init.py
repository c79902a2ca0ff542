"""Template installation at finalize and through ``invenio index init`` (09 §4, W10, W12).

This module runs on a prefix of its own, so it sees a fresh cluster.
"""

import json
from importlib import resources

import pytest
from conftest import SESSION_PREFIX
from invenio_search.proxies import current_search_client

from invenio_stats_dashboard.search_indices.templates import REGISTERED_TEMPLATES

MODULE_PREFIX = f"{SESSION_PREFIX}w12-"


@pytest.fixture(scope="module")
def app_config(app_config):
    app_config["SEARCH_INDEX_PREFIX"] = MODULE_PREFIX
    return app_config


def _exists(name):
    return current_search_client.indices.exists_index_template(name=name)


def _rdm_template(package):
    path = resources.files(
        f"invenio_rdm_records.records.stats.templates.aggregations.{package}"
    ).joinpath("os-v2")
    (json_file,) = [p for p in path.iterdir() if p.name.endswith(".json")]
    return json.loads(json_file.read_text())


def test_ui_finalize_installed_every_template(base_app):
    """09-W10: app creation alone (UI finalize) put every template, prefixed."""
    with base_app.app_context():
        for template in REGISTERED_TEMPLATES:
            assert _exists(f"{MODULE_PREFIX}{template.stem}"), template.stem


def test_api_app_alone_installs_templates(app_config, instance_path):
    """09-W10, 09 §9 #10: the API app's finalize installs the templates too."""
    from invenio_app.factory import create_api

    prefix = f"{SESSION_PREFIX}api-"
    api = create_api(**{**app_config, "SEARCH_INDEX_PREFIX": prefix})
    with api.app_context():
        for template in REGISTERED_TEMPLATES:
            assert _exists(f"{prefix}{template.stem}"), template.stem


def test_index_init_with_flag_true(base_app, database, cli):
    """09-W12: ``invenio index init`` succeeds and puts the composable aggr-* copies."""
    from invenio_search.cli import index

    result = cli(index, "init")
    assert result.exit_code == 0, result.output
    with base_app.app_context():
        client = current_search_client
        for name, package in (
            ("aggr-record-view-v1.0.0", "aggr_record_view"),
            ("aggr-file-download-v1.0.0", "aggr_file_download"),
        ):
            found = client.indices.get_index_template(name=f"{MODULE_PREFIX}{name}")
            installed = found["index_templates"][0]["index_template"]
            upstream = _rdm_template(package)
            assert installed["template"]["mappings"] == upstream["mappings"]
        for template in REGISTERED_TEMPLATES:
            assert _exists(f"{MODULE_PREFIX}{template.stem}")
        # An InvenioRDM aggregation index made afterwards gets the strict upstream mapping.
        index = f"{MODULE_PREFIX}stats-record-view-2025-01"
        client.indices.create(index=index)
        mapping = client.indices.get_mapping(index=index)[index]["mappings"]
        upstream = _rdm_template("aggr_record_view")["mappings"]
        assert mapping["dynamic"] == upstream["dynamic"] == "strict"
        assert mapping["properties"] == upstream["properties"]


def test_app_starts_while_search_is_down(app_config, caplog):
    """09 §9 #9: finalize logs and carries on when OpenSearch does not answer."""
    import logging
    import socket

    from invenio_app.factory import create_app

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        **app_config,
        "SEARCH_INDEX_PREFIX": f"{SESSION_PREFIX}down-",
        "SEARCH_HOSTS": [{"host": "127.0.0.1", "port": port}],
    }
    with caplog.at_level(logging.WARNING, logger="invenio_stats_dashboard"):
        down = create_app(**config)
    assert down.extensions["invenio-stats-dashboard"]._search_ready is False
    assert any(
        "index templates not installed at startup" in r.getMessage()
        for r in caplog.records
    )
