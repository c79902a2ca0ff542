"""Live enrichment of view and download events against the real services (03 §2, §3).

Events go through invenio-stats' real pipeline: they are built as InvenioRDM's builder
chain builds them, queued on the Redis broker and indexed by ``process_events``, which
runs the configured ``EnrichedEventsIndexer`` (01 §5.1, §5.9, §7). Every expected
value is computed here from the data the test created: the vocabulary entries of
``tests/data/vocabularies``, the relation versions read from the vocabulary services,
the file keys, the communities and the membership changes written by the test.

The app of this module enables InvenioRDM's journal custom field
(``RDM_NAMESPACES``/``RDM_CUSTOM_FIELDS`` of ``invenio_rdm_records.contrib.journal``),
which the shared test config does not, so ``custom_fields.journal:journal.title`` can
be set on records.
"""

import copy
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from helpers.community_event_log import (
    LiveWriters,
    create_fast_refresh_indices,
    delete_synthetic_versions,
    index_synthetic_versions,
    log_hits,
    refresh_log,
)
from helpers.factories import (
    BROWSER_UA,
    DOWNLOAD,
    ROBOT_UA,
    VIEW,
    build_view_event,
    emit_download,
    emit_view,
    event_index,
    make_community,
    make_draft,
    make_record,
    make_user,
    process_usage_events,
    publish_events,
    search_events,
)
from helpers.vocabularies import read_entries
from invenio_access.permissions import system_identity
from invenio_rdm_records.contrib.journal.custom_fields import (
    JOURNAL_CUSTOM_FIELDS,
    JOURNAL_NAMESPACE,
)
from invenio_rdm_records.records.api import RDMRecord
from invenio_records_resources.proxies import current_service_registry
from invenio_search import current_search_client
from invenio_search.utils import prefix_index
from opensearchpy.helpers import bulk

from invenio_stats_dashboard.community_events.documents import VersionInfo, build_event
from invenio_stats_dashboard.usage_events import indexing_state
from invenio_stats_dashboard.usage_events.enricher import EventEnricher
from invenio_stats_dashboard.usage_events.event_mappings import IndexFieldGuard
from invenio_stats_dashboard.usage_events.fields import configured_fields, fingerprint

GLOBAL = "global"

BASE_FIELDS = {
    VIEW: {
        "timestamp",
        "recid",
        "parent_recid",
        "referrer",
        "country",
        "visitor_id",
        "unique_session_id",
        "unique_id",
        "is_robot",
        "is_machine",
        "via_api",
        "updated_timestamp",
    },
}
BASE_FIELDS[DOWNLOAD] = BASE_FIELDS[VIEW] | {"bucket_id", "file_id", "file_key", "size"}
"""Fields invenio-stats writes (03 §2); anything else on an event is enrichment."""

DEFAULT_ENRICHMENT_FIELDS = {
    "community_ids",
    "resource_type",
    "access_status",
    "languages",
    "rights",
    "funders",
    "affiliations",
    "journal_title",
    "publisher",
    "file_types",
}
"""The enrichment fields of the default ``COMMUNITY_STATS_SUBCOUNTS`` (03 §2 table;
``subjects`` is off by default)."""

JOURNAL_TITLE = "Journal of Live Enrichment"
PUBLISHER = "Enrichment Press"
FREE_AFFILIATION = {"name": "Free-text Institute"}


# ------------------------------------------------------------------------ app


@pytest.fixture(scope="module")
def app_config(app_config):
    """Enable the journal custom field (not enabled by the shared test config)."""
    app_config["RDM_NAMESPACES"] = {
        **(app_config.get("RDM_NAMESPACES") or {}),
        **JOURNAL_NAMESPACE,
    }
    app_config["RDM_CUSTOM_FIELDS"] = [
        *(app_config.get("RDM_CUSTOM_FIELDS") or []),
        *JOURNAL_CUSTOM_FIELDS,
    ]
    return app_config


@pytest.fixture(autouse=True)
def fast_membership_log(running_app):
    """Membership changes write the log with ``wait_for``; keep each wait short."""
    create_fast_refresh_indices()


@pytest.fixture(autouse=True)
def fresh_field_guard():
    """Event indices are deleted between tests; forget which ones were checked.

    (In a worker process an index is checked once; here the same monthly name is
    deleted and created again by the next test.)
    """
    IndexFieldGuard.forget()
    yield
    IndexFieldGuard.forget()


@pytest.fixture(autouse=True)
def indexer_state_left_clean(running_app):
    """Leave no pause flag and no fingerprint of a test-only configuration behind.

    Indexer runs under a changed ``COMMUNITY_STATS_SUBCOUNTS`` report their
    fingerprint; a later module's re-enrichment would take it for a worker still
    running an old configuration (03 §5).
    """
    state = indexing_state.redis_client()
    key = indexing_state.state_key(current_app.config, indexing_state.FINGERPRINTS_KEY)
    before = set(state.hkeys(key))
    yield
    current = fingerprint(configured_fields(current_app.config)).encode()
    stale = set(state.hkeys(key)) - before - {current}
    if stale:
        state.hdel(key, *stale)
    paused = indexing_state.is_paused(state)
    state.close()
    assert not paused, "a test left the pause flag set"


@pytest.fixture(scope="module")
def owner(running_app):
    return make_user("live-owner@example.org")


@pytest.fixture(scope="module")
def uploader(running_app):
    return make_user("live-uploader@example.org")


@pytest.fixture(scope="module")
def community(running_app, owner):
    return make_community(owner, "live-enrichment-c")


# -------------------------------------------------------------------- helpers


