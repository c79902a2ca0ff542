"""Static checks of the shipped index templates and bookmark mappings.

Chapter 01 §2.1, §3, §5 of the spec. No OpenSearch is needed: every file is read with
``json`` from the installed (or checked-out) package folder.
"""

import importlib.util
import json
from pathlib import Path

import pytest
from helpers.template_rows import OWN_TEMPLATES

TEMPLATES_PACKAGE = "invenio_stats_dashboard.search_indices.search_templates"
BOOKMARKS_PACKAGE = "invenio_stats_dashboard.search_indices.bookmark_mappings"
UPSTREAM_AGGR_PACKAGE = "invenio_rdm_records.records.stats.templates.aggregations"
PREFIX = "__SEARCH_INDEX_PREFIX__"
PACKAGE_NAME = "invenio-stats-dashboard"


def _package_dir(dotted):
    """Folder of a package, found without importing anything (no app, no services)."""
    top, *rest = dotted.split(".")
    spec = importlib.util.find_spec(top)  # top-level lookup executes no module code
    assert spec is not None, f"{top} is not importable"
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)


TEMPLATES_DIR = _package_dir(TEMPLATES_PACKAGE)
BOOKMARKS_DIR = _package_dir(BOOKMARKS_PACKAGE)

AGGR_TEMPLATES = {
    "aggr-record-view-v1.0.0": "aggr_record_view",
    "aggr-file-download-v1.0.0": "aggr_file_download",
}
ALL_STEMS = set(OWN_TEMPLATES) | set(AGGR_TEMPLATES)

RECORD_SUBCOUNTS = {
    "resource_types",
    "access_statuses",
    "languages",
    "affiliations",
    "funders",
    "subjects",
    "publishers",
    "periodicals",
    "file_types",
    "rights",
}
USAGE_DELTA_SUBCOUNTS = RECORD_SUBCOUNTS | {"countries", "referrers"}
USAGE_SNAPSHOT_ALL = {"resource_types", "access_statuses", "file_types"}
USAGE_SNAPSHOT_TOP = {
    "languages",
    "affiliations",
    "funders",
    "subjects",
    "publishers",
    "periodicals",
    "countries",
    "rights",
    "referrers",
    "user_agents",
}
OBJECT_LABEL_KEYS = {"resource_types", "languages", "rights"}
LANGUAGE_OBJECT = {"type": "object", "dynamic": True}
LANGUAGE_KEYED_NAMES = {"title", "description", "label"}


def _template_files():
    return sorted(TEMPLATES_DIR.glob("*/os-v2/*.json"))


def _load(path):
    with open(path, encoding="utf-8") as fp:
        return json.load(fp)


def _template(stem):
    package = OWN_TEMPLATES[stem][0] if stem in OWN_TEMPLATES else AGGR_TEMPLATES[stem]
    return _load(TEMPLATES_DIR / package / "os-v2" / f"{stem}.json")


def _flat_settings(settings):
    """Normalise ``{"index": {...}}`` and ``{"index.x": ...}`` to plain keys."""
    flat = {}
    for key, value in settings.items():
        if key == "index" and isinstance(value, dict):
            flat.update(_flat_settings(value))
        else:
            flat[key.removeprefix("index.")] = value
    return flat


def _field(properties, dotted):
    node = {"properties": properties}
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


def _walk(properties, path=""):
    for name, mapping in properties.items():
        full = f"{path}.{name}" if path else name
        yield full, name, mapping
        if "properties" in mapping:
            yield from _walk(mapping["properties"], full)


# ------------------------------------------------------------------------------
# Inventory and layout
# ------------------------------------------------------------------------------


def test_exact_set_of_template_files():
    files = _template_files()
    stems = [f.stem for f in files]
    assert sorted(stems) == sorted(ALL_STEMS)
    # one JSON file per os-v2 folder, in the package named in 01 §2.1 / 03 §1
    for path in files:
        assert list(path.parent.glob("*.json")) == [path]
        assert (path.parent / "__init__.py").is_file()
        assert (path.parent.parent / "__init__.py").is_file()
    for stem, (package, *_rest) in OWN_TEMPLATES.items():
        assert (TEMPLATES_DIR / package / "os-v2" / f"{stem}.json").is_file()
    for stem, package in AGGR_TEMPLATES.items():
        assert (TEMPLATES_DIR / package / "os-v2" / f"{stem}.json").is_file()
    assert (TEMPLATES_DIR / "__init__.py").is_file()


def test_dropped_unsuffixed_snapshot_template_not_shipped():
    """01 §2.1 "Dropped" and §10 item 13."""
    names = {p.name for p in TEMPLATES_DIR.rglob("*.json")}
    assert "stats-community-records-snapshot-v1.0.0.json" not in names
    assert not (TEMPLATES_DIR / "stats_community_records_snapshot").exists()


