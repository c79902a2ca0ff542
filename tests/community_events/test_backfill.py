"""Backfill, repair and status of the community membership log (02 §4–§5).

Records, versions, communities and requests are made through the real InvenioRDM
services while the live writers (the extension's service components) are switched
off, so the log starts empty, as on an instance where the extension was just
installed; the backfill service (``current_community_stats_service``) then works on
what the records index holds. A change the live writers did not see (a removal, a
deletion) is how the log goes stale for the repair tests. Every expected document is
derived from what the test created: version ``created`` and tombstone removal dates
from the records index and the database, community ``created`` from the communities
index, accept times from the request events index.
"""

import logging
import time as time_module
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

import pytest
from helpers.community_event_log import (
    ADDED,
    GLOBAL,
    REMOVED,
    alias,
    cid,
    clear_log,
    create_fast_refresh_indices,
    delete_marker,
    fmt,
    log_count,
    log_hits,
    marker,
    rid,
    to_utc,
    triples,
    uid,
    window,
    within,
)
from helpers.factories import (
    backdate_community,
    backdate_record,
    bulk_add,
    delete_record,
    get_indexed_record,
    include_in_community,
    make_community,
    make_record,
    make_user,
    new_version,
    remove_from_community,
    restore_record,
)
from invenio_access.permissions import system_identity
from invenio_db import db
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.community_events.documents import (
    normalize_publication_date,
)
from invenio_stats_dashboard.community_events.membership import fold_events
from invenio_stats_dashboard.proxies import current_community_stats_service

# ----------------------------------------------------------------------- helpers


def at(day, hour=0, minute=0, second=0, millis=0):
    return datetime.combine(day, time(hour, minute, second, millis * 1000), tzinfo=UTC)


def event_dates(hits):
    """``{(record, scope, type): event_date}``; asserts each triple is unique."""
    assert max(triples(hits).values(), default=1) == 1, triples(hits)
    return {
        (
            h["_source"]["record_id"],
            h["_source"]["community_id"],
            h["_source"]["event_type"],
        ): h["_source"]["event_date"]
        for h in hits
    }


def check_document(hit, version=None):
    """Deterministic id, yearly index and the version fields of one document."""
    source = hit["_source"]
    event_date = to_utc(source["event_date"])
    assert hit["_id"] == (
        f"{source['community_id']}_{source['record_id']}_{source['event_type']}_"
        f"{event_date.strftime('%Y%m%dT%H%M%S')}"
    )
    assert hit["_index"] == prefix_index(f"stats-community-events-{event_date.year}")
    if version is not None:
        assert source["record_created_date"] == fmt(to_utc(version["created"]))


def indexed(records):
    """``{id: _source}`` of the records in ``{P}rdmrecords-records``."""
    return {rid(r): get_indexed_record(r) for r in records}


def communities_of(source):
    return list(source["parent"]["communities"].get("ids") or [])


def expected_backfill(sources):
    """The ``added`` pairs the backfill must write for versions without a community
    request, dated at the version's ``created`` (communities made earlier)."""
    return {
        (record_id, scope, ADDED): fmt(to_utc(source["created"]))
        for record_id, source in sources.items()
        for scope in [GLOBAL, *communities_of(source)]
    }


def community_created(community):
    hits = current_search_client.search(
        index=prefix_index("communities"),
        body={"query": {"term": {"id": cid(community)}}},
    )["hits"]["hits"]
    assert len(hits) == 1
    return to_utc(hits[0]["_source"]["created"])


def new_community(owner, created=None, **kwargs):
    community = make_community(owner, f"bf-{uid()}", **kwargs)
    if created is not None:
        backdate_community(community, created)
    return community


def run(**filters):
    return current_community_stats_service.generate_record_community_events(**filters)


def status(**filters):
    return current_community_stats_service.count_records_needing_events(**filters)


@contextmanager
def counted_refreshes():
    """Count ``_refresh`` requests sent to the search cluster, by path."""
    transport = current_search_client.transport
    original = transport.perform_request
    calls = []

    def perform_request(method, url, *args, **kwargs):
        if "/_refresh" in url:
            calls.append(url)
        return original(method, url, *args, **kwargs)

    transport.perform_request = perform_request
    try:
        yield calls
    finally:
        transport.perform_request = original


