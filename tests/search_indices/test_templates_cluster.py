"""The extension's templates and bookmark indices in a real OpenSearch node (01 §2–§3)."""

import json
from copy import deepcopy
from importlib import resources

import pytest
from helpers.documents import SAMPLES_BY_BOOKMARK_INDEX, SAMPLES_BY_TEMPLATE
from helpers.template_rows import REGISTERED_TEMPLATES
from opensearchpy import RequestError

TEMPLATE_ROWS = {
    stem: (f"{base}-*", base, priority, version)
    for stem, (_, base, priority, version, _) in REGISTERED_TEMPLATES.items()
}
"""stem -> (index pattern, read alias, priority, version), 01 §2.1 rows 1-7."""


def _installed(client, name):
    found = client.indices.get_index_template(name=name)["index_templates"]
    assert len(found) == 1
    return found[0]["index_template"]


def test_registered_templates_exist_exactly(app, stats_templates):
    """01-T2: names, patterns, priorities, versions, aliases and _meta, prefixed."""
    from invenio_stats_dashboard.search_indices import templates

    assert {t.stem for t in templates.REGISTERED_TEMPLATES} == set(TEMPLATE_ROWS)
    client = stats_templates
    prefix = app.config["SEARCH_INDEX_PREFIX"]
    assert prefix.startswith("test-")
    for stem, (pattern, alias, priority, version) in TEMPLATE_ROWS.items():
        template = _installed(client, f"{prefix}{stem}")
        assert template["index_patterns"] == [f"{prefix}{pattern}"]
        assert template["priority"] == priority
        assert template["version"] == version
        assert set(template["template"]["aliases"]) == {f"{prefix}{alias}"}
        meta = template["template"]["mappings"]["_meta"]
        assert meta["package"] == "invenio-stats-dashboard"
        assert meta["schema"] == stem
        if stem.startswith(("record-view", "file-download")):
            assert meta["stats_dashboard_enriched"] is True
        assert template["template"]["mappings"]["dynamic"] == "strict"


def test_second_ensure_changes_nothing(app, stats_templates, stats_dashboard):
    """01-T2: putting the templates again is a no-op."""
    result = stats_dashboard.ensure_search_setup(force=True)
    assert result["templates"] == []
    assert result["bookmark_indices"] == []


def test_no_template_unprefixed(app, stats_templates):
    """01 §10 #14: every name goes through the prefix."""
    names = {
        t["name"]
        for t in stats_templates.indices.get_index_template(name="*")["index_templates"]
    }
    assert not names & set(TEMPLATE_ROWS)


@pytest.mark.parametrize("stem", sorted(SAMPLES_BY_TEMPLATE))
def test_valid_document_indexes_unknown_field_rejected(app, stats_templates, stem):
    """01-T4: a valid document of each kind is accepted; an unknown field is not."""
    client = stats_templates
    prefix = app.config["SEARCH_INDEX_PREFIX"]
    index, document = SAMPLES_BY_TEMPLATE[stem]
    index = f"{prefix}{index}"
    client.index(index=index, id="ok", body=document, refresh=True)
    pattern, alias, _, _ = TEMPLATE_ROWS[stem]
    assert client.get(index=f"{prefix}{alias}", id="ok")["_source"] == document
    mapping = client.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["_meta"]["schema"] == stem

    with pytest.raises(RequestError) as error:
        client.index(index=index, id="bad", body={**document, "unknown_field": 1})
    assert "strict_dynamic_mapping_exception" in str(error.value)


@pytest.mark.parametrize("name", sorted(SAMPLES_BY_BOOKMARK_INDEX))
def test_bookmark_indices_strict(app, stats_templates, name):
    """01 §5.8: the bookmark indices exist with a strict mapping."""
    client = stats_templates
    index = f"{app.config['SEARCH_INDEX_PREFIX']}{name}"
    document = SAMPLES_BY_BOOKMARK_INDEX[name]
    client.index(index=index, id="ok", body=document, refresh=True)
    with pytest.raises(RequestError):
        client.index(index=index, id="bad", body={**document, "unknown_field": "x"})


def test_one_index_per_template_is_green(app, stats_templates):
    """01-T3: one index of each registered template keeps a one-node cluster green."""
    client = stats_templates
    prefix = app.config["SEARCH_INDEX_PREFIX"]
    for index, _ in SAMPLES_BY_TEMPLATE.values():
        client.indices.create(index=f"{prefix}{index}")
    health = client.cluster.health(
        index=f"{prefix}events-stats-*,{prefix}stats-*",
        wait_for_status="green",
    )
    assert health["status"] == "green"


def test_prefix_placeholder_in_every_shipped_file():
    """Shipped files carry the placeholder, never a concrete prefix."""
    root = resources.files("invenio_stats_dashboard.search_indices.search_templates")
    for package in root.iterdir():
        folder = package / "os-v2"
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name.endswith(".json"):
                body = json.loads(path.read_text())
                patterns = deepcopy(body["index_patterns"])
                assert all(p.startswith("__SEARCH_INDEX_PREFIX__") for p in patterns)