def test_every_json_file_parses():
    paths = list(TEMPLATES_DIR.rglob("*.json")) + list(BOOKMARKS_DIR.glob("*.json"))
    assert len(paths) == len(ALL_STEMS) + 2
    for path in paths:
        assert isinstance(_load(path), dict), path


# ------------------------------------------------------------------------------
# 01 §2.1 and §3 for the extension's own templates
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", sorted(OWN_TEMPLATES))
def test_patterns_alias_priority_version(stem):
    _package, base, priority, version, _enriched = OWN_TEMPLATES[stem]
    body = _template(stem)
    assert set(body) == {"index_patterns", "priority", "version", "template"}
    assert body["index_patterns"] == [f"{PREFIX}{base}-*"]
    assert body["priority"] == priority
    assert body["version"] == version
    assert set(body["template"]) == {"settings", "mappings", "aliases"}
    assert body["template"]["aliases"] == {f"{PREFIX}{base}": {}}


@pytest.mark.parametrize("stem", sorted(OWN_TEMPLATES))
def test_meta(stem):
    enriched = OWN_TEMPLATES[stem][4]
    meta = _template(stem)["template"]["mappings"]["_meta"]
    expected = {"package": PACKAGE_NAME, "schema": stem}
    if enriched is not None:
        expected["stats_dashboard_enriched"] = enriched
    assert meta == expected
    assert "_meta" not in _template(stem)  # one _meta object, in the mapping


@pytest.mark.parametrize("stem", sorted(OWN_TEMPLATES))
def test_settings(stem):
    settings = _template(stem)["template"]["settings"]
    assert _flat_settings(settings) == {
        "refresh_interval": "5s",
        "number_of_shards": 1,
        "number_of_replicas": 1,
        "auto_expand_replicas": "0-1",
    }


@pytest.mark.parametrize("stem", sorted(ALL_STEMS))
def test_no_analysis(stem):
    body = _template(stem)
    settings = _flat_settings(body["template"]["settings"])
    assert not any(k == "analysis" or k.startswith("analysis.") for k in settings)
    assert "analyzer" not in json.dumps(body)