# ----------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def owner(running_app):
    return make_user("ce-backfill-owner@example.org")


# ------------------------------------------------- 10. three versions, re-run


def test_three_versions_then_rerun(log, only_new_records, owner):
    """02 test 10: versions created D−2, D−1, D in C (created before D−2), empty log →
    (3, 6, 0), event_date = created for global and C; a re-run → (3, 0, 6)."""
    day = date(2023, 3, 15)
    community = new_community(owner, created=at(day - timedelta(days=3), 8))
    v1 = make_record(owner)
    v2 = new_version(owner, v1)
    v3 = new_version(owner, v2)
    bulk_add(community, [v3])
    for version, offset in ((v1, 2), (v2, 1), (v3, 0)):
        backdate_record(version, at(day - timedelta(days=offset), 10, 30, 15, 123))
    clear_log()

    sources = indexed([v1, v2, v3])
    for source in sources.values():
        assert communities_of(source) == [cid(community)]
    assert community_created(community) < min(
        to_utc(s["created"]) for s in sources.values()
    )
    expected = expected_backfill(sources)
    assert len(expected) == 6

    assert run() == (3, 6, 0)
    hits = log_hits()
    assert event_dates(hits) == expected
    for hit in hits:
        check_document(hit, sources[hit["_source"]["record_id"]])
        assert hit["_source"]["is_deleted"] is False
        assert not hit["_source"]["deleted_date"]
    first_ids = sorted(h["_id"] for h in hits)

    assert run() == (3, 0, 6)
    assert log_count() == 6
    assert sorted(h["_id"] for h in log_hits()) == first_ids


# ------------------------------------------------------------ 11. date rule


def seed_accept_time(request_id, when):
    """Move the ``accepted`` log event of a request to ``when`` (database + index)."""
    from invenio_requests.proxies import current_events_service
    from invenio_requests.records.api import RequestEvent
    from invenio_requests.records.models import RequestEventModel

    rows = [
        row
        for row in RequestEventModel.query.filter_by(
            request_id=str(request_id), type="L"
        )
        if (row.json.get("payload") or {}).get("event") == "accepted"
    ]
    assert len(rows) == 1, rows
    rows[0].created = when.astimezone(UTC).replace(tzinfo=None)
    db.session.add(rows[0])
    db.session.commit()
    current_events_service.indexer.index(RequestEvent.get_record(rows[0].id))
    current_search_client.indices.refresh(index=prefix_index("requestevents"))


def accept_time_of(request_id):
    """``created`` of the request's ``accepted`` log event, from the index."""
    hits = current_search_client.search(
        index=prefix_index("requestevents"),
        body={
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"request_id": str(request_id)}},
                        {"term": {"type": "L"}},
                    ]
                }
            },
            "size": 100,
        },
    )["hits"]["hits"]
    accepted = [
        h["_source"]["created"]
        for h in hits
        if (h["_source"].get("payload") or {}).get("event") == "accepted"
    ]
    assert len(accepted) == 1, hits
    return to_utc(accepted[0])


def test_date_rule_accepted_request_and_community_created(log, owner):
    """02 test 11 and §4.1: C created after the records. With an accepted inclusion
    request the C event is dated at the accept (also for a later sibling version);
    without a request at C's ``created``; ``global`` at the version's ``created``."""
    created = at(date(2023, 1, 10), 8)
    with_request = make_record(owner)
    without_request = make_record(owner)
    for record in (with_request, without_request):
        backdate_record(record, created)
    community = new_community(owner)
    request = include_in_community(owner, with_request, community, require_review=False)
    assert request.data["status"] == "accepted"
    accepted_at = at(date(2023, 9, 1), 14, 5, 6, 789)
    seed_accept_time(request.id, accepted_at)
    sibling = new_version(owner, with_request)
    backdate_record(sibling, at(date(2023, 2, 1), 9))
    bulk_add(community, [without_request])
    backdate_community(community, at(date(2023, 6, 1), 12))
    clear_log()

    sources = indexed([with_request, sibling, without_request])
    c_created = community_created(community)
    assert c_created == at(date(2023, 6, 1), 12)
    tA = accept_time_of(request.id)
    assert tA == accepted_at
    for source in sources.values():
        assert communities_of(source) == [cid(community)]
        assert to_utc(source["created"]) < c_created < tA

    assert run(recids=list(sources)) == (3, 6, 0)
    hits = log_hits(sources)
    expected = {
        (record_id, GLOBAL, ADDED): fmt(to_utc(source["created"]))
        for record_id, source in sources.items()
    }
    expected[(with_request.id, cid(community), ADDED)] = fmt(tA)
    expected[(sibling.id, cid(community), ADDED)] = fmt(tA)
    expected[(without_request.id, cid(community), ADDED)] = fmt(c_created)
    assert event_dates(hits) == expected
    for hit in hits:
        check_document(hit, sources[hit["_source"]["record_id"]])


