"""Live writers of the community membership log (02 §2–§4.1, 01 §5.2).

Every membership change goes through the real InvenioRDM services, so the extension's
three service components (publish/delete/restore, direct inclusion/removal, accepted
requests) run exactly as in production. The expected documents are derived from the
operations each test performs: the time window around each service call, the record
ids and the community UUIDs.
"""

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from helpers.apps import api_app_of
from helpers.community_event_log import cid, create_fast_refresh_indices, rid, uid
from helpers.factories import (
    FactoryError,
    accept_request,
    backdate_community,
    backdate_record,
    bulk_add,
    decline_request,
    delete_record,
    include_in_community,
    make_community,
    make_draft,
    make_record,
    make_user,
    new_version,
    read_record,
    refresh_communities_index,
    refresh_records_index,
    remove_from_community,
    restore_record,
    submit_to_community,
    update_record,
)
from invenio_access.permissions import system_identity
from invenio_communities.proxies import current_communities
from invenio_db import db
from invenio_db.uow import UnitOfWork
from invenio_rdm_records.proxies import (
    current_community_records_service,
    current_rdm_records_service,
    current_record_communities_service,
)
from invenio_requests.proxies import current_requests_service
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.community_events import components as components_module
from invenio_stats_dashboard.community_events import writer as writer_module
from invenio_stats_dashboard.community_events.components import (
    CommunityAcceptedEventComponent,
    RecordCommunityEventComponent,
    RecordCommunityEventTrackingComponent,
)
from invenio_stats_dashboard.community_events.membership import fold_events
from invenio_stats_dashboard.ext import InvenioStatsDashboard
from invenio_stats_dashboard.tasks.community_events_tasks import (
    write_community_events,
)

GLOBAL = "global"
ADDED = "added"
REMOVED = "removed"
DATE_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")
PUBLICATION_DATE = "2024-01-15"  # the factories' default publication date

OUR_COMPONENTS = {
    "RDM_RECORDS_SERVICE_COMPONENTS": RecordCommunityEventComponent,
    "RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS": RecordCommunityEventTrackingComponent,
    "REQUESTS_EVENTS_SERVICE_COMPONENTS": CommunityAcceptedEventComponent,
}


# ----------------------------------------------------------------------- helpers


def alias():
    return prefix_index("stats-community-events")


def parse_date(value):
    """Parse a stored date: offset-less ``YYYY-MM-DDTHH:MM:SS.mmm``, read as UTC."""
    assert DATE_FORMAT.match(value), value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def fmt(value):
    """Format like the log: ``YYYY-MM-DDTHH:MM:SS.mmm``, UTC, no offset."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def to_ms(value):
    """An aware datetime (or ISO string) truncated to whole milliseconds, UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass
class Window:
    """The time span of one service operation, as the log can record it."""

    start: datetime
    end: datetime | None = None

    def __contains__(self, moment):
        return self.start <= moment <= self.end


@contextmanager
def window():
    """Capture ``datetime.now(UTC)`` before and after the operation in the block."""
    span = Window(to_ms(datetime.now(UTC)))
    yield span
    span.end = datetime.now(UTC)