@pytest.mark.parametrize("stem", sorted(ALL_STEMS))
def test_root_mapping_strict(stem):
    mappings = _template(stem)["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    assert mappings["date_detection"] is False
    assert mappings["numeric_detection"] is False


@pytest.mark.parametrize("stem", sorted(ALL_STEMS))
def test_prefix_placeholder(stem):
    body = _template(stem)
    assert all(p.startswith(PREFIX) for p in body["index_patterns"])
    assert all(a.startswith(PREFIX) for a in body["template"]["aliases"])


@pytest.mark.parametrize("stem", sorted(OWN_TEMPLATES))
def test_only_language_keyed_objects_are_dynamic(stem):
    """01 §3 item 4: title/description/object labels are the only dynamic objects."""
    properties = _template(stem)["template"]["mappings"]["properties"]
    for path, name, mapping in _walk(properties):
        if "dynamic" in mapping:
            assert mapping == LANGUAGE_OBJECT, path
            assert name in LANGUAGE_KEYED_NAMES, path
        if name in {"title", "description"}:
            assert mapping == LANGUAGE_OBJECT, path


def test_patterns_do_not_overlap_at_equal_priority():
    """Composable templates with overlapping patterns and equal priority are refused."""
    bodies = {stem: _template(stem) for stem in ALL_STEMS}
    seen = {}
    for stem, body in bodies.items():
        for pattern in body["index_patterns"]:
            key = (pattern, body.get("priority"))
            assert key not in seen, (stem, seen.get(key))
            seen[key] = stem
    own_patterns = [b["index_patterns"][0].rstrip("*") for b in bodies.values()]
    for a in own_patterns:
        for b in own_patterns:
            assert a == b or not b.startswith(a), (a, b)


# ------------------------------------------------------------------------------
# Field checks (01 §5)
# ------------------------------------------------------------------------------

EVENT_KEYWORDS = [
    "recid",
    "parent_recid",
    "referrer",
    "country",
    "visitor_id",
    "unique_session_id",
    "unique_id",
    "community_ids",
    "access_status",
    "publisher",
    "journal_title",
    "file_types",
    # reserved (01 §5.1)
    "record_id",
    "parent_id",
    "labels",
    "ip_address",
    "user_agent",
    "user_id",
    "session_id",
]
DOWNLOAD_ONLY = {"bucket_id", "file_id", "file_key", "size"}


@pytest.mark.parametrize("stem", ["record-view-v2.0.0", "file-download-v2.0.0"])
def test_event_fields(stem):
    props = _template(stem)["template"]["mappings"]["properties"]
    assert props["timestamp"] == {
        "type": "date",
        "format": "strict_date_hour_minute_second",
    }
    assert props["updated_timestamp"]["type"] == "date"
    assert props["updated_timestamp"]["format"] == "strict_date_optional_time"
    for name in EVENT_KEYWORDS:
        assert props[name] == {"type": "keyword"}, name
    for name in ("is_robot", "is_machine", "via_api"):
        assert props[name] == {"type": "boolean"}, name
    # vocabulary arrays are plain objects, never nested
    for name in ("resource_type", "languages", "subjects", "rights", "affiliations"):
        assert props[name].get("type", "object") == "object", name
    assert _field(props, "resource_type.props.subtype") == {"type": "keyword"}
    assert _field(props, "rights.link") == {"type": "keyword", "index": False}
    assert _field(props, "rights.icon") == {"type": "keyword", "index": False}
    assert _field(props, "rights.description") == LANGUAGE_OBJECT
    assert _field(props, "languages.title") == LANGUAGE_OBJECT
    assert _field(props, "funders") == _field(props, "affiliations")
    assert _field(props, "funders.identifiers.scheme") == {"type": "keyword"}
    if stem.startswith("file-download"):
        assert DOWNLOAD_ONLY <= set(props)
        assert props["size"] == {"type": "long"}
    else:
        assert not DOWNLOAD_ONLY & set(props)


def test_file_download_keeps_date_dynamic_template():
    mappings = _template("file-download-v2.0.0")["template"]["mappings"]
    rules = [next(iter(r.values())) for r in mappings["dynamic_templates"]]
    assert {
        "match_mapping_type": "date",
        "mapping": {"type": "date", "format": "strict_date_hour_minute_second"},
    } in rules


def test_community_event_fields():
    props = _template("stats-community-events-v1.0.0")["template"]["mappings"][
        "properties"
    ]
    date = {"type": "date", "format": "strict_date_optional_time"}
    assert props == {
        "record_id": {"type": "keyword"},
        "community_id": {"type": "keyword"},
        "event_type": {"type": "keyword"},
        "event_date": date,
        "record_created_date": date,
        "record_published_date": date,
        "is_deleted": {"type": "boolean"},
        "deleted_date": date,
        "timestamp": date,
        "updated_timestamp": date,
    }


def _check_label(item_props, key):
    expected = LANGUAGE_OBJECT if key in OBJECT_LABEL_KEYS else {"type": "keyword"}
    assert item_props["label"] == expected, key
    assert item_props["id"] == {"type": "keyword"}, key


@pytest.mark.parametrize("basis", ["added", "created", "published"])
def test_records_templates_identical_across_bases(basis):
    for kind in ("delta", "snapshot"):
        ref = _template(f"stats-community-records-{kind}-added-v1.0.0")["template"]
        other = _template(f"stats-community-records-{kind}-{basis}-v1.0.0")["template"]
        assert other["settings"] == ref["settings"]
        assert {k: v for k, v in other["mappings"].items() if k != "_meta"} == {
            k: v for k, v in ref["mappings"].items() if k != "_meta"
        }


def test_records_delta_fields():
    props = _template("stats-community-records-delta-added-v1.0.0")["template"][
        "mappings"
    ]["properties"]
    assert props["period_start"] == {"type": "date", "format": "date_optional_time"}
    assert _field(props, "records.removed.with_files") == {"type": "integer"}
    assert _field(props, "files.added.data_volume") == {"type": "long"}
    subcounts = props["subcounts"]["properties"]
    assert set(subcounts) == RECORD_SUBCOUNTS
    for key, mapping in subcounts.items():
        assert mapping["type"] == "nested"
        _check_label(mapping["properties"], key)
        expected = {"id", "label", "records", "parents", "files"}
        assert set(mapping["properties"]) == expected


def test_records_snapshot_fields():
    props = _template("stats-community-records-snapshot-added-v1.0.0")["template"][
        "mappings"
    ]["properties"]
    assert props["snapshot_date"] == {"type": "date", "format": "date_optional_time"}
    assert _field(props, "total_files.file_count") == {"type": "long"}
    subcounts = props["subcounts"]["properties"]
    assert set(subcounts) == RECORD_SUBCOUNTS
    for key, mapping in subcounts.items():
        assert mapping["type"] == "nested"
        _check_label(mapping["properties"], key)
        expected = {"id", "label", "records", "parents", "files"}
        if key == "resource_types":
            expected.add("parent_files")  # reserved (01 §5.4)
        assert set(mapping["properties"]) == expected
        assert _field(mapping["properties"], "records.with_files") == {"type": "long"}


def _check_usage_item(mapping, key):
    assert mapping["type"] == "nested"
    props = mapping["properties"]
    assert set(props) == {"id", "label", "view", "download"}
    _check_label(props, key)
    assert set(props["view"]["properties"]) == {
        "total_events",
        "unique_visitors",
        "unique_records",
        "unique_parents",
    }
    assert set(props["download"]["properties"]) == {
        "total_events",
        "unique_visitors",
        "unique_records",
        "unique_parents",
        "unique_files",
        "total_volume",
    }
    assert _field(props, "download.total_volume") == {"type": "long"}


def test_usage_delta_fields():
    props = _template("stats-community-usage-delta-v1.0.0")["template"]["mappings"][
        "properties"
    ]
    assert props["period_end"] == {
        "type": "date",
        "format": "strict_date_hour_minute_second",
    }
    assert _field(props, "totals.download.total_volume") == {"type": "long"}
    subcounts = props["subcounts"]["properties"]
    assert set(subcounts) == USAGE_DELTA_SUBCOUNTS
    for key, mapping in subcounts.items():
        _check_usage_item(mapping, key)


def test_usage_snapshot_fields():
    props = _template("stats-community-usage-snapshot-v1.0.0")["template"]["mappings"][
        "properties"
    ]
    assert props["community_parent_id"] == {"type": "keyword"}
    subcounts = props["subcounts"]["properties"]
    assert set(subcounts) == USAGE_SNAPSHOT_ALL | USAGE_SNAPSHOT_TOP
    for key in USAGE_SNAPSHOT_ALL:
        _check_usage_item(subcounts[key], key)
    for key in USAGE_SNAPSHOT_TOP:
        mapping = subcounts[key]
        assert mapping["type"] == "nested"
        assert set(mapping["properties"]) == {"by_view", "by_download"}
        for side in ("by_view", "by_download"):
            _check_usage_item(mapping["properties"][side], key)


# ------------------------------------------------------------------------------
# aggr-* copies (01 §2.1 correction)
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", sorted(AGGR_TEMPLATES))
def test_aggr_templates_equal_upstream(stem):
    package = AGGR_TEMPLATES[stem]
    upstream_dir = _package_dir(f"{UPSTREAM_AGGR_PACKAGE}.{package}") / "os-v2"
    upstream = _load(upstream_dir / f"{stem}.json")
    ours = _template(stem)
    assert "_meta" not in ours
    assert "_meta" not in ours["template"]["mappings"]
    assert isinstance(ours["priority"], int)
    assert ours["index_patterns"] == upstream["index_patterns"]
    assert ours["template"] == {
        "settings": upstream["settings"],
        "mappings": upstream["mappings"],
        "aliases": upstream["aliases"],
    }
    assert set(ours) <= {"index_patterns", "priority", "version", "template"}


# ------------------------------------------------------------------------------
# Bookmark mappings (01 §5.8, 03 §4.7)
# ------------------------------------------------------------------------------

BOOKMARK_FIELDS = {
    "stats-bookmarks-community": {
        "date": ("date", "date_optional_time"),
        "aggregation_type": ("keyword", None),
        "community_id": ("keyword", None),
    },
    "stats-bookmarks-reindexing": {
        "task_id": ("keyword", None),
        "last_event_id": ("keyword", None),
        "last_event_timestamp": ("date", "date_optional_time"),
        "completed": ("boolean", None),
        "phase": ("keyword", None),
        "processed_count": ("long", None),
        "source_count": ("long", None),
        "source_index": ("keyword", None),
        "target_index": ("keyword", None),
        "enrichment_fingerprint": ("keyword", None),
        "cutoff": ("date", "*"),
        "last_error": ("keyword", None),
        "updated_timestamp": ("date", "*"),
    },
}


def test_bookmark_files_exact():
    assert {p.stem for p in BOOKMARKS_DIR.glob("*.json")} == set(BOOKMARK_FIELDS)


@pytest.mark.parametrize("name", sorted(BOOKMARK_FIELDS))
def test_bookmark_mapping(name):
    body = _load(BOOKMARKS_DIR / f"{name}.json")
    assert set(body) == {"settings", "mappings"}
    settings = _flat_settings(body["settings"])
    assert settings["number_of_shards"] == 1
    assert settings["auto_expand_replicas"] == "0-1"
    assert "analysis" not in settings
    mappings = body["mappings"]
    assert mappings["dynamic"] == "strict"
    assert mappings["date_detection"] is False
    assert mappings["numeric_detection"] is False
    assert mappings["_meta"]["package"] == PACKAGE_NAME
    props = mappings["properties"]
    assert set(props) == set(BOOKMARK_FIELDS[name])
    for field, (ftype, fmt) in BOOKMARK_FIELDS[name].items():
        assert props[field]["type"] == ftype, field
        if fmt == "*":
            assert "format" in props[field], field
        elif fmt:
            assert props[field]["format"] == fmt, field