# ------------------------------------------------------------- 12. filters


@pytest.fixture()
def edge_records(log, only_new_records, owner):
    """Four records in C and D, created at the day edges around D−1.

    R1 D−2 23:59:59.999, R2 D−1 00:00:00.000, R3 D−1 23:59:59.999, R4 D 00:00:00.000.
    """
    day = date(2022, 5, 20)
    c = new_community(owner, created=at(date(2022, 1, 1)))
    d = new_community(owner, created=at(date(2022, 1, 2)))
    records = [make_record(owner) for _ in range(4)]
    edges = [
        at(day - timedelta(days=2), 23, 59, 59, 999),
        at(day - timedelta(days=1)),
        at(day - timedelta(days=1), 23, 59, 59, 999),
        at(day),
    ]
    for record, created in zip(records, edges, strict=True):
        backdate_record(record, created)
    bulk_add(c, records)
    bulk_add(d, records)
    clear_log()
    sources = indexed(records)
    for record, created in zip(records, edges, strict=True):
        assert to_utc(sources[record.id]["created"]) == created
        assert sorted(communities_of(sources[record.id])) == sorted([cid(c), cid(d)])
    return day, c, d, records, sources


def backfill_pairs(expected_versions, expected_pairs, **filters):
    """Status, then generate, with ``filters``; return the written pairs and clear."""
    counted = status(**filters)
    assert counted["total_records"] == expected_versions
    assert counted["total_events_needed"] == expected_pairs
    processed, created, present = run(**filters)
    assert (processed, created, present) == (expected_versions, expected_pairs, 0)
    written = triples(log_hits())
    assert max(written.values(), default=1) == 1
    clear_log()
    return set(written)


def test_filter_record_ids(edge_records):
    """02 test 12: ``recids`` 2 of 3 → only their pairs."""
    _, c, d, records, _ = edge_records
    r1, r2, r3, _ = records
    pairs = backfill_pairs(2, 6, recids=[r1.id, r3.id])
    assert pairs == {
        (r.id, scope, ADDED) for r in (r1, r3) for scope in (GLOBAL, cid(c), cid(d))
    }


def test_filter_date_window_floor_and_ceil(edge_records):
    """02 test 12, §5 step 3: ``created`` ≥ start of the start day (floor) and ≤ the
    end of the end day (ceil), both in UTC."""
    day, c, d, records, _ = edge_records
    r1, r2, r3, r4 = records
    ids = [r.id for r in records]
    scopes = (GLOBAL, cid(c), cid(d))

    def pairs_of(*chosen):
        return {(r.id, s, ADDED) for r in chosen for s in scopes}

    one = day - timedelta(days=1)
    assert backfill_pairs(
        2, 6, recids=ids, start_date=one.isoformat(), end_date=one.isoformat()
    ) == pairs_of(r2, r3)
    # the floor: D−1 00:00:00.000 is in, D−2 23:59:59.999 is out
    assert backfill_pairs(3, 9, recids=ids, start_date=one, end_date=day) == pairs_of(
        r2, r3, r4
    )
    # the ceil: D−1 23:59:59.999 is in, D 00:00:00.000 is out
    assert backfill_pairs(
        3, 9, recids=ids, start_date=day - timedelta(days=2), end_date=one
    ) == pairs_of(r1, r2, r3)


