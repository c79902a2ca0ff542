"""Integration tests of the general factories (09 §8.4) against the real services.

One module (one app build): records with files in communities, new versions, restricted
variants, membership paths, and usage events through invenio-stats' pipeline.
"""

from datetime import datetime

import pytest
from helpers.community_event_log import create_fast_refresh_indices
from helpers.factories import (
    BROWSER_UA,
    DOWNLOAD,
    ROBOT_UA,
    VIEW,
    accept_request,
    add_member,
    anonymization_salt,
    backdate_community,
    backdate_record,
    bulk_add,
    delete_record,
    emit_download,
    emit_view,
    event_index,
    expected_event_id,
    expected_unique_id,
    expected_visitor_id,
    get_indexed_record,
    include_in_community,
    make_community,
    make_draft,
    make_record,
    make_user,
    new_version,
    process_usage_events,
    read_record,
    remove_from_community,
    restore_record,
    search_events,
    submit_to_community,
    update_record,
)
from invenio_access.permissions import authenticated_user
from invenio_rdm_records.services.errors import InvalidAccessRestrictions
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

PDF_SIZE = 12_345
CSV_SIZE = 2_048


@pytest.fixture(autouse=True)
def fast_membership_log(running_app):
    """Membership changes write the log with ``wait_for``; keep each wait short."""
    create_fast_refresh_indices()


@pytest.fixture(scope="module")
def owner(running_app):
    return make_user("owner@example.org")


@pytest.fixture(scope="module")
def uploader(running_app):
    return make_user("uploader@example.org")


@pytest.fixture(scope="module")
def public_community(running_app, owner):
    return make_community(owner, "pub-comm", community_type="organization")


@pytest.fixture(scope="module")
def restricted_community(running_app, owner, uploader):
    community = make_community(owner, "restr-comm", visibility="restricted")
    # only members may submit to a restricted community
    add_member(community, uploader, "reader")
    return community


def test_community_backdated(running_app, public_community):
    item = backdate_community(public_community, datetime(2021, 1, 2, 3, 4, 5))
    assert item.data["created"].startswith("2021-01-02T03:04:05")
    hits = current_search_client.search(
        index=prefix_index("communities"),
        body={"query": {"term": {"id": str(public_community.id)}}},
    )["hits"]["hits"]
    assert hits[0]["_source"]["created"].startswith("2021-01-02T03:04:05")


def test_user_identity(running_app, owner):
    identity = owner.identity
    assert authenticated_user in identity.provides
    assert identity.id == owner.user.id
    assert make_user("owner@example.org").user.id == owner.user.id


def test_vocabularies_loaded(running_app):
    vocabularies = running_app.vocabularies
    assert {"dataset", "publication-article", "image-photo", "software"} <= set(
        vocabularies["resourcetypes"]
    )
    assert vocabularies["languages"] == ["eng", "fra", "deu"]
    assert len(vocabularies["affiliations"]) == 2
    assert len(vocabularies["funders"]) == 2


def test_record_with_files_in_two_communities(
    running_app, owner, uploader, public_community, restricted_community
):
    """Submission to a public community, then inclusion into a restricted one.

    The record's metadata is restricted: InvenioRDM refuses public records in
    restricted communities through requests.
    """
    record = make_record(
        uploader,
        communities=[public_community, restricted_community],
        curator_identity=owner,
        files={"paper.pdf": PDF_SIZE, "data.csv": CSV_SIZE},
        access={"record": "restricted", "files": "restricted"},
        resource_type="publication-article",
        languages=["eng", "fra"],
        rights=["cc-by-4.0"],
        subjects=["http://www.oecd.org/science/inno/38235147.pdf?1.1"],
        funding=[("00k4n6c32", "00k4n6c32::101000001"), "021nxhr62"],
        affiliations=["01ggx4157"],
        contributors=["Curie, Marie"],
        publisher="Test Publisher",
        publication_date="2023-05-01",
    )
    assert record.data["is_published"] is True
    doc = get_indexed_record(record)
    assert doc["files"]["count"] == 2
    assert doc["files"]["totalbytes"] == PDF_SIZE + CSV_SIZE
    sizes = {e["key"]: e["size"] for e in doc["files"]["entries"]}
    assert sizes == {"paper.pdf": PDF_SIZE, "data.csv": CSV_SIZE}
    assert set(doc["parent"]["communities"]["ids"]) == {
        str(public_community.id),
        str(restricted_community.id),
    }
    assert doc["parent"]["communities"]["default"] == str(public_community.id)
    meta = doc["metadata"]
    assert meta["resource_type"]["id"] == "publication-article"
    assert [lang["id"] for lang in meta["languages"]] == ["eng", "fra"]
    assert meta["rights"][0]["id"] == "cc-by-4.0"
    assert meta["creators"][0]["affiliations"][0]["id"] == "01ggx4157"
    assert meta["contributors"][0]["role"]["id"] == "other"
    assert [f["funder"]["id"] for f in meta["funding"]] == ["00k4n6c32", "021nxhr62"]
    assert doc["access"]["status"] == "restricted"