def event_hits(*records):
    """Every log document of the given records (no refresh: writes use wait_for)."""
    response = current_search_client.search(
        index=alias(),
        body={
            "query": {"terms": {"record_id": [rid(r) for r in records]}},
            "size": 1000,
            "version": True,
        },
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    return response["hits"]["hits"]


def snapshot(*records):
    """``{_id: (_index, _version, _source)}`` of the records' documents."""
    return {
        h["_id"]: (h["_index"], h["_version"], h["_source"])
        for h in event_hits(*records)
    }


def triples(hits):
    return sorted(
        (
            h["_source"]["record_id"],
            h["_source"]["community_id"],
            h["_source"]["event_type"],
        )
        for h in hits
    )


def pair_hits(hits, record, scope):
    return [
        h
        for h in hits
        if h["_source"]["record_id"] == rid(record)
        and h["_source"]["community_id"] == scope
    ]


def history(hits, record, scope):
    """The shared membership helper applied to one pair's documents."""
    return fold_events(pair_hits(hits, record, scope))


def created_of(record):
    return to_ms(read_record(rid(record)).data["created"])


def removal_date_of(record):
    """The tombstone's full removal time (the service dump keeps only the date)."""
    from invenio_rdm_records.records.api import RDMRecord

    return to_ms(RDMRecord.pid.resolve(rid(record)).tombstone.removal_date)


def check_document(hit):
    """Field shape, deterministic id and yearly index of one log document."""
    source = hit["_source"]
    event_date = parse_date(source["event_date"])
    expected_id = (
        f"{source['community_id']}_{source['record_id']}_{source['event_type']}_"
        f"{event_date.strftime('%Y%m%dT%H%M%S')}"
    )
    assert hit["_id"] == expected_id
    assert hit["_index"] == prefix_index(f"stats-community-events-{event_date.year}")
    assert source["event_type"] in (ADDED, REMOVED)
    parse_date(source["timestamp"])
    parse_date(source["updated_timestamp"])
    return event_date


def assert_events(hits, expected):
    """``hits`` are exactly the ``expected`` (record, scope, type, window) events.

    Several events of one (record, scope, type) are matched in date order against
    windows in start order. Each document also gets its id, index, created and
    publication dates checked.
    """
    assert triples(hits) == sorted((rid(r), s, t) for r, s, t, _ in expected)
    groups = {}
    for record, scope, event_type, span in expected:
        groups.setdefault((rid(record), scope, event_type), []).append(span)
    created = {}
    for (record_id, scope, event_type), spans in groups.items():
        found = sorted(
            (
                h
                for h in hits
                if (
                    h["_source"]["record_id"],
                    h["_source"]["community_id"],
                    h["_source"]["event_type"],
                )
                == (record_id, scope, event_type)
            ),
            key=lambda h: h["_source"]["event_date"],
        )
        for hit, span in zip(found, sorted(spans, key=lambda s: s.start), strict=True):
            event_date = check_document(hit)
            assert event_date in span, (hit["_id"], span)
            if record_id not in created:
                created[record_id] = created_of(record_id)
            source = hit["_source"]
            assert parse_date(source["record_created_date"]) == created[record_id]
            assert source["record_published_date"] == f"{PUBLICATION_DATE}T00:00:00.000"


def new_community(owner, **kwargs):
    return make_community(owner, f"ce-{uid()}", **kwargs)


def community_update_data(community, **extra):
    """The updatable fields of a community, plus ``extra``."""
    data = current_communities.service.read(system_identity, cid(community)).data
    result = {key: data[key] for key in ("slug", "metadata", "access")}
    result.update(extra)
    return result


def make_parent_and_child(owner):
    """Community P that allows children, and K created as P's subcommunity."""
    parent = new_community(owner)
    service = current_communities.service
    service.update(
        system_identity,
        cid(parent),
        community_update_data(parent, children={"allow": True}),
    )
    child = new_community(owner)
    service.update(
        system_identity,
        cid(child),
        community_update_data(child, parent={"id": cid(parent)}),
    )
    refresh_communities_index()
    resolved = service.record_cls.pid.resolve(cid(child))
    assert str(resolved.parent.id) == cid(parent)
    return parent, child


@contextmanager
def intents_spy(monkeypatch):
    """Record every intent a component registers (the components are not replaced)."""
    captured = []
    original = components_module.register_intents

    def spy(uow, intents):
        captured.extend(intents)
        return original(uow, intents)

    monkeypatch.setattr(components_module, "register_intents", spy)
    yield captured


def without_our_component(set_config, *keys):
    """Set the named component lists to the current ones minus our component."""
    values = {}
    for key in keys:
        current = list(current_app_config()[key])
        assert OUR_COMPONENTS[key] in current
        values[key] = [c for c in current if c is not OUR_COMPONENTS[key]]
    set_config(**values)


def current_app_config():
    from flask import current_app

    return current_app.config


@contextmanager
def search_down_after_commit(failures):
    """Make the next ``failures`` search requests fail once the database commits.

    The outage starts right after ``session.commit()`` of the service's unit of
    work, i.e. while InvenioRDM indexes and the log is written.
    """
    from opensearchpy.exceptions import ConnectionError as SearchConnectionError
    from sqlalchemy import event

    transport = current_search_client.transport
    original = transport.perform_request
    state = {"armed": True, "left": 0, "failed": []}

    def after_commit(session):
        if state["armed"]:
            state["armed"] = False
            state["left"] = failures

    def perform_request(method, url, *args, **kwargs):
        if state["left"] > 0:
            state["left"] -= 1
            state["failed"].append((method, url))
            raise SearchConnectionError("N/A", "search is down", None)
        return original(method, url, *args, **kwargs)

    event.listen(db.session, "after_commit", after_commit)
    transport.perform_request = perform_request
    try:
        yield state
    finally:
        transport.perform_request = original
        event.remove(db.session, "after_commit", after_commit)


# ----------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def owner(running_app):
    return make_user("ce-live-owner@example.org")


@pytest.fixture(scope="module")
def uploader(running_app):
    return make_user("ce-live-uploader@example.org")


@pytest.fixture()
def log(running_app, clear_stats_indices):
    """An empty log per test, with fast-refreshing yearly indices (see helper)."""
    create_fast_refresh_indices()


# --------------------------------------------------------------- hook registration


def test_components_registered_exactly_once(base_app, running_app):
    for app in (base_app, api_app_of(base_app)):
        for key, component in OUR_COMPONENTS.items():
            assert list(app.config[key]).count(component) == 1, key
    # the services built by InvenioRDM read these lists (``FromConfig``)
    from invenio_requests.proxies import current_events_service

    services = {
        "RDM_RECORDS_SERVICE_COMPONENTS": current_rdm_records_service,
        "RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS": current_record_communities_service,
        "REQUESTS_EVENTS_SERVICE_COMPONENTS": current_events_service,
    }
    for key, service in services.items():
        assert list(service.config.components).count(OUR_COMPONENTS[key]) == 1, key


def test_repeated_init_does_not_duplicate_components():
    class Custom:
        pass

    shared = [Custom]
    app = Flask("ce-init")
    app.config.update(
        COMMUNITY_STATS_ENABLED=True, RDM_RECORDS_SERVICE_COMPONENTS=shared
    )
    extension = InvenioStatsDashboard(app)
    extension.init_app(app)
    InvenioStatsDashboard().init_app(app)
    for key, component in OUR_COMPONENTS.items():
        assert list(app.config[key]).count(component) == 1, key
    # the instance's own list is kept (ours appended) and never mutated in place
    assert app.config["RDM_RECORDS_SERVICE_COMPONENTS"] == [
        Custom,
        RecordCommunityEventComponent,
    ]
    assert shared == [Custom]


def test_components_do_not_hook_add_or_add_community():
    for component in OUR_COMPONENTS.values():
        assert not hasattr(component, "add")
        assert not hasattr(component, "add_community")


def test_expected_hook_methods_exist():
    assert callable(RecordCommunityEventComponent.publish)
    assert callable(RecordCommunityEventComponent.delete_record)
    assert callable(RecordCommunityEventComponent.restore_record)
    assert callable(RecordCommunityEventTrackingComponent.bulk_add)
    assert callable(RecordCommunityEventTrackingComponent.remove_community)
    assert callable(CommunityAcceptedEventComponent.create)


# --------------------------------------------------------- 1. direct inclusion


def test_direct_inclusion_by_curator(log, owner):
    community = new_community(owner)
    with window() as t0:
        record = make_record(owner)
    assert_events(event_hits(record), [(record, GLOBAL, ADDED, t0)])
    with window() as t1:
        request = include_in_community(owner, record, community, require_review=False)
    assert request.data["status"] == "accepted"
    assert_events(
        event_hits(record),
        [(record, GLOBAL, ADDED, t0), (record, cid(community), ADDED, t1)],
    )


def test_direct_inclusion_by_bulk_add(log, owner):
    community = new_community(owner)
    with window() as t0:
        record = make_record(owner)
    with window() as t1:
        bulk_add(community, [record])
    assert_events(
        event_hits(record),
        [(record, GLOBAL, ADDED, t0), (record, cid(community), ADDED, t1)],
    )


def test_republishing_an_edited_version_writes_nothing(log, owner):
    community = new_community(owner)
    record = make_record(owner, communities=[community])
    before = snapshot(record)
    assert len(before) == 2
    update_record(owner, record, metadata={"title": "Edited"})
    assert snapshot(record) == before


# --------------------------------------------------------- 2. reviewed inclusion


def test_reviewed_inclusion(log, owner, uploader):
    community = new_community(owner, review_policy="closed")
    with window() as t0:
        record = make_record(uploader)
    request = include_in_community(uploader, record, community, accept=False)
    assert request.data["status"] == "submitted"
    assert_events(event_hits(record), [(record, GLOBAL, ADDED, t0)])

    declined = decline_request(owner, request.id)
    assert declined.data["status"] == "declined"
    refresh_records_index()
    assert_events(event_hits(record), [(record, GLOBAL, ADDED, t0)])

    second = include_in_community(uploader, record, community, accept=False)
    with window() as t2:
        accepted = accept_request(owner, second.id)
    assert accepted.data["status"] == "accepted"
    assert_events(
        event_hits(record),
        [(record, GLOBAL, ADDED, t0), (record, cid(community), ADDED, t2)],
    )


# ------------------------------------------------------ 3. community submission


def test_community_submission_accepted(log, owner, uploader):
    community = new_community(owner)
    draft = make_draft(uploader)
    request = submit_to_community(uploader, draft.id, community)
    assert event_hits(draft.id) == []
    with window() as t3:
        accept_request(owner, request.id)
    refresh_records_index()
    assert read_record(draft.id).data["is_published"] is True
    hits = event_hits(draft.id)
    assert_events(
        hits, [(draft.id, GLOBAL, ADDED, t3), (draft.id, cid(community), ADDED, t3)]
    )


def test_community_submission_declined_writes_nothing(log, owner, uploader):
    community = new_community(owner)
    draft = make_draft(uploader)
    request = submit_to_community(uploader, draft.id, community)
    decline_request(owner, request.id)
    assert event_hits(draft.id) == []


# --------------------------------------------------------------------- 4. versions


def test_versions_included_then_new_version(log, owner):
    community = new_community(owner)
    other = new_community(owner)
    with window() as tv1:
        v1 = make_record(owner)
    with window() as tv2:
        v2 = new_version(owner, v1)
    with window() as t4:
        include_in_community(owner, v1, community, require_review=False)
    expected = [
        (v1, GLOBAL, ADDED, tv1),
        (v2, GLOBAL, ADDED, tv2),
        (v1, cid(community), ADDED, t4),
        (v2, cid(community), ADDED, t4),
    ]
    assert_events(event_hits(v1, v2), expected)
    with window() as t4b:
        bulk_add(other, [v2])
    expected += [(v1, cid(other), ADDED, t4b), (v2, cid(other), ADDED, t4b)]
    assert_events(event_hits(v1, v2), expected)
    before = snapshot(v1, v2)

    with window() as t5:
        v3 = new_version(owner, v2)
    assert_events(
        event_hits(v3),
        [
            (v3, GLOBAL, ADDED, t5),
            (v3, cid(community), ADDED, t5),
            (v3, cid(other), ADDED, t5),
        ],
    )
    assert snapshot(v1, v2) == before


# --------------------------------------------------------------------- 5. removal


def remove_from_record_side(owner, record, community):
    remove_from_community(owner, record, community)


def remove_from_community_side(owner, record, community):
    errors = current_community_records_service.delete(
        owner.identity, cid(community), {"records": [{"id": record.id}]}
    )
    assert errors == []
    refresh_records_index()


@pytest.mark.parametrize(
    "remove", [remove_from_record_side, remove_from_community_side]
)
def test_removal_closes_every_version(log, owner, remove):
    """02 test 5: removal from the record side and from the community side → one
    ``removed`` per published version; ``global`` untouched; a closed interval."""
    community = new_community(owner)
    with window() as tv1:
        v1 = make_record(owner)
    with window() as tv2:
        v2 = new_version(owner, v1)
    with window() as tadd:
        bulk_add(community, [v1])
    with window() as trem:
        remove(owner, v2, community)
    assert read_record(v1).data["parent"]["communities"].get("ids", []) == []
    hits = event_hits(v1, v2)
    assert_events(
        hits,
        [
            (v1, GLOBAL, ADDED, tv1),
            (v2, GLOBAL, ADDED, tv2),
            (v1, cid(community), ADDED, tadd),
            (v2, cid(community), ADDED, tadd),
            (v1, cid(community), REMOVED, trem),
            (v2, cid(community), REMOVED, trem),
        ],
    )
    for version in (v1, v2):
        (interval,) = history(hits, version, cid(community)).intervals
        assert interval.start in tadd and interval.end in trem
        assert history(hits, version, GLOBAL).is_open


def test_second_removal_writes_nothing(log, owner):
    community = new_community(owner)
    record = make_record(owner, communities=[community])
    with window() as trem:
        remove_from_community(owner, record, community)
    before = snapshot(record)
    assert len(before) == 3
    # the service refuses the second removal; the log stays closed and unchanged
    with pytest.raises(FactoryError):
        remove_from_community(owner, record, community)
    assert snapshot(record) == before
    (removed,) = [
        h for h in event_hits(record) if h["_source"]["event_type"] == REMOVED
    ]
    assert parse_date(removed["_source"]["event_date"]) in trem
    assert not history(event_hits(record), record, cid(community)).is_open


def test_removal_after_deletion_writes_nothing(log, owner):
    """A membership closed by the deletion gets no ``removed`` (nothing is open)."""
    community = new_community(owner)
    with window() as t0:
        record = make_record(owner, communities=[community])
    delete_record(record)
    flagged = snapshot(record)
    remove_from_community(owner, record, community)
    assert snapshot(record) == flagged
    # ids have one-second resolution: a restore within the second of the first
    # publication would be moved to the next second to keep its own id
    next_second()
    with window() as tr:
        restore_record(record)
    # restore re-opens only the scopes still on the parent
    hits = event_hits(record)
    assert_events(
        hits,
        [
            (record, GLOBAL, ADDED, t0),
            (record, cid(community), ADDED, t0),
            (record, GLOBAL, ADDED, tr),
        ],
    )
    assert not history(hits, record, cid(community)).is_open


def next_second():
    """Wait until the current UTC second has passed."""
    now = datetime.now(UTC)
    time.sleep(1 - now.microsecond / 1_000_000 + 0.01)


# --------------------------------------------------------- 6. add, remove, add


def test_add_remove_add(log, owner):
    community = new_community(owner)
    scope = cid(community)
    record = make_record(owner)
    with window() as t1:
        bulk_add(community, [record])
    with window() as t2:
        remove_from_community(owner, record, community)
    hits = event_hits(record)
    pair = history(hits, record, scope)
    (first,) = pair.intervals
    assert first.start in t1 and first.end in t2
    today = first.start.date()
    if first.end.date() == today:  # same UTC day: member that day, not at its end
        assert pair.member_on_day(today) is True
        assert pair.member_at_end_of_day(today) is False
    assert pair.member_on_day(today - timedelta(days=1)) is False
    # keep the re-add out of the first ``added``'s second (ids are per second)
    next_second()
    with window() as t3:
        include_in_community(owner, record, community, require_review=False)
    hits = event_hits(record)
    assert len(pair_hits(hits, record, scope)) == 3
    assert_events(
        pair_hits(hits, record, scope),
        [
            (record, scope, ADDED, t1),
            (record, scope, REMOVED, t2),
            (record, scope, ADDED, t3),
        ],
    )
    pair = history(hits, record, scope)
    assert len(pair.intervals) == 2
    assert pair.intervals[0].end in t2
    assert pair.intervals[1].start in t3 and pair.intervals[1].end is None
    assert pair.member_at_end_of_day(pair.intervals[1].start.date()) is True


# --------------------------------------------------------- 7. delete and restore


def test_delete_and_restore(log, owner):
    community = new_community(owner)
    ended = new_community(owner)
    c, d = cid(community), cid(ended)
    with window() as tv1:
        v1 = make_record(owner)
    with window() as tv2:
        v2 = new_version(owner, v1)
    with window() as tc:
        bulk_add(community, [v1])
    with window() as td:
        bulk_add(ended, [v1])
    with window() as tdr:
        remove_from_community(owner, v1, ended)
    before = snapshot(v1, v2)
    assert len(before) == 8

    with window() as tdel:
        delete_record(v2)
    removal_date = removal_date_of(v2)
    assert removal_date in tdel
    after_delete = snapshot(v1, v2)
    assert set(after_delete) == set(before)  # flags only, no new document
    changed = {i for i in before if before[i] != after_delete[i]}
    v2_added = {i: s for i, (_, _, s) in before.items() if s["record_id"] == v2.id}
    expected_changed = {
        i
        for i, s in v2_added.items()
        if s["event_type"] == ADDED and s["community_id"] in (GLOBAL, c)
    }
    assert len(expected_changed) == 2
    assert changed == expected_changed
    for doc_id in changed:
        source = after_delete[doc_id][2]
        assert source["is_deleted"] is True
        assert parse_date(source["deleted_date"]) == removal_date
        assert parse_date(source["updated_timestamp"]) in tdel
        assert after_delete[doc_id][1] == before[doc_id][1] + 1
    # the membership of v2 in D ended earlier: untouched (checked by ``changed``)
    hits = event_hits(v2)
    for scope in (GLOBAL, c):
        (interval,) = history(hits, v2, scope).intervals
        assert interval.end == removal_date

    with window() as tr:
        restore_record(v2)
    after_restore = snapshot(v1, v2)
    for doc_id, value in after_delete.items():
        assert after_restore[doc_id] == value  # flags kept, nothing else changed
    new_ids = set(after_restore) - set(after_delete)
    hits = event_hits(v1, v2)
    assert_events(
        hits,
        [
            (v1, GLOBAL, ADDED, tv1),
            (v2, GLOBAL, ADDED, tv2),
            (v1, c, ADDED, tc),
            (v2, c, ADDED, tc),
            (v1, d, ADDED, td),
            (v2, d, ADDED, td),
            (v1, d, REMOVED, tdr),
            (v2, d, REMOVED, tdr),
            (v2, GLOBAL, ADDED, tr),
            (v2, c, ADDED, tr),
        ],
    )
    assert len(new_ids) == 2
    for doc_id in new_ids:
        source = after_restore[doc_id][2]
        assert source["record_id"] == v2.id and source["is_deleted"] is False
        assert not source.get("deleted_date")
    for scope in (GLOBAL, c):
        first, second = history(hits, v2, scope).intervals
        assert first.end == removal_date
        assert second.start in tr and second.end is None
        gap_day = removal_date.date()
        assert history(hits, v2, scope).member_on_day(gap_day)
    # v1 was never deleted: still one open membership per scope
    for scope in (GLOBAL, c):
        (interval,) = history(hits, v1, scope).intervals
        assert interval.end is None


def test_deletion_flags_documents_in_every_yearly_index(log, owner, set_config):
    """C joined in 2023, D in 2024 (prior events): both ``added`` get the flags."""
    c_comm, d_comm, e_comm = (new_community(owner) for _ in range(3))
    c, d, e = cid(c_comm), cid(d_comm), cid(e_comm)
    with window() as t0:
        record = make_record(owner)
    without_our_component(set_config, "RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS")
    bulk_add(c_comm, [record])
    bulk_add(d_comm, [record])
    assert snapshot(record).keys() == {
        h["_id"] for h in event_hits(record) if h["_source"]["community_id"] == GLOBAL
    }
    created = read_record(record).data["created"]

    def prior(scope, event_type, when):
        source = {
            "record_id": record.id,
            "community_id": scope,
            "event_type": event_type,
            "event_date": fmt(when),
            "record_created_date": fmt(to_ms(created)),
            "record_published_date": f"{PUBLICATION_DATE}T00:00:00.000",
            "is_deleted": False,
            "deleted_date": None,
            "timestamp": fmt(when),
            "updated_timestamp": fmt(when),
        }
        doc_id = f"{scope}_{record.id}_{event_type}_{when:%Y%m%dT%H%M%S}"
        current_search_client.index(
            index=prefix_index(f"stats-community-events-{when.year}"),
            id=doc_id,
            body=source,
        )
        return doc_id

    c_first = prior(c, ADDED, datetime(2023, 3, 1, 10, 0, 0))
    c_newest = prior(c, ADDED, datetime(2023, 5, 1, 10, 0, 0))  # repeated added
    d_added = prior(d, ADDED, datetime(2024, 6, 1, 12, 0, 0))
    e_added = prior(e, ADDED, datetime(2023, 1, 1, 9, 0, 0))
    e_removed = prior(e, REMOVED, datetime(2023, 2, 1, 9, 0, 0))
    current_search_client.indices.refresh(index=alias())
    before = snapshot(record)
    global_id = next(
        i for i, (_, _, s) in before.items() if s["community_id"] == GLOBAL
    )

    with window() as tdel:
        delete_record(record)
    after = snapshot(record)
    assert set(after) == set(before)
    flagged = {i for i in after if after[i][2]["is_deleted"]}
    assert flagged == {c_newest, d_added, global_id}
    assert {after[i][0] for i in flagged} == {
        prefix_index("stats-community-events-2023"),
        prefix_index("stats-community-events-2024"),
        prefix_index(
            f"stats-community-events-{parse_date(before[global_id][2]['event_date']).year}"
        ),
    }
    removal_date = removal_date_of(record)
    for doc_id in flagged:
        assert parse_date(after[doc_id][2]["deleted_date"]) == removal_date
    for doc_id in (c_first, e_added, e_removed):
        assert after[doc_id] == before[doc_id]
    hits = event_hits(record)
    for scope in (c, d, GLOBAL):
        assert history(hits, record, scope).intervals[-1].end == removal_date
    assert parse_date(before[global_id][2]["event_date"]) in t0
    assert removal_date in tdel


# ------------------------------------------------- 8. community soft delete/restore


def test_community_soft_delete_and_restore_write_nothing(log, owner):
    community = new_community(owner)
    record = make_record(owner, communities=[community])
    other = make_record(owner)
    bulk_add(community, [other])
    before = snapshot(record, other)
    assert len(before) == 4
    service = current_communities.service
    service.delete_community(system_identity, cid(community), {})
    refresh_communities_index()
    deleted = service.read(system_identity, cid(community), include_deleted=True)
    assert deleted.data["deletion_status"]["is_deleted"] is True
    assert snapshot(record, other) == before
    service.restore_community(system_identity, cid(community))
    refresh_communities_index()
    assert snapshot(record, other) == before
    assert current_search_client.count(index=alias())["count"] == 4


# ------------------------------------------------- 9. other request types


def test_accepting_a_non_community_request_writes_nothing(log, owner, monkeypatch):
    community = new_community(owner)
    invitee = make_user(f"ce-invitee-{uid()}@example.org")
    record = make_record(owner, communities=[community])
    before = current_search_client.count(index=alias())["count"]
    seen = []
    original = CommunityAcceptedEventComponent.create

    def spy(self, identity, data=None, event=None, **kwargs):
        seen.append((data or {}).get("payload", {}).get("event"))
        return original(self, identity, data=data, event=event, **kwargs)

    monkeypatch.setattr(CommunityAcceptedEventComponent, "create", spy)
    current_communities.service.members.invite(
        owner.identity,
        cid(community),
        {"members": [{"type": "user", "id": invitee.id}], "role": "reader"},
    )
    refresh_records_index()
    result = current_requests_service.search(
        system_identity,
        params={"q": f'type:"community-invitation" AND receiver.user:{invitee.id}'},
    )
    (request,) = list(result.hits)
    accepted = current_requests_service.execute_action(
        invitee.identity, request["id"], "accept"
    )
    assert accepted.data["status"] == "accepted"
    assert "accepted" in seen  # our hook saw the accept and ignored it
    current_search_client.indices.refresh(index=alias())
    assert current_search_client.count(index=alias())["count"] == before
    assert len(event_hits(record)) == 2


def test_accepting_another_request_type_about_a_record_writes_nothing(
    log, owner, monkeypatch
):
    """A record topic and a community receiver, but not a membership request type."""
    from invenio_rdm_records.records.api import RDMRecord
    from invenio_requests.customizations import RequestType
    from invenio_requests.proxies import current_request_type_registry
    from invenio_requests.resolvers.registry import ResolverRegistry

    class RecordReview(RequestType):
        type_id = "ce-test-record-review"
        name = "Record review (test only)"
        creator_can_be_none = False
        topic_can_be_none = False
        allowed_creator_ref_types = ["user"]
        allowed_receiver_ref_types = ["community"]
        allowed_topic_ref_types = ["record"]

    current_request_type_registry.register_type(RecordReview())
    review_type = current_request_type_registry.lookup(RecordReview.type_id)
    community = new_community(owner)
    record = make_record(owner)
    before = snapshot(record)
    seen = []
    original = CommunityAcceptedEventComponent.create

    def spy(self, identity, data=None, event=None, **kwargs):
        seen.append((data or {}).get("payload", {}).get("event"))
        return original(self, identity, data=data, event=event, **kwargs)

    monkeypatch.setattr(CommunityAcceptedEventComponent, "create", spy)
    receiver = ResolverRegistry.resolve_entity_proxy({"community": cid(community)})
    request = current_requests_service.create(
        owner.identity,
        {"title": "review"},
        review_type,
        receiver.resolve(),
        topic=RDMRecord.pid.resolve(record.id),
    )
    current_requests_service.execute_action(owner.identity, request.id, "submit")
    accepted = current_requests_service.execute_action(
        system_identity, request.id, "accept"
    )
    assert accepted.data["status"] == "accepted"
    assert accepted.data["topic"] == {"record": record.id}
    assert "accepted" in seen
    assert snapshot(record) == before


# ------------------------------------------------- Must not repeat: live hooks


def test_new_version_gets_every_parent_community(log, owner):
    c1, c2 = new_community(owner), new_community(owner)
    v1 = make_record(owner, communities=[c1, c2])
    with window() as tv2:
        v2 = new_version(owner, v1)
    assert_events(
        event_hits(v2),
        [
            (v2, GLOBAL, ADDED, tv2),
            (v2, cid(c1), ADDED, tv2),
            (v2, cid(c2), ADDED, tv2),
        ],
    )


@pytest.mark.parametrize("how", ["bulk_add", "request"])
def test_removal_of_pre_install_membership(log, owner, set_config, how):
    """Removed without prior events: backfill-dated ``added``, then ``removed``."""
    community = new_community(owner)
    backdate_community(community, datetime(2021, 4, 5, 6, 7, 8))
    record = make_record(owner)
    created = datetime(2022, 3, 4, 5, 6, 7, tzinfo=UTC)
    backdate_record(record, created)
    without_our_component(
        set_config,
        "RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS",
        "REQUESTS_EVENTS_SERVICE_COMPONENTS",
    )
    with window() as tin:
        if how == "bulk_add":
            bulk_add(community, [record])
        else:
            include_in_community(owner, record, community, require_review=False)
    assert pair_hits(event_hits(record), record, cid(community)) == []
    set_config(
        **{
            key: current_app_config()[key] + [OUR_COMPONENTS[key]]
            for key in (
                "RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS",
                "REQUESTS_EVENTS_SERVICE_COMPONENTS",
            )
        }
    )
    # the accept log event must be searchable for the backfill date rule
    current_search_client.indices.refresh(index=prefix_index("requestevents"))
    with window() as trem:
        remove_from_community(owner, record, community)
    hits = pair_hits(event_hits(record), record, cid(community))
    assert triples(hits) == [
        (record.id, cid(community), ADDED),
        (record.id, cid(community), REMOVED),
    ]
    added = next(h for h in hits if h["_source"]["event_type"] == ADDED)
    removed = next(h for h in hits if h["_source"]["event_type"] == REMOVED)
    check_document(added)
    check_document(removed)
    assert parse_date(removed["_source"]["event_date"]) in trem
    added_date = parse_date(added["_source"]["event_date"])
    if how == "bulk_add":
        # latest of the version's and the community's ``created``: the version's
        assert added_date == created
        assert added["_index"] == prefix_index("stats-community-events-2022")
    else:
        # the accepted inclusion request is later than both
        assert added_date in tin
    assert parse_date(added["_source"]["record_created_date"]) == created
    (interval,) = history(hits, record, cid(community)).intervals
    assert interval.start == added_date and interval.end in trem


def test_rollback_writes_nothing(log, owner, monkeypatch):
    community = new_community(owner)
    record = make_record(owner)
    before = snapshot(record)

    class Boom(Exception):
        pass

    with intents_spy(monkeypatch) as captured:
        with pytest.raises(Boom):
            with UnitOfWork(db.session) as uow:
                current_record_communities_service.bulk_add(
                    system_identity, cid(community), [record.id], uow=uow
                )
                raise Boom()
    assert [(i.kind, i.scope) for i in captured] == [("add", cid(community))]
    refresh_records_index()
    current_search_client.indices.refresh(index=alias())
    assert snapshot(record) == before
    assert read_record(record).data["parent"]["communities"].get("ids", []) == []

    # the same operation committed writes its document
    with window() as t1:
        with UnitOfWork(db.session) as uow:
            current_record_communities_service.bulk_add(
                system_identity, cid(community), [record.id], uow=uow
            )
            uow.commit()
    hits = pair_hits(event_hits(record), record, cid(community))
    assert_events(hits, [(record, cid(community), ADDED, t1)])


def test_write_failure_is_retried_by_the_task(log, owner, monkeypatch):
    community = new_community(owner)
    record = make_record(owner)
    original = writer_module.bulk_write
    calls = []

    def flaky(client, actions, **kwargs):
        calls.append(list(actions))
        if len(calls) <= 2:  # the inline write and the task's first attempt
            raise ConnectionError("search is down")
        return original(client, calls[-1], **kwargs)

    monkeypatch.setattr(writer_module, "bulk_write", flaky)
    with window() as t1:
        bulk_add(community, [record])
    assert len(calls) == 3
    ids = [[action["_id"] for action in attempt] for attempt in calls]
    assert ids[0] == ids[1] == ids[2] and len(ids[0]) == 1
    assert_events(
        pair_hits(event_hits(record), record, cid(community)),
        [(record, cid(community), ADDED, t1)],
    )


def test_one_inclusion_one_bulk_no_refresh(log, owner, monkeypatch):
    community = new_community(owner)
    record = make_record(owner)
    transport = current_search_client.transport
    original = transport.perform_request
    requests = []

    def counting(method, url, *args, **kwargs):
        params = {
            key: value.decode() if isinstance(value, bytes) else str(value)
            for key, value in (kwargs.get("params") or {}).items()
        }
        requests.append((method, url, params, kwargs.get("body")))
        return original(method, url, *args, **kwargs)

    monkeypatch.setattr(transport, "perform_request", counting)
    with window() as t1:
        processed, errors = current_record_communities_service.add(
            owner.identity,
            record.id,
            {"communities": [{"id": cid(community), "require_review": False}]},
        )
    monkeypatch.setattr(transport, "perform_request", original)
    assert errors == []
    assert processed[0]["request"]["status"] == "accepted"

    stem = prefix_index("stats-community-events")

    def ours(url, body):
        return stem in url or (body is not None and stem in str(body))

    bulks = [r for r in requests if r[1].endswith("/_bulk") and ours(r[1], r[3])]
    refreshes = [
        r
        for r in requests
        if r[1].endswith("/_refresh") and (stem in r[1] or r[1] == "/_refresh")
    ]
    refresh_params = [
        r
        for r in requests
        if ours(r[1], r[3])
        and str(r[2].get("refresh", "false")).lower() in ("true", "")
    ]
    searches = [r for r in requests if r[1].endswith("/_search") and stem in r[1]]
    assert len(bulks) == 1
    assert bulks[0][2].get("refresh") == "wait_for"
    assert refreshes == [] and refresh_params == []
    assert len(searches) <= 1
    assert_events(
        pair_hits(event_hits(record), record, cid(community)),
        [(record, cid(community), ADDED, t1)],
    )


@pytest.mark.parametrize("how", ["request", "bulk_add", "submission"])
def test_subcommunity_inclusion_adds_parent_community(log, owner, uploader, how):
    parent, child = make_parent_and_child(owner)
    if how == "submission":
        draft = make_draft(uploader)
        request = submit_to_community(uploader, draft.id, child)
        with window() as t1:
            accept_request(owner, request.id)
        refresh_records_index()
        record, t0 = read_record(draft.id), t1
    else:
        with window() as t0:
            record = make_record(owner)
        with window() as t1:
            if how == "bulk_add":
                bulk_add(child, [record])
            else:
                include_in_community(owner, record, child, require_review=False)
    communities = set(read_record(record).data["parent"]["communities"]["ids"])
    assert communities == {cid(parent), cid(child)}
    assert_events(
        event_hits(record),
        [
            (record, GLOBAL, ADDED, t0),
            (record, cid(child), ADDED, t1),
            (record, cid(parent), ADDED, t1),
        ],
    )


def test_subcommunity_inclusion_when_already_in_parent(log, owner):
    parent, child = make_parent_and_child(owner)
    with window() as t0:
        record = make_record(owner)
    with window() as tp:
        bulk_add(parent, [record])
    with window() as tk:
        bulk_add(child, [record])
    assert_events(
        event_hits(record),
        [
            (record, GLOBAL, ADDED, t0),
            (record, cid(parent), ADDED, tp),
            (record, cid(child), ADDED, tk),
        ],
    )


def test_bulk_add_skips_already_included_records(log, owner, set_config):
    """r2 joined C before installation (no events): the call writes none for it."""
    community = new_community(owner)
    r1, r2, r3 = (make_record(owner) for _ in range(3))
    without_our_component(set_config, "RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS")
    bulk_add(community, [r2])
    set_config(
        RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS=[
            *current_app_config()["RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS"],
            RecordCommunityEventTrackingComponent,
        ]
    )
    assert pair_hits(event_hits(r2), r2, cid(community)) == []
    with window() as t1:
        errors = current_record_communities_service.bulk_add(
            system_identity, community.data["slug"], [r1.id, r2.id, r3.id]
        )
    refresh_records_index()
    assert [e["record_id"] for e in errors] == [r2.id]
    hits = [
        h
        for h in event_hits(r1, r2, r3)
        if h["_source"]["community_id"] == cid(community)
    ]
    assert_events(
        hits, [(r1, cid(community), ADDED, t1), (r3, cid(community), ADDED, t1)]
    )


def test_deterministic_ids_no_duplicates_on_rewrite(log, owner, monkeypatch):
    """A retried or concurrent write of the same intents overwrites, never duplicates."""
    community = new_community(owner)
    record = make_record(owner)
    with intents_spy(monkeypatch) as captured:
        with window() as t1:
            bulk_add(community, [record])
    assert len(captured) == 1
    before = snapshot(record)
    # a writer that planned before the first write was visible (stale read)
    monkeypatch.setattr(writer_module, "read_histories", lambda *a, **k: {})
    write_community_events.delay([i.to_dict() for i in captured])
    current_search_client.indices.refresh(index=alias())
    after = snapshot(record)
    assert set(after) == set(before)
    ((doc_id, (_, version, source)),) = [
        (i, v) for i, v in after.items() if v[2]["community_id"] == cid(community)
    ]
    assert version == before[doc_id][1] + 1  # the same document, overwritten
    assert parse_date(source["event_date"]) in t1
    assert source["event_date"] == before[doc_id][2]["event_date"]


def test_membership_day_semantics_on_live_history(log, owner):
    """Same-day add and remove: member on that day, not at its end."""
    community = new_community(owner)
    record = make_record(owner)
    bulk_add(community, [record])
    remove_from_community(owner, record, community)
    hits = event_hits(record)
    pair = history(hits, record, cid(community))
    (interval,) = pair.intervals
    day = interval.start.date()
    if interval.end.date() != day:  # crossed midnight between the two calls
        day = interval.end.date()
    assert pair.member_on_day(day) is True
    assert pair.member_at_end_of_day(interval.end.date()) is False
    assert pair.member_on_day(date(2000, 1, 1)) is False
    assert history(hits, record, GLOBAL).member_at_end_of_day(day) is True


@pytest.mark.parametrize("how", ["bulk_add", "request"])
def test_search_down_at_commit_document_written_by_retry(log, owner, how):
    """02 test 19: search unavailable for the commit of one inclusion."""
    from opensearchpy.exceptions import ConnectionError as SearchConnectionError

    community = new_community(owner)
    record = make_record(owner)
    identity = owner.identity  # building it commits the session
    with window() as t1:
        with search_down_after_commit(failures=2) as outage:
            if how == "bulk_add":
                current_record_communities_service.bulk_add(
                    system_identity, cid(community), [record.id]
                )
            else:
                # InvenioRDM's own indexing fails first and raises to the caller;
                # the membership is committed all the same
                with pytest.raises(SearchConnectionError):
                    current_record_communities_service.add(
                        identity,
                        record.id,
                        {
                            "communities": [
                                {"id": cid(community), "require_review": False}
                            ]
                        },
                    )
    assert len(outage["failed"]) == 2
    ours = [alias() in url for _, url in outage["failed"]]
    # bulk_add indexes through the queue: both failures are our inline write and the
    # task's first attempt; the accept's own indexing fails first, then our write
    assert ours == ([True, True] if how == "bulk_add" else [False, True])
    refresh_records_index()
    assert read_record(record).data["parent"]["communities"]["ids"] == [cid(community)]
    assert_events(
        pair_hits(event_hits(record), record, cid(community)),
        [(record, cid(community), ADDED, t1)],
    )