def test_filter_community(edge_records):
    """02 test 12 and must-not "--community-id ignored": C only → no D, no global;
    a slug works like the UUID; ``global`` only when named."""
    _, c, d, records, _ = edge_records
    only_c = backfill_pairs(4, 4, community_ids=[cid(c)])
    assert only_c == {(r.id, cid(c), ADDED) for r in records}
    by_slug = backfill_pairs(4, 4, community_ids=[d.data["slug"]])
    assert by_slug == {(r.id, cid(d), ADDED) for r in records}
    ids = [r.id for r in records]
    named_global = backfill_pairs(4, 8, recids=ids, community_ids=[GLOBAL, cid(d)])
    assert named_global == {(r.id, s, ADDED) for r in records for s in (GLOBAL, cid(d))}


def test_unknown_community_is_refused(log):
    with pytest.raises(ValueError, match="unknown community: nope"):
        run(community_ids=["nope"])
    assert log_count() == 0


# ------------------------------------------------------------- 13. repair


def test_repair_stale_membership(log, owner):
    """02 test 13: the log says member of C, the parent is no longer in C → status
    reports 1 stale membership; generate writes one ``removed`` (run time); status 0."""
    community = new_community(owner)
    record = make_record(owner)
    # created in the past: a same-second added would share the deterministic id
    backdate_record(record, at(date(2023, 4, 5), 6))
    bulk_add(community, [record])
    clear_log()
    assert run(recids=[record.id]) == (1, 2, 0)
    remove_from_community(system_identity, record, community)
    assert communities_of(get_indexed_record(record)) == []

    counted = status(recids=[record.id])
    assert counted["stale_memberships"] == 1
    assert counted["total_events_needed"] == 0
    assert counted["records_needing_events"] == 0

    with window() as span:
        assert run(recids=[record.id]) == (1, 1, 1)
    hits = log_hits([record])
    assert triples(hits) == Counter(
        {
            (record.id, GLOBAL, ADDED): 1,
            (record.id, cid(community), ADDED): 1,
            (record.id, cid(community), REMOVED): 1,
        }
    )
    (removed,) = [h for h in hits if h["_source"]["event_type"] == REMOVED]
    assert within(removed["_source"]["event_date"], span)
    check_document(removed)
    pair = [h for h in hits if h["_source"]["community_id"] == cid(community)]
    assert not fold_events(pair).is_open

    after = status(recids=[record.id])
    assert after["stale_memberships"] == 0
    assert after["total_events_needed"] == 0
    assert run(recids=[record.id]) == (1, 0, 1)

    # 02 §4.1 re-opening: back in C (unseen by the log); the backfill date (the
    # version's created) is not after the removal, so the new added is the run time
    bulk_add(community, [record])
    assert status(recids=[record.id])["total_events_needed"] == 1
    with window() as reopened:
        assert run(recids=[record.id]) == (1, 1, 1)
    pair = [
        h for h in log_hits([record]) if h["_source"]["community_id"] == cid(community)
    ]
    assert len(pair) == 3
    first, second = fold_events(pair).intervals
    assert first.end == to_utc(removed["_source"]["event_date"])
    assert second.end is None
    assert reopened["start"] <= second.start <= reopened["end"]


# ------------------------------------------------- 14. publication dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019", datetime(2019, 1, 1, tzinfo=UTC)),
        ("2019-05", datetime(2019, 5, 1, tzinfo=UTC)),
        ("2019-05-17", datetime(2019, 5, 17, tzinfo=UTC)),
        ("2019/2021", datetime(2019, 1, 1, tzinfo=UTC)),
        ("2019-05/2021-02", datetime(2019, 5, 1, tzinfo=UTC)),
        ("2019-05-17/2021-02-03", datetime(2019, 5, 17, tzinfo=UTC)),
        ("2019-2021", datetime(2019, 1, 1, tzinfo=UTC)),
        ("2019-05-17T13:45:07", datetime(2019, 5, 17, tzinfo=UTC)),
        ("2019-05-17T13:45:07Z", datetime(2019, 5, 17, tzinfo=UTC)),
    ],
)
def test_publication_date_normalisation(value, expected, caplog):
    """02 §4.2: each row → the start of its first day, no warning."""
    with caplog.at_level(logging.WARNING):
        assert normalize_publication_date(value, "abcd-1234") == expected
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("value", ["garbage", "", None, "  "])
def test_unparsable_publication_date(value, caplog):
    """02 §4.2: empty or unparsable → None, with one WARNING naming the record."""
    with caplog.at_level(logging.WARNING):
        assert normalize_publication_date(value, "abcd-1234") is None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "abcd-1234" in warnings[0].getMessage()