def test_public_record_refused_by_restricted_community(
    running_app, owner, uploader, public_community, restricted_community
):
    record = make_record(uploader, files={"a.txt": 10})
    # the request is created; its accept refuses a public record
    with pytest.raises(InvalidAccessRestrictions):
        include_in_community(uploader, record, restricted_community)
    # bulk_add (system identity) does not check the access restriction
    bulk_add(restricted_community, [record.id])
    doc = get_indexed_record(record)
    assert doc["parent"]["communities"]["ids"] == [str(restricted_community.id)]


def test_open_request_then_accept(running_app, owner, uploader, public_community):
    draft = make_draft(uploader, files={"img.jpg": 500}, resource_type="image-photo")
    request = submit_to_community(uploader, draft.id, public_community)
    assert request.data["status"] == "submitted"
    accepted = accept_request(owner, request.id)
    assert accepted.data["status"] == "accepted"
    record = read_record(draft.id)
    assert record.data["is_published"] is True
    assert record.data["parent"]["communities"]["ids"] == [str(public_community.id)]


def test_new_version(running_app, uploader, public_community):
    v1 = make_record(uploader, communities=[public_community], files={"v1.txt": 100})
    v2 = new_version(uploader, v1, files={"v2.txt": 300}, publication_date="2024-06-01")
    assert v2.id != v1.id
    assert v2.data["parent"]["id"] == v1.data["parent"]["id"]
    assert v2.data["versions"]["index"] == 2
    doc = get_indexed_record(v2)
    assert doc["files"]["totalbytes"] == 300
    assert doc["parent"]["communities"]["ids"] == [str(public_community.id)]
    old = backdate_record(v1, datetime(2022, 2, 3, 4, 5, 6))
    assert old.data["created"].startswith("2022-02-03T04:05:06")
    assert get_indexed_record(v1)["created"].startswith("2022-02-03T04:05:06")
    v3 = new_version(uploader, v2)  # imports the previous files
    assert get_indexed_record(v3)["files"]["totalbytes"] == 300
    assert get_indexed_record(v1)["versions"]["is_latest"] is False


def test_restricted_files_and_embargo(running_app, uploader):
    restricted = make_record(
        uploader, files={"secret.pdf": 999}, access={"files": "restricted"}
    )
    doc = get_indexed_record(restricted)
    assert doc["access"]["record"] == "public"
    assert doc["access"]["files"] == "restricted"
    assert doc["access"]["status"] == "restricted"

    embargoed = make_record(
        uploader,
        files={"later.pdf": 10},
        access={"files": "restricted"},
        embargo={"until": "2099-01-01", "reason": "test"},
    )
    doc = get_indexed_record(embargoed)
    assert doc["access"]["status"] == "embargoed"
    assert doc["access"]["embargo"]["active"] is True

    metadata_only = make_record(uploader, resource_type="software")
    assert get_indexed_record(metadata_only)["access"]["status"] == "metadata-only"