def now_utc():
    """Now as naive UTC, whole seconds (what the builders' timestamps look like)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def cid(community):
    return str(community.id)


VOCABULARY_SERVICES = {"affiliations": "affiliations", "funders": "funders"}
"""Vocabularies with a service of their own; the rest use the generic service."""


def vocabulary_record(vocabulary_type, entry_id):
    """The stored vocabulary entry (what a record's relation dereferences).

    Returns its service dump with ``@v`` (``<record uuid>::<revision id>``) added.
    """
    service_id = VOCABULARY_SERVICES.get(vocabulary_type, "vocabularies")
    pid = entry_id if service_id != "vocabularies" else (vocabulary_type, entry_id)
    item = current_service_registry.get(service_id).read(system_identity, pid)
    data = dict(item.data)
    assert data["id"] == entry_id
    # the entry loaded from tests/data/vocabularies (empty strings are not stored)
    (loaded,) = [e for e in read_entries(vocabulary_type) if e["id"] == entry_id]
    assert data.get("title") == loaded.get("title")
    data["@v"] = f"{item._record.id}::{item._record.revision_id}"
    return data


def _present(mapping, keys):
    """The ``keys`` of ``mapping`` that hold a value (relations skip the others)."""
    return {key: mapping[key] for key in keys if mapping.get(key) not in (None, "")}


def expected_resource_type(entry_id):
    entry = vocabulary_record("resourcetypes", entry_id)
    return {
        "@v": entry["@v"],
        "id": entry_id,
        "title": entry["title"],
        "props": _present(entry["props"], ("type", "subtype")),
    }


def expected_language(entry_id):
    entry = vocabulary_record("languages", entry_id)
    return {"@v": entry["@v"], "id": entry_id, "title": entry["title"]}


def expected_right(entry_id):
    entry = vocabulary_record("licenses", entry_id)
    return {
        "@v": entry["@v"],
        "id": entry_id,
        "title": entry["title"],
        "description": entry["description"],
        "props": _present(entry["props"], ("url", "scheme")),
        "icon": entry["icon"],
    }


def expected_organisation(vocabulary_type, entry_id):
    entry = vocabulary_record(vocabulary_type, entry_id)
    return {
        "@v": entry["@v"],
        "id": entry_id,
        "name": entry["name"],
        "identifiers": [
            {"identifier": i["identifier"], "scheme": i["scheme"]}
            for i in entry["identifiers"]
        ],
    }


def upstream_file_ext(record, key):
    """``ext`` of a record file as invenio-records-resources' ``File.ext`` says."""
    return RDMRecord.pid.resolve(record.id).files[key].file.ext


def person(family_name, affiliations, role=None):
    entry = {
        "person_or_org": {"type": "personal", "family_name": family_name},
        "affiliations": copy.deepcopy(affiliations),
    }
    if role:
        entry["role"] = {"id": role}
    return entry


def enrichment_of(hit, event_type):
    """The fields of an indexed event that invenio-stats did not write."""
    source = hit["_source"]
    return {k: v for k, v in source.items() if k not in BASE_FIELDS[event_type]}


def mine(record):
    return {"term": {"recid": record if isinstance(record, str) else record.id}}


def assert_no_errors(results):
    for event_type, (_indexed, errors) in results:
        assert errors == 0, event_type


def membership_actions(record, community_id, changes):
    """Bulk actions of membership log documents with exact dates (02 §2, 01 §5.2).

    ``changes``: ``[(event_type, aware datetime), ...]``. Documents are built with the
    extension's own document builder (deterministic id, yearly index).
    """
    data = record if isinstance(record, dict) else record.data
    version = VersionInfo(
        record_id=data["id"],
        parent_id=data["parent"]["id"],
        created=datetime.fromisoformat(data["created"]),
        publication_date=data["metadata"]["publication_date"],
    )
    return [
        build_event(version, community_id, event_type, when)
        for event_type, when in changes
    ]


def write_log(actions):
    written, errors = bulk(
        current_search_client, actions, refresh=True, chunk_size=2000
    )
    assert written == len(actions) and not errors
    refresh_log()


def write_membership(record, community_id, changes):
    """Write the membership changes of one record into the log."""
    write_log(membership_actions(record, community_id, changes))


def synthetic_record(record_id, created):
    """The fields of a synthetic version the log documents need."""
    return {
        "id": record_id,
        "parent": {"id": f"{record_id}-parent"},
        "created": created.isoformat(),
        "metadata": {"publication_date": "2021-06"},
    }


def at(text):
    """An aware UTC datetime from ``YYYY-MM-DDTHH:MM:SS``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ----------------------------------------------------------- 1. every field


def test_view_and_download_carry_every_enrichment_field(
    running_app, clear_stats_indices, uploader, community
):
    """03 test 1: all §2 fields equal the record's values; the download's own type."""
    creator_affiliations = [{"id": "01ggx4157"}, FREE_AFFILIATION]
    contributor_affiliations = [
        {"id": "01ggx4157"},  # same as the creator's: kept once
        {"id": "04d836q62"},
        dict(FREE_AFFILIATION),  # same name, no id: kept once
    ]
    files = {"paper.pdf": 1200, "data.csv": 300}
    record = make_record(
        uploader,
        communities=[community],
        files=files,
        resource_type="publication-article",
        languages=["eng", "fra"],
        rights=["cc-by-4.0"],
        funding=[("00k4n6c32", "00k4n6c32::101000001")],
        creators=[person("Lovelace", creator_affiliations)],
        contributors=[person("Curie", contributor_affiliations, role="other")],
        publisher=PUBLISHER,
        custom_fields={"journal:journal": {"title": JOURNAL_TITLE, "issue": "7"}},
    )
    when = now_utc()
    emit_view(record, when)
    emit_download(record, "data.csv", when)

    results = process_usage_events()
    assert_no_errors(results)
    assert dict(results) == {VIEW: (1, 0), DOWNLOAD: (1, 0)}

    common = {
        "community_ids": [cid(community)],
        "resource_type": expected_resource_type("publication-article"),
        "access_status": "open",
        "languages": [expected_language("eng"), expected_language("fra")],
        "rights": [expected_right("cc-by-4.0")],
        "funders": [expected_organisation("funders", "00k4n6c32")],
        "affiliations": [
            expected_organisation("affiliations", "01ggx4157"),
            FREE_AFFILIATION,
            expected_organisation("affiliations", "04d836q62"),
        ],
        "journal_title": JOURNAL_TITLE,
        "publisher": PUBLISHER,
    }
    assert set(common) | {"file_types"} == DEFAULT_ENRICHMENT_FIELDS

    (view,) = search_events(VIEW, mine(record))
    assert view["_index"] == event_index(VIEW, when)
    view_fields = enrichment_of(view, VIEW)
    view_types = view_fields.pop("file_types")
    assert sorted(view_types) == sorted(upstream_file_ext(record, k) for k in files)
    assert sorted(view_types) == ["csv", "pdf"]
    assert view_fields == common

    (download,) = search_events(DOWNLOAD, mine(record))
    assert download["_source"]["file_key"] == "data.csv"
    download_fields = enrichment_of(download, DOWNLOAD)
    assert download_fields.pop("file_types") == [upstream_file_ext(record, "data.csv")]
    assert download_fields == common

    for hit in (view, download):
        assert GLOBAL not in hit["_source"]["community_ids"]

    # the run recorded its fingerprint and let go of the indexing lock (03 §3.3)
    state = indexing_state.redis_client()
    try:
        current = fingerprint(configured_fields(current_app.config))
        assert current in indexing_state.recent_fingerprints(state)
        assert not indexing_state.indexing_lock_held(state)
    finally:
        state.close()


# ------------------------------------------------------------- 2. edge cases


def test_record_in_no_community_has_empty_community_ids(
    running_app, clear_stats_indices, uploader
):
    record = make_record(uploader, files={"notes.txt": 10})
    when = now_utc()
    emit_view(record, when)
    emit_download(record, "notes.txt", when)
    assert_no_errors(process_usage_events())

    for event_type in (VIEW, DOWNLOAD):
        (hit,) = search_events(event_type, mine(record))
        assert "community_ids" in hit["_source"]
        assert hit["_source"]["community_ids"] == []
        assert hit["_source"]["access_status"] == "open"


def test_restricted_metadata_gets_community_ids_and_access_status_only(
    running_app, clear_stats_indices, uploader, community
):
    """01 §5.9: no metadata item for records whose metadata is not public."""
    record = make_record(
        uploader,
        communities=[community],
        files={"secret.pdf": 99},
        access={"record": "restricted", "files": "restricted"},
        resource_type="dataset",
        languages=["deu"],
        rights=["cc0-1.0"],
        funding=["021nxhr62"],
        affiliations=["04d836q62"],
        publisher=PUBLISHER,
        custom_fields={"journal:journal": {"title": JOURNAL_TITLE}},
    )
    assert record.data["access"]["status"] == "restricted"
    when = now_utc()
    emit_view(record, when)
    emit_download(record, "secret.pdf", when)
    assert_no_errors(process_usage_events())

    for event_type in (VIEW, DOWNLOAD):
        (hit,) = search_events(event_type, mine(record))
        assert enrichment_of(hit, event_type) == {
            "community_ids": [cid(community)],
            "access_status": "restricted",
        }


def test_public_record_with_restricted_files_reads_entries_from_database(
    running_app, clear_stats_indices, uploader
):
    """01 §7: the records index hides the entries; ``file_types`` comes from the DB."""
    files = {"scan.jpeg": 40, "table.csv": 20}
    record = make_record(uploader, files=files, access={"files": "restricted"})
    when = now_utc()
    emit_view(record, when)
    emit_download(record, "scan.jpeg", when)
    assert_no_errors(process_usage_events())

    expected = {key: upstream_file_ext(record, key) for key in files}
    assert expected["scan.jpeg"] == "jpg"  # File.ext guesses from the mimetype first
    (view,) = search_events(VIEW, mine(record))
    assert sorted(view["_source"]["file_types"]) == sorted(expected.values())
    assert view["_source"]["access_status"] == "restricted"  # files restricted
    (download,) = search_events(DOWNLOAD, mine(record))
    assert download["_source"]["file_types"] == [expected["scan.jpeg"]]


def test_robot_dropped_and_unknown_record_kept(
    running_app, clear_stats_indices, uploader
):
    """Robots are dropped (``filter_robots``); an unknown record still gets an event."""
    record = make_record(uploader, files={"r.txt": 5})
    when = now_utc()
    assert emit_view(record, when, user_agent=ROBOT_UA) is not None
    emit_download(record, "r.txt", when, user_agent=ROBOT_UA)
    unknown = {"id": f"unknown-{uuid.uuid4().hex[:6]}", "parent": {"id": "nope"}}
    publish_events(VIEW, [build_view_event(unknown, when, user_agent=BROWSER_UA)])
    assert_no_errors(process_usage_events())

    assert search_events(VIEW, mine(record)) == []
    assert search_events(DOWNLOAD, mine(record)) == []
    (hit,) = search_events(VIEW, mine(unknown["id"]))
    fields = enrichment_of(hit, VIEW)
    assert fields.pop("community_ids") == []
    configured = {f.event_field for f in configured_fields(running_app.app.config)}
    assert fields == dict.fromkeys(configured), fields


def test_pause_flag_and_indexing_lock_keep_events_queued(
    running_app, clear_stats_indices, uploader, community
):
    """03 §3.3 step 1: paused → nothing consumed; released → every event indexed."""
    record = make_record(uploader, communities=[community], files={"p.csv": 7})
    base = now_utc()
    times = [base - timedelta(seconds=20 * n) for n in range(3)]
    state = indexing_state.redis_client()
    pause = indexing_state.IndexingPause(state, timeout=120)
    pause.set()
    try:
        for n, when in enumerate(times):
            emit_view(record, when, user_id=str(n))
            emit_download(record, "p.csv", when, user_id=str(n))
        assert dict(process_usage_events()) == {VIEW: (0, 0), DOWNLOAD: (0, 0)}
        assert search_events(VIEW, mine(record)) == []
        assert search_events(DOWNLOAD, mine(record)) == []
    finally:
        pause.release()
    assert not indexing_state.is_paused(state)

    # another indexer run holds the lock: this run consumes nothing either
    lock = indexing_state.indexing_lock(state)
    lock.acquire()
    try:
        assert dict(process_usage_events()) == {VIEW: (0, 0), DOWNLOAD: (0, 0)}
    finally:
        lock.release()

    results = dict(process_usage_events())
    state.close()
    assert results == {VIEW: (len(times), 0), DOWNLOAD: (len(times), 0)}
    for event_type in (VIEW, DOWNLOAD):
        hits = search_events(event_type, mine(record))
        assert sorted(h["_source"]["timestamp"] for h in hits) == sorted(
            t.isoformat() for t in times
        )
        assert all(h["_source"]["community_ids"] == [cid(community)] for h in hits)


def test_pause_set_while_the_indexer_takes_its_lock_is_honoured(
    running_app, clear_stats_indices, monkeypatch, uploader
):
    """The migration may set the pause between the indexer's check and its lock."""
    record = make_record(uploader, files={"q.csv": 7})
    emit_view(record, now_utc())
    state = indexing_state.redis_client()
    pause = indexing_state.IndexingPause(state, timeout=120)
    real_lock = indexing_state.indexing_lock

    def lock_after_pause(client, config=None):
        lock = real_lock(client, config)
        acquire = lock.acquire

        def paused_then_acquire():
            pause.set()  # the migration wins the race for the pause ...
            acquire()  # ... and the indexer still gets the free lock

        lock.acquire = paused_then_acquire
        return lock

    monkeypatch.setattr(indexing_state, "indexing_lock", lock_after_pause)
    try:
        assert dict(process_usage_events([VIEW])) == {VIEW: (0, 0)}
        assert not indexing_state.indexing_lock_held(state)
    finally:
        pause.release()
    monkeypatch.undo()
    assert dict(process_usage_events([VIEW])) == {VIEW: (1, 0)}
    state.close()
    (hit,) = search_events(VIEW, mine(record))
    assert hit["_source"]["community_ids"] == []


def _subcounts_without(name):
    subcounts = copy.deepcopy(current_app.config["COMMUNITY_STATS_SUBCOUNTS"])
    subcounts[name]["usage_events"] = {}
    return subcounts


def test_disabled_usage_subcount_field_is_absent(
    running_app, clear_stats_indices, set_config, uploader
):
    record = make_record(
        uploader, files={"d.pdf": 3}, languages=["eng"], resource_type="dataset"
    )
    set_config(COMMUNITY_STATS_SUBCOUNTS=_subcounts_without("languages"))
    when = now_utc()
    emit_view(record, when)
    emit_download(record, "d.pdf", when)
    assert_no_errors(process_usage_events())

    for event_type in (VIEW, DOWNLOAD):
        (hit,) = search_events(event_type, mine(record))
        fields = enrichment_of(hit, event_type)
        assert set(fields) == DEFAULT_ENRICHMENT_FIELDS - {"languages"}
        assert fields["resource_type"]["id"] == "dataset"


def failing_publisher(source):
    """An extraction that always fails (03 §2: the field becomes null)."""
    raise RuntimeError("extraction failed on purpose")


def test_failing_extraction_gives_null_and_keeps_the_event(
    running_app, clear_stats_indices, set_config, uploader
):
    record = make_record(uploader, files={"e.csv": 3}, publisher=PUBLISHER)
    subcounts = copy.deepcopy(current_app.config["COMMUNITY_STATS_SUBCOUNTS"])
    subcounts["publishers"]["usage_events"]["extraction_path_for_event"] = (
        failing_publisher
    )
    set_config(COMMUNITY_STATS_SUBCOUNTS=subcounts)
    emit_view(record, now_utc())
    assert_no_errors(process_usage_events([VIEW]))
    (hit,) = search_events(VIEW, mine(record))
    assert "publisher" in hit["_source"]
    assert hit["_source"]["publisher"] is None
    assert hit["_source"]["file_types"] == ["csv"]


def test_failing_enrichment_searches_index_the_chunk_unenriched(
    running_app, clear_stats_indices, monkeypatch, caplog, uploader
):
    """03 §3.3 step 5: 3 failed attempts → indexed without enrichment, ERROR log."""
    record = make_record(uploader, files={"g.csv": 3})
    attempts = []

    def unreachable(self, sources):
        attempts.append(len(sources))
        raise ConnectionError("search cluster unreachable")

    monkeypatch.setattr(EventEnricher, "enrich_sources", unreachable)
    when = now_utc()
    emit_view(record, when)
    with caplog.at_level("ERROR"):
        assert dict(process_usage_events([VIEW])) == {VIEW: (1, 0)}
    assert attempts == [1, 1, 1]
    (hit,) = search_events(VIEW, mine(record))
    assert enrichment_of(hit, VIEW) == {}
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    month = when.strftime("%Y-%m")
    assert any("--reenrich" in m and f"--months {month}" in m for m in errors), errors


def test_event_field_mapping_is_added_to_templates_and_existing_index(
    running_app, clear_stats_indices, set_config, stats_dashboard, uploader
):
    """03 §2: a configured unmapped ``event_field`` with its ``event_field_mapping``."""
    record = make_record(uploader, files={"h.csv": 3}, version="v7")
    when = now_utc()
    emit_view(record, when)  # creates this month's index under the shipped config
    assert_no_errors(process_usage_events([VIEW]))
    index = event_index(VIEW, when)
    properties = current_search_client.indices.get_mapping(index=index)[index][
        "mappings"
    ]["properties"]
    assert "record_version" not in properties

    shipped = current_app.config["COMMUNITY_STATS_SUBCOUNTS"]
    subcounts = copy.deepcopy(shipped)
    subcounts["record_versions"] = {
        "records": {},
        "usage_events": {
            "event_field": "record_version",
            "extraction_path_for_event": "metadata.version",
            "event_field_mapping": {"type": "keyword"},
            "snapshot_type": "top",
            "source_fields": [{"field": "record_version"}],
        },
    }
    set_config(COMMUNITY_STATS_SUBCOUNTS=subcounts)
    templates = [prefix_index(f"{t}-v2.0.0") for t in (VIEW, DOWNLOAD)]
    try:
        emit_view(record, when + timedelta(seconds=30), user_id="mapped")
        assert dict(process_usage_events([VIEW])) == {VIEW: (1, 0)}
        (hit,) = search_events(
            VIEW,
            {
                "bool": {
                    "filter": [mine(record), {"exists": {"field": "record_version"}}]
                }
            },
        )
        assert hit["_source"]["record_version"] == "v7"
        mapping = current_search_client.indices.get_mapping(index=index)[index]
        assert mapping["mappings"]["properties"]["record_version"] == {
            "type": "keyword"
        }
        for name in templates:
            (found,) = current_search_client.indices.get_index_template(name=name)[
                "index_templates"
            ]
            template_properties = found["index_template"]["template"]["mappings"][
                "properties"
            ]
            assert template_properties["record_version"] == {"type": "keyword"}
    finally:
        # put the shipped templates back for the modules that follow
        set_config(COMMUNITY_STATS_SUBCOUNTS=shipped)
        for name in templates:
            current_search_client.indices.delete_index_template(name=name, ignore=404)
        stats_dashboard.ensure_search_setup(force=True)
        for name in templates:
            (found,) = current_search_client.indices.get_index_template(name=name)[
                "index_templates"
            ]
            template = found["index_template"]["template"]
            assert "record_version" not in template["mappings"]["properties"]


# ------------------------------------------------- 3. membership at event time


def test_community_ids_follow_membership_on_the_event_day(
    running_app, clear_stats_indices, uploader, community
):
    """03 test 7: add 06-15 10:00, remove 07-10, re-add 07-20 (2024), day-based."""
    record = make_record(uploader, files={"m.csv": 11})
    other = make_record(uploader, files={"o.csv": 12})
    c = cid(community)
    write_membership(
        record,
        c,
        [
            ("added", at("2024-06-15T10:00:00")),
            ("removed", at("2024-07-10T12:30:00")),
            ("added", at("2024-07-20T09:15:00")),
        ],
    )
    expected = {
        "2024-06-14T12:00:00": [],
        "2024-06-14T23:59:59": [],
        "2024-06-15T00:00:00": [c],
        "2024-06-15T08:00:00": [c],  # before the 10:00 inclusion, same UTC day
        "2024-06-16T12:00:00": [c],
        "2024-07-10T12:00:00": [c],
        "2024-07-10T23:59:59": [c],  # removal day still counts
        "2024-07-11T00:00:00": [],
        "2024-07-11T12:00:00": [],
        "2024-07-19T23:59:59": [],
        "2024-07-20T00:00:00": [c],
        "2024-07-20T12:00:00": [c],
    }
    for n, text in enumerate(expected):
        when = datetime.fromisoformat(text)
        emit_view(record, when, user_id=str(n))
        emit_download(record, "m.csv", when, user_id=str(n))
    emit_view(other, datetime(2024, 6, 16, 12), user_id="x")
    assert_no_errors(process_usage_events())

    for event_type in (VIEW, DOWNLOAD):
        hits = search_events(event_type, mine(record))
        found = {h["_source"]["timestamp"]: h["_source"]["community_ids"] for h in hits}
        assert found == expected, event_type
    (hit,) = search_events(VIEW, mine(other))
    assert "community_ids" in hit["_source"]
    assert hit["_source"]["community_ids"] == []


def test_record_without_membership_events_falls_back_to_current_communities(
    running_app, clear_stats_indices, set_config, uploader, community
):
    """03 §3.3 step 2: no log event at all (not backfilled) → parent communities."""
    writers = LiveWriters(set_config)
    writers.off()
    record = make_record(uploader, communities=[community], files={"f.csv": 4})
    writers.on()
    assert log_hits([record.id]) == []
    when = now_utc()
    emit_view(record, when)
    emit_download(record, "f.csv", when)
    assert_no_errors(process_usage_events())
    for event_type in (VIEW, DOWNLOAD):
        (hit,) = search_events(event_type, mine(record))
        assert hit["_source"]["community_ids"] == [cid(community)]


# ---------------------------------------------------- 4. strict legacy mappings


def legacy_body(event_type):
    """The v1 template of InvenioRDM 13 for ``event_type``, as an index body."""
    import json
    from importlib import resources

    package = (
        "invenio_rdm_records.records.stats.templates.events."
        f"{event_type.replace('-', '_')}.os-v2"
    )
    text = resources.files(package).joinpath(f"{event_type}-v1.0.0.json").read_text()
    text = text.replace("__SEARCH_INDEX_PREFIX__", prefix_index(""))
    template = json.loads(text)
    return {
        "settings": template["settings"],
        "mappings": template["mappings"],
        "aliases": template["aliases"],
    }


def create_without_templates(stats_dashboard, event_type, index, body):
    """Create ``index`` as an instance from before installation had it.

    Our v2 template would apply to the monthly name, so it is removed while the index
    is created, then put back.
    """
    template = prefix_index(f"{event_type}-v2.0.0")
    current_search_client.indices.delete_index_template(name=template, ignore=404)
    try:
        current_search_client.indices.create(index=index, body=body)
    finally:
        stats_dashboard.ensure_search_setup(force=True)
    assert current_search_client.indices.exists_index_template(name=template)


def test_legacy_v1_current_month_index_gets_the_fields_but_no_marker(
    running_app, clear_stats_indices, stats_dashboard, uploader, community
):
    """03 §3.3 step 3: put-mapping on a strict v1 index; no ``_meta`` marker."""
    record = make_record(
        uploader,
        communities=[community],
        files={"legacy.pdf": 8},
        resource_type="dataset",
        languages=["eng"],
        rights=["cc-by-4.0"],
        funding=["021nxhr62"],
        affiliations=["01ggx4157"],
    )
    when = now_utc()
    indices = {t: event_index(t, when) for t in (VIEW, DOWNLOAD)}
    for event_type, index in indices.items():
        create_without_templates(
            stats_dashboard, event_type, index, legacy_body(event_type)
        )
        mapping = current_search_client.indices.get_mapping(index=index)[index]
        assert mapping["mappings"]["dynamic"] == "strict"
        assert "community_ids" not in mapping["mappings"]["properties"]

    emit_view(record, when)
    emit_download(record, "legacy.pdf", when)
    results = process_usage_events()
    assert dict(results) == {VIEW: (1, 0), DOWNLOAD: (1, 0)}

    for event_type, index in indices.items():
        (hit,) = search_events(event_type, mine(record))
        assert hit["_index"] == index
        fields = enrichment_of(hit, event_type)
        assert set(fields) == DEFAULT_ENRICHMENT_FIELDS
        assert fields["community_ids"] == [cid(community)]
        assert fields["resource_type"] == expected_resource_type("dataset")
        assert fields["funders"] == [expected_organisation("funders", "021nxhr62")]
        mapping = current_search_client.indices.get_mapping(index=index)[index]
        properties = mapping["mappings"]["properties"]
        assert DEFAULT_ENRICHMENT_FIELDS <= set(properties)
        meta = mapping["mappings"].get("_meta") or {}
        assert "stats_dashboard_enriched" not in meta


def test_mapping_rejection_is_retried_without_enrichment(
    running_app, clear_stats_indices, stats_dashboard, uploader, community
):
    """03 §3.3 step 4: a document its index rejects is written without enrichment."""
    record = make_record(uploader, communities=[community], files={"x.csv": 8})
    when = now_utc()
    index = event_index(VIEW, when)
    body = legacy_body(VIEW)
    # a legacy index that maps community_ids with a conflicting type
    body["mappings"]["properties"]["community_ids"] = {"type": "date"}
    create_without_templates(stats_dashboard, VIEW, index, body)

    emit_view(record, when)
    assert dict(process_usage_events([VIEW])) == {VIEW: (1, 0)}
    (hit,) = search_events(VIEW, mine(record))
    assert hit["_index"] == index
    assert enrichment_of(hit, VIEW) == {}


def test_index_replaced_behind_the_guard_is_checked_again(
    running_app, clear_stats_indices, stats_dashboard, uploader, community
):
    """A rejection makes the indexer check that index's mapping again next time."""
    record = make_record(uploader, communities=[community], files={"y.csv": 8})
    when = now_utc()
    index = event_index(VIEW, when)
    for n in range(2):  # the 1st run creates the index, the 2nd finds it complete
        emit_view(record, when - timedelta(seconds=20 * n), user_id=f"first{n}")
        assert dict(process_usage_events([VIEW])) == {VIEW: (1, 0)}
    # the month's index is replaced by a legacy one while the process runs
    current_search_client.indices.delete(index=index)
    create_without_templates(stats_dashboard, VIEW, index, legacy_body(VIEW))

    emit_view(record, when + timedelta(seconds=20), user_id="second")
    assert dict(process_usage_events([VIEW])) == {VIEW: (1, 0)}
    (second,) = search_events(VIEW, mine(record))
    assert enrichment_of(second, VIEW) == {}  # rejected, written without enrichment

    emit_view(record, when + timedelta(seconds=40), user_id="third")
    assert dict(process_usage_events([VIEW])) == {VIEW: (1, 0)}
    hits = search_events(VIEW, mine(record))
    third = next(h for h in hits if h["_id"] != second["_id"])
    assert third["_source"]["community_ids"] == [cid(community)]
    assert set(enrichment_of(third, VIEW)) == DEFAULT_ENRICHMENT_FIELDS


def test_unexpected_vocabulary_keys_never_block_indexing(
    running_app, clear_stats_indices, uploader
):
    """01 §7 projection: keys the event mapping lacks are dropped, never rejected."""
    record = make_record(
        uploader, files={"u.csv": 2}, resource_type="dataset", rights=["cc-by-4.0"]
    )
    # An instance whose records index carries more vocabulary keys than ours maps.
    records_alias = prefix_index("rdmrecords-records")
    current_search_client.indices.put_mapping(
        index=records_alias,
        body={
            "properties": {
                "metadata": {
                    "properties": {
                        "resource_type": {
                            "properties": {
                                "props": {
                                    "properties": {"unexpected": {"type": "keyword"}}
                                }
                            }
                        },
                        "rights": {
                            "properties": {
                                "props": {
                                    "properties": {"osi_approved": {"type": "keyword"}}
                                }
                            }
                        },
                    }
                }
            }
        },
    )
    (doc,) = current_search_client.search(
        index=records_alias, body={"query": {"term": {"id": record.id}}}
    )["hits"]["hits"]
    source = doc["_source"]
    source["metadata"]["resource_type"]["props"]["unexpected"] = "surprise"
    source["metadata"]["rights"][0]["props"]["osi_approved"] = "yes"
    current_search_client.index(
        index=doc["_index"], id=doc["_id"], body=source, refresh=True
    )

    when = now_utc()
    emit_view(record, when)
    emit_download(record, "u.csv", when)
    assert dict(process_usage_events()) == {VIEW: (1, 0), DOWNLOAD: (1, 0)}
    for event_type in (VIEW, DOWNLOAD):
        (hit,) = search_events(event_type, mine(record))
        assert hit["_source"]["resource_type"] == expected_resource_type("dataset")
        assert hit["_source"]["rights"] == [expected_right("cc-by-4.0")]


# --------------------------------------------------------------- 6. costs


class CountingClient:
    """Wrap a search client and record every document-reading call."""

    READS = {"search", "msearch", "count", "scroll", "get", "mget", "search_template"}

    def __init__(self, client):
        self._client = client
        self.reads = []

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name not in self.READS:
            return attribute

        def counted(*args, **kwargs):
            self.reads.append((name, kwargs.get("index")))
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture()
def synthetic_versions(running_app, community):
    """Versions in the records index only (fast), all currently in C.

    ``synthetic_versions(count)`` returns ``{record_id: created}``.
    """
    prefixes = []

    def make(count):
        prefixes.append(f"syn{uuid.uuid4().hex[:6]}-")
        return index_synthetic_versions(count, [cid(community)], prefix=prefixes[-1])

    yield make
    for prefix in prefixes:
        delete_synthetic_versions(prefix)


def test_enricher_costs_at_most_two_searches_for_500_events(
    running_app, clear_stats_indices, stats_dashboard, community, synthetic_versions
):
    """03 §3.3 step 2 / "Beyond": ≤ 2 searches per 500 events, paginated lookups."""
    stats_dashboard.ensure_search_setup(force=True)
    c = cid(community)
    versions = synthetic_versions(5)
    record_ids = sorted(versions)
    logged, unlogged = record_ids[:3], record_ids[3:]
    for record_id in logged:
        write_membership(
            synthetic_record(record_id, versions[record_id]),
            c,
            [("added", at("2024-06-15T10:00:00"))],
        )
    days = ["2024-06-14T12:00:00", "2024-06-16T12:00:00"]
    events = [
        {"recid": record_ids[n % 5], "timestamp": days[(n // 5) % 2]}
        for n in range(500)
    ]
    client = CountingClient(current_search_client._get_current_object())
    enricher = EventEnricher(
        client,
        configured_fields(current_app.config),
        fallback_to_current_communities=True,
    )
    enriched = enricher.enrich(events)
    assert len(client.reads) <= 2, client.reads
    for event, fields in zip(events, enriched, strict=True):
        if event["recid"] in unlogged:
            expected = [c]  # no log event: current parent communities
        else:
            expected = [c] if event["timestamp"].startswith("2024-06-16") else []
        assert fields["community_ids"] == expected, event

    client.reads.clear()
    enricher.enrich(events)  # same records again: served from the run's cache
    assert client.reads == []


def test_membership_lookup_pages_through_1500_records(
    running_app,
    clear_stats_indices,
    stats_dashboard,
    monkeypatch,
    community,
    synthetic_versions,
):
    """Must-not-repeat: no 1,000-record cap with a silent fallback; paginated."""
    from invenio_stats_dashboard.community_events import log_reader

    stats_dashboard.ensure_search_setup(force=True)
    c = cid(community)
    versions = synthetic_versions(1500)
    changes = [
        ("added", at("2024-06-15T10:00:00")),
        ("removed", at("2024-07-10T12:00:00")),
    ]
    write_log(
        [
            action
            for record_id, created in versions.items()
            for action in membership_actions(
                synthetic_record(record_id, created), c, changes
            )
        ]
    )
    # 3,000 log documents over pages of 1,000: the lookup must follow every page
    monkeypatch.setattr(log_reader, "PAGE_SIZE", 1000)
    client = CountingClient(current_search_client._get_current_object())
    enricher = EventEnricher(
        client,
        configured_fields(current_app.config),
        fallback_to_current_communities=True,
    )
    events = [
        {"recid": record_id, "timestamp": timestamp}
        for record_id in versions
        for timestamp in ("2024-06-16T08:00:00", "2024-07-11T08:00:00")
    ]
    enriched = enricher.enrich(events)
    log_reads = [
        r for r in client.reads if r[1] == prefix_index("stats-community-events")
    ]
    assert len(log_reads) == 4  # three full pages and an empty one
    for event, fields in zip(events, enriched, strict=True):
        # still in C today (current communities), but not on 2024-07-11
        expected = [c] if event["timestamp"].startswith("2024-06-16") else []
        assert fields["community_ids"] == expected, event


def test_indexer_costs_at_most_two_searches_for_500_queued_events(
    running_app, clear_stats_indices, monkeypatch, uploader, community
):
    """The live path: one chunk of 500 queued events → ≤ 2 searches."""
    records = [
        make_record(uploader, communities=[community], files={f"c{n}.csv": 3})
        for n in range(3)
    ]
    base = now_utc() - timedelta(hours=1)
    events = [
        build_view_event(records[n % 3], base + timedelta(seconds=n), user_id=str(n))
        for n in range(500)
    ]
    publish_events(VIEW, events)

    client = current_search_client._get_current_object()
    reads = []
    original = client.search

    def counted_search(*args, **kwargs):
        reads.append(kwargs.get("index"))
        return original(*args, **kwargs)

    monkeypatch.setattr(client, "search", counted_search)
    assert dict(process_usage_events([VIEW])) == {VIEW: (500, 0)}
    monkeypatch.undo()
    assert len(reads) <= 2, reads
    hits = search_events(VIEW, {"terms": {"recid": [r.id for r in records]}}, 1000)
    assert len(hits) == 500
    assert all(h["_source"]["community_ids"] == [cid(community)] for h in hits)


# ------------------------------------------------------- 7. builder parity


class FrozenDatetime(datetime):
    """``datetime`` whose ``utcnow`` is fixed (the upstream builders call it)."""

    @classmethod
    def utcnow(cls):
        return datetime(2024, 5, 6, 7, 8, 9, 123456)


def run_chain(builders, **kwargs):
    event = {}
    for builder in builders:
        event = builder(event, current_app._get_current_object(), **kwargs)
        if event is None:
            return None
    return event


def test_builders_equal_upstream_for_the_same_request(
    running_app, monkeypatch, uploader
):
    """Must-not-repeat: our builders' output equals the upstream chain's."""
    from invenio_base.utils import obj_or_import_string
    from invenio_rdm_records.resources.stats import event_builders as rdm_builders
    from invenio_stats.proxies import current_stats

    from invenio_stats_dashboard.search_indices.event_builders import (
        OUR_BUILDERS,
        UPSTREAM_BUILDERS,
    )

    monkeypatch.setattr(rdm_builders, "datetime", FrozenDatetime)
    record = RDMRecord.pid.resolve(make_record(uploader, files={"b.csv": 6}).id)
    draft = make_draft(uploader, files={"d.csv": 6})
    draft_record = current_service_registry.get("records").draft_cls.pid.resolve(
        draft.id, registered_only=False
    )
    obj = record.files["b.csv"].object_version
    calls = {
        "record-view": [
            {"record": record, "via_api": False},
            {"record": draft_record, "via_api": False},
        ],
        "file-download": [{"record": record, "obj": obj, "via_api": True}],
    }
    for event_type, call_kwargs in calls.items():
        ours = current_stats.get_event_emitter(event_type).builders
        assert ours[0] is obj_or_import_string(OUR_BUILDERS[event_type])
        upstream = [obj_or_import_string(UPSTREAM_BUILDERS[event_type]), *ours[1:]]
        for kwargs in call_kwargs:
            with current_app.test_request_context(
                "/records/x",
                headers={"User-Agent": BROWSER_UA, "Referer": "https://ex.org/"},
                environ_base={"REMOTE_ADDR": "8.8.8.8"},
            ):
                expected = run_chain(upstream, **kwargs)
                got = run_chain(ours, **kwargs)
            assert got == expected
            if kwargs["record"] is draft_record:
                assert got is None  # views of drafts are dropped upstream
            else:
                assert got["timestamp"] == FrozenDatetime.utcnow().isoformat()
                assert got["recid"] == record["id"]


def test_stats_events_entries_recognised_by_resolved_object():
    """03 §3.1: import strings in ``module:attr`` form are upstream's objects too."""
    from invenio_stats_dashboard.registries import merge_stats_events
    from invenio_stats_dashboard.search_indices.event_builders import OUR_BUILDERS
    from invenio_stats_dashboard.search_indices.events_indexer import (
        EnrichedEventsIndexer,
    )

    events = {
        "record-view": {
            "cls": "invenio_stats.processors:EventsIndexer",
            "event_builders": [
                "invenio_rdm_records.resources.stats.event_builders:"
                "record_view_event_builder",
                "invenio_rdm_records.resources.stats:check_if_via_api",
            ],
            "params": {"preprocessors": []},
        },
        "file-download": {
            "event_builders": [
                "invenio_rdm_records.resources.stats:file_download_event_builder",
                "no_such_package.builders:custom",
            ],
            "params": {},
        },
    }
    merged = merge_stats_events(events)
    view, download = merged["record-view"], merged["file-download"]
    assert view["cls"] is EnrichedEventsIndexer
    assert download["cls"] is EnrichedEventsIndexer
    assert view["event_builders"] == [
        OUR_BUILDERS["record-view"],
        "invenio_rdm_records.resources.stats:check_if_via_api",
    ]
    assert download["event_builders"] == [
        OUR_BUILDERS["file-download"],
        "no_such_package.builders:custom",
    ]


def test_live_and_migrated_enrichment_are_identical(
    running_app, clear_stats_indices, uploader, community, cli
):
    """03 test 3 and Must-not-repeat: the same event written live and migrated from a
    legacy index gets identical enrichment (journal, funders, affiliations filled;
    downloads carry ``community_ids``)."""
    from helpers.legacy_events import create_legacy_month

    from invenio_stats_dashboard.cli import cli as stats_cli
    from invenio_stats_dashboard.community_events.marker import write_marker
    from invenio_stats_dashboard.timeutils import utc_now
    from invenio_stats_dashboard.usage_events.names import (
        month_index,
        read_alias,
        target_index,
    )

    record = make_record(
        uploader,
        communities=[community],
        files={"table.csv": 50},
        resource_type="publication-article",
        languages=["eng"],
        funding=[("00k4n6c32", "00k4n6c32::101000001")],
        creators=[person("Hopper", [{"id": "01ggx4157"}])],
        publisher=PUBLISHER,
        custom_fields={"journal:journal": {"title": JOURNAL_TITLE}},
    )
    when = datetime(2024, 3, 5, 14, 30, 0)  # an old month: the plain migration path
    backdate = current_search_client.update_by_query(
        index=prefix_index("stats-community-events"),
        body={
            "query": {"term": {"record_id": record.id}},
            "script": {"source": "ctx._source.event_date = '2024-01-01T00:00:00.000'"},
        },
        refresh=True,
    )
    assert backdate["updated"] >= 2  # global and the community
    emit_view(record, when)
    emit_download(record, "table.csv", when)
    assert_no_errors(process_usage_events())
    live = {
        kind: search_events(kind, mine(record))[0]["_source"]
        for kind in (VIEW, DOWNLOAD)
    }
    assert live[VIEW]["journal_title"] == JOURNAL_TITLE
    assert live[DOWNLOAD]["community_ids"] == [cid(community)]

    # The same events as an instance without the extension held them.
    for kind, short in ((VIEW, "view"), (DOWNLOAD, "download")):
        (hit,) = search_events(kind, mine(record))
        current_search_client.indices.delete(index=hit["_index"])
        create_legacy_month(short, "2024-03")
        base = {k: v for k, v in hit["_source"].items() if k in BASE_FIELDS[kind]}
        current_search_client.index(
            index=month_index(short, "2024-03"), id=hit["_id"], body=base, refresh=True
        )
    write_marker(current_search_client, utc_now())
    result = cli(stats_cli, "usage-events", "migrate", "-m", "2024-03")
    assert result.exit_code == 0, result.output
    for kind, short in ((VIEW, "view"), (DOWNLOAD, "download")):
        current_search_client.indices.refresh(index=read_alias(short))
        (migrated,) = current_search_client.search(
            index=read_alias(short), body={"query": mine(record)}
        )["hits"]["hits"]
        assert migrated["_index"] == target_index(short, "2024-03")
        assert enrichment_of(migrated, kind) == enrichment_of(
            {"_source": live[kind]}, kind
        )
        assert migrated["_source"]["funders"] and migrated["_source"]["affiliations"]