def test_publication_date_normalisation_is_cheap():
    """Beyond the original (≥ 500 versions/s): the plain EDTF forms are normalised
    without the EDTF grammar, which costs milliseconds per value and made the
    backfill run at ~200 versions/s. 6,000 distinct values take well under a second
    (the grammar needs tens of seconds)."""
    start = date(1900, 1, 1)
    values = [(start + timedelta(days=n)).isoformat() for n in range(3000)]
    values += [f"{1000 + n}/{1001 + n}" for n in range(3000)]
    started = time_module.perf_counter()
    results = [normalize_publication_date(value, "abcd-1234") for value in values]
    elapsed = time_module.perf_counter() - started
    assert results[0] == datetime(1900, 1, 1, tzinfo=UTC)
    assert results[-1] == datetime(3999, 1, 1, tzinfo=UTC)
    assert None not in results
    assert elapsed < 2.0, elapsed


def test_publication_date_stored_by_backfill(log, owner, caplog):
    """02 §4.2 through the backfill: an EDTF interval is stored as its start; an
    unparsable value in the records index is stored as null with one warning."""
    interval = make_record(owner, publication_date="2019/2021")
    broken = make_record(owner)
    clear_log()
    # InvenioRDM refuses such a value, so it is put into the index directly
    (hit,) = current_search_client.search(
        index=prefix_index("rdmrecords-records"),
        body={"query": {"term": {"id": broken.id}}},
    )["hits"]["hits"]
    current_search_client.update(
        index=hit["_index"],
        id=hit["_id"],
        body={"doc": {"metadata": {"publication_date": "garbage"}}},
        refresh=True,
    )
    with caplog.at_level(logging.WARNING):
        assert run(recids=[interval.id, broken.id]) == (2, 2, 0)
    hits = log_hits([interval, broken])
    stored = {
        (h["_source"]["record_id"], h["_source"]["community_id"]): h["_source"][
            "record_published_date"
        ]
        for h in hits
    }
    assert stored == {
        (interval.id, GLOBAL): "2019-01-01T00:00:00.000",
        (broken.id, GLOBAL): None,
    }
    warnings = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and broken.id in r.getMessage()
    ]
    assert len(warnings) == 1


# --------------------------------------------------------- 15. status numbers


def test_status_numbers(log, only_new_records, owner):
    """02 test 15: 5 versions, 2 with complete events → ``records_needing_events`` 3
    and ``total_events_needed`` computed from each version's communities."""
    c = new_community(owner)
    d = new_community(owner)
    a1 = make_record(owner)
    a2 = new_version(owner, a1)
    b1 = make_record(owner)
    b2 = new_version(owner, b1)
    e1 = make_record(owner)
    bulk_add(c, [a2, b2])
    bulk_add(d, [a2])
    versions = [a1, a2, b1, b2, e1]
    complete = [a2, b1]
    clear_log()
    assert run(recids=[v.id for v in complete]) == (2, 5, 0)

    sources = indexed(versions)
    needing = [v.id for v in versions if v not in complete]
    breakdown = Counter(
        scope
        for record_id in needing
        for scope in [GLOBAL, *communities_of(sources[record_id])]
    )
    counted = status()
    assert counted["live_tracking_active"] is False  # the writers are off
    assert "RDM_RECORDS_SERVICE_COMPONENTS" in counted["live_tracking_reason"]
    log.on()
    counted = status()
    assert counted["total_records"] == 5
    assert counted["records_needing_events"] == 3
    assert counted["total_events_needed"] == sum(breakdown.values()) == 6
    assert counted["community_breakdown"] == dict(breakdown)
    assert counted["stale_memberships"] == 0
    assert counted["deletion_flag_mismatches"] == 0
    assert set(counted["communities_checked"]) >= {GLOBAL, cid(c), cid(d)}
    assert counted["initialized"] is False
    assert counted["live_tracking_active"] is True
    assert counted["live_tracking_reason"] is None
    # the counting pass wrote nothing
    assert log_count() == 5
    # filtered status counts only the filtered scopes
    only_c = status(community_ids=[cid(c)])
    assert only_c["community_breakdown"] == {cid(c): breakdown[cid(c)]}
    assert only_c["communities_checked"] == [cid(c)]