def test_remove_delete_restore(running_app, owner, uploader, public_community):
    record = make_record(uploader, communities=[public_community], files={"x.txt": 5})
    remove_from_community(owner, record, public_community)
    assert get_indexed_record(record)["parent"]["communities"].get("ids", []) == []

    include_in_community(uploader, record, public_community, accept_identity=owner)
    assert get_indexed_record(record)["parent"]["communities"]["ids"] == [
        str(public_community.id)
    ]

    updated = update_record(uploader, record, metadata={"title": "Changed title"})
    assert updated.data["metadata"]["title"] == "Changed title"
    assert get_indexed_record(record)["metadata"]["title"] == "Changed title"

    delete_record(record, reason="spam")
    assert read_record(record).data["deletion_status"]["is_deleted"] is True
    restore_record(record)
    assert read_record(record).data["deletion_status"]["is_deleted"] is False


def test_factories_under_db_rollback(running_app, db, owner):
    """The factories also work inside pytest-invenio's rolled-back ``db`` session."""
    user = make_user()
    community = make_community(owner, "rollback-comm")
    record = make_record(user, communities=[community], files={"t.txt": 3})
    doc = get_indexed_record(record)
    assert doc["files"]["totalbytes"] == 3
    assert doc["parent"]["communities"]["ids"] == [str(community.id)]


def test_usage_events(running_app, clear_stats_indices, uploader):
    record = make_record(uploader, files={"data.csv": CSV_SIZE})
    view_ts = datetime(2024, 3, 14, 10, 20, 30)
    download_ts = datetime(2024, 4, 2, 23, 59, 58)

    view = emit_view(record, view_ts, ip="8.8.8.8", referrer="https://example.org/")
    download = emit_download(record, "data.csv", download_ts, user_id=uploader.id)
    logged = emit_view(record, view_ts, user_id=uploader.id, session_id="s1")
    robot = emit_view(record, view_ts, user_agent=ROBOT_UA)
    assert robot is not None
    assert emit_view(record, view_ts, via_api=True) is None  # dropped by the chain

    results = dict(process_usage_events())
    assert results[VIEW][1] == 0 and results[DOWNLOAD][1] == 0  # no indexing errors

    # (filtered by recid: the stats queues are shared with other sessions on the broker)
    mine = {"term": {"recid": record.id}}
    views = search_events(VIEW, mine)
    assert len(views) == 2  # the robot view was dropped by filter_robots
    assert {h["_index"] for h in views} == {event_index(VIEW, view_ts)}
    assert event_index(VIEW, view_ts).endswith("events-stats-record-view-2024-03")
    view_salt = anonymization_salt(view_ts)
    expected = {
        expected_visitor_id(view_salt, view_ts, ip="8.8.8.8", user_agent=BROWSER_UA),
        expected_visitor_id(view_salt, view_ts, user_id=uploader.id, session_id="s1"),
    }
    assert {h["_source"]["visitor_id"] for h in views} == expected
    for hit in views:
        src = hit["_source"]
        assert src["timestamp"] == "2024-03-14T10:20:30"
        assert src["recid"] == record.id
        assert src["unique_id"] == f"ui_{record.id}"
        assert src["is_robot"] is False
        assert "ip_address" not in src and "user_id" not in src
        assert hit["_id"] == expected_event_id(
            view_ts, expected_unique_id(view), src["visitor_id"]
        )
    anonymous = next(h for h in views if h["_source"]["referrer"])
    assert anonymous["_source"]["country"] == "US"
    assert view["parent_recid"] == record.data["parent"]["id"]
    assert logged["user_id"] == uploader.id

    (hit,) = search_events(DOWNLOAD, mine)
    src = hit["_source"]
    assert hit["_index"] == event_index(DOWNLOAD, download_ts)
    assert hit["_index"].endswith("events-stats-file-download-2024-04")
    assert src["timestamp"] == "2024-04-02T23:59:58"
    assert src["file_key"] == "data.csv"
    assert src["size"] == CSV_SIZE
    assert src["via_api"] is False
    assert src["unique_id"] == f"{download['bucket_id']}_{download['file_id']}"
    assert src["visitor_id"] == expected_visitor_id(
        anonymization_salt(download_ts), download_ts, user_id=uploader.id
    )
    assert hit["_id"] == expected_event_id(
        download_ts, expected_unique_id(download), src["visitor_id"]
    )


def test_stats_indices_cleared(running_app):
    """The previous test's cleanup fixture deleted its event indices."""
    found = current_search_client.indices.get(
        index=prefix_index("events-stats-*"),
        allow_no_indices=True,
        ignore_unavailable=True,
    )
    assert list(found) == []