# -------------------------------------------------------------- 17. marker


def test_completion_marker(log, only_new_records, owner):
    """02 §5 step 7, test 17: filtered runs write no marker; an unfiltered one does;
    after deleting it with events present, status with 0 missing writes it back."""
    community = new_community(owner)
    record = make_record(owner)
    other = make_record(owner)
    bulk_add(community, [record, other])
    clear_log()
    assert marker() is None

    assert run(recids=[record.id]) == (1, 2, 0)
    assert run(community_ids=[GLOBAL]) == (2, 1, 1)
    assert marker() is None
    counted = status()
    assert counted["total_events_needed"] == 1  # (other, C)
    assert counted["initialized"] is False
    assert counted["initialized_at"] is None
    assert marker() is None

    with window() as span:
        assert run() == (2, 1, 3)
    written = marker()
    assert written["aggregation_type"] == "community-events-indexing"
    assert written["community_id"] == GLOBAL
    assert within(written["date"], span)
    counted = status()
    assert counted["initialized"] is True
    assert counted["initialized_at"] == written["date"]

    delete_marker()
    assert status(recids=[record.id])["initialized"] is False  # filtered: no write
    assert marker() is None
    with window() as span:
        counted = status()
    assert counted["total_events_needed"] == 0
    assert counted["initialized"] is True
    assert within(marker()["date"], span)
    assert log_count() == 4


def test_no_marker_without_events(log, only_new_records):
    """An empty instance (no versions, no events) is not marked by status."""
    counted = status()
    assert counted["total_records"] == 0
    assert counted["initialized"] is False
    assert marker() is None


# ------------------------------------------------------------- must not


def test_version_in_twelve_communities(log, owner):
    """Must-not "pre-check saw only 10 hits": a version in 12 communities → exactly
    13 documents; a re-run, reading all 13, adds none."""
    communities = [new_community(owner) for _ in range(12)]
    record = make_record(owner)
    for community in communities:
        bulk_add(community, [record])
    scopes = {GLOBAL, *(cid(c) for c in communities)}
    assert set(communities_of(get_indexed_record(record))) == scopes - {GLOBAL}
    assert run(recids=[record.id]) == (1, 13, 0)
    assert triples(log_hits([record])) == Counter(
        {(record.id, s, ADDED): 1 for s in scopes}
    )
    assert run(recids=[record.id]) == (1, 0, 13)
    assert log_count() == 13


def removal_date_of(record):
    """The tombstone's removal time, from the database."""
    from invenio_rdm_records.records.api import RDMRecord

    return to_utc(RDMRecord.pid.resolve(rid(record)).tombstone.removal_date)


def test_tombstoned_record(log, owner):
    """Must-not "is_deleted=false for deleted records": flags from the records index."""
    community = new_community(owner)
    record = make_record(owner)
    bulk_add(community, [record])
    delete_record(record)
    clear_log()
    source = get_indexed_record(record)
    assert source["deletion_status"] == "D"
    removal = removal_date_of(record)
    assert to_utc(source["tombstone"]["removal_date"]) == removal

    assert run(recids=[record.id]) == (1, 2, 0)
    hits = log_hits([record])
    assert event_dates(hits) == {
        (record.id, GLOBAL, ADDED): fmt(to_utc(source["created"])),
        (record.id, cid(community), ADDED): fmt(to_utc(source["created"])),
    }
    for hit in hits:
        assert hit["_source"]["is_deleted"] is True
        assert hit["_source"]["deleted_date"] == fmt(removal)
        assert not fold_events([hit]).is_open
    assert run(recids=[record.id]) == (1, 0, 2)


def test_deletion_flags_repaired(log, owner):
    """02 §5 step 5: a deleted version whose open memberships are not flagged (the
    deletion was not tracked) → status counts the mismatches, generate flags them."""
    community = new_community(owner)
    record = make_record(owner)
    # created in the past: a same-second added would share the deterministic id
    backdate_record(record, at(date(2023, 4, 5), 6))
    bulk_add(community, [record])
    clear_log()
    assert run(recids=[record.id]) == (1, 2, 0)
    delete_record(record)
    removal = removal_date_of(record)
    before = {h["_id"]: h["_source"] for h in log_hits([record])}
    assert all(not s["is_deleted"] for s in before.values())

    assert status(recids=[record.id])["deletion_flag_mismatches"] == 2
    assert run(recids=[record.id]) == (1, 0, 0)
    after = {h["_id"]: h["_source"] for h in log_hits([record])}
    assert set(after) == set(before)
    for source in after.values():
        assert source["is_deleted"] is True
        assert source["deleted_date"] == fmt(removal)
    assert status(recids=[record.id])["deletion_flag_mismatches"] == 0

    # 02 §4.1 re-opening: restored (unseen by the log) → a new added per scope, at
    # the run time; the flags of the deleted membership stay
    restore_record(record)
    counted = status(recids=[record.id])
    assert counted["total_events_needed"] == 2
    assert counted["deletion_flag_mismatches"] == 0
    with window() as reopened:
        assert run(recids=[record.id]) == (1, 2, 0)
    hits = log_hits([record])
    assert len(hits) == 4
    for hit in hits:
        if hit["_id"] in before:
            assert hit["_source"]["is_deleted"] is True
        else:
            assert hit["_source"]["is_deleted"] is False
            assert within(hit["_source"]["event_date"], reopened)
    for scope in (GLOBAL, cid(community)):
        pair = [h for h in hits if h["_source"]["community_id"] == scope]
        first, second = fold_events(pair).intervals
        assert first.end == removal
        assert second.end is None


def test_one_refresh_per_run(log, owner):
    """Must-not "2–3 refreshes per record": one refresh of the alias per run."""
    community = new_community(owner)
    records = [make_record(owner) for _ in range(3)]
    bulk_add(community, records)
    clear_log()
    with counted_refreshes() as calls:
        assert run(recids=[r.id for r in records]) == (3, 6, 0)
    assert calls == [f"/{alias()}/_refresh"]
    assert log_count() == 6


# ------------------------------------------ backfill = what the live writers wrote


def current_memberships(hits):
    """Pairs whose membership is open, or was closed by a deletion, by the helper."""
    groups = {}
    for hit in hits:
        source = hit["_source"]
        groups.setdefault((source["record_id"], source["community_id"]), []).append(hit)
    state = {}
    for pair, documents in groups.items():
        history = fold_events(documents)
        if history.is_open:
            state[pair] = "open"
        elif history.closed_by_deletion:
            state[pair] = "closed by deletion"
    return state


def test_backfill_reproduces_the_live_log(log, only_new_records, owner):
    """Issue acceptance: on an instance built with the live writers on (records in
    several communities, a removed one, new versions, a deleted and a restored one),
    the backfill from an empty log yields the same memberships as the live log, and a
    second run writes nothing. Memberships that ended before the backfill leave no
    trace in InvenioRDM, so they are absent from both sides by construction."""
    create_fast_refresh_indices()
    log.on()
    first, second = new_community(owner), new_community(owner)
    in_both = make_record(owner)
    include_in_community(owner, in_both, first)
    include_in_community(owner, in_both, second)
    removed = make_record(owner)
    include_in_community(owner, removed, first)
    remove_from_community(owner, removed, first)
    versioned = make_record(owner)
    include_in_community(owner, versioned, second)
    new_version(owner, versioned)
    deleted = make_record(owner)
    include_in_community(owner, deleted, first)
    delete_record(deleted)
    restored = make_record(owner)
    include_in_community(owner, restored, second)
    delete_record(restored)
    restore_record(restored)
    live = current_memberships(log_hits())
    assert ("open" in live.values()) and ("closed by deletion" in live.values())

    log.off()
    clear_log()
    processed, written, present = run()
    assert (processed, present) == (6, 0)
    assert current_memberships(log_hits()) == live
    assert run()[1:] == (0, len(live))
