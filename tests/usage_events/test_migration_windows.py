"""The migration's window copy (03 §4.7, "Optional server-side copy").

Windows are planned from the events' timestamps, each copied by one range
``_reindex`` whose script finds every event's enrichment by its key. The expected
windows and documents come from the events the tests wrote and from the client-side
enrichment of the same events.
"""

from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from helpers.legacy_events import (
    all_events,
    index_legacy_events,
    legacy_event,
    migratable_instance,
)
from invenio_search import current_search_client

from invenio_stats_dashboard.search_indices.bulk import bulk_write
from invenio_stats_dashboard.timeutils import format_utc, utc_now
from invenio_stats_dashboard.usage_events.enricher import EventEnricher
from invenio_stats_dashboard.usage_events.fields import configured_fields
from invenio_stats_dashboard.usage_events.migration import server_copy
from invenio_stats_dashboard.usage_events.migration.bookmarks import (
    Bookmark,
    BookmarkStore,
)
from invenio_stats_dashboard.usage_events.migration.copier import WindowCopier
from invenio_stats_dashboard.usage_events.migration.health import HealthCheckResult
from invenio_stats_dashboard.usage_events.migration.verification import copy_missing
from invenio_stats_dashboard.usage_events.migration.windows import (
    Window,
    batches_of,
    plan_windows,
    read_window,
)
from invenio_stats_dashboard.usage_events.names import month_index, target_index

COMMUNITY = "c0ffee00-0000-4000-8000-0000000000aa"
JOINED = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
LEFT = datetime(2024, 3, 20, 9, 0, tzinfo=UTC)


@pytest.fixture()
def instance(log, only_new_records, stats_dashboard):
    """Three synthetic versions; the first is a member of COMMUNITY from JOINED to LEFT."""
    return migratable_instance(
        "win", datetime(2024, 1, 2, tzinfo=UTC), (COMMUNITY, JOINED, LEFT)
    )


def millis(when):
    """Epoch milliseconds of an aware datetime."""
    return int(when.timestamp() * 1000)


def test_windows_split_busy_hours_and_cover_every_event(instance):
    """Hours over a batch split by minute, then second; windows tile the timeline."""
    recid = instance[0]
    quiet = [datetime(2024, 3, 1, 1, m, tzinfo=UTC) for m in (5, 20, 40)]
    busy_minute = [datetime(2024, 3, 2, 5, 7, s, tzinfo=UTC) for s in range(12)]
    busy_second = [datetime(2024, 3, 3, 10, 0, 0, tzinfo=UTC)] * 7
    late = [datetime(2024, 3, 20, h, tzinfo=UTC) for h in (3, 4)]
    times = quiet + busy_minute + busy_second + late
    index_legacy_events(
        "view",
        [legacy_event("view", recid, t, f"plan-{n}") for n, t in enumerate(times)],
    )
    index = month_index("view", "2024-03")

    windows = plan_windows(current_search_client, index, None, 5)

    assert windows[0].start is None and windows[-1].end is None
    for before, after in zip(windows, windows[1:], strict=False):
        assert before.end == after.start  # consecutive, no gap, no overlap
    for window in windows:
        inside = [
            t
            for t in times
            if (window.start is None or millis(t) >= window.start)
            and (window.end is None or millis(t) < window.end)
        ]
        assert window.planned == len(inside)
    # only the one second holding 7 events is larger than a batch
    assert sorted(w.planned for w in windows if w.planned > 5) == [7]
    assert sum(w.planned for w in windows) == len(times)

    # planned from a later start, the earlier events are left out
    start = millis(busy_minute[6])
    later = plan_windows(current_search_client, index, start, 5)
    assert later[0].start == start
    assert sum(w.planned for w in later) == sum(millis(t) >= start for t in times)


def test_batches_group_consecutive_windows_up_to_the_batch_size():
    """A batch takes windows in order while their events fit; a big one stands alone."""
    planned = [Window(n, n + 1, events) for n, events in enumerate([3, 2, 4, 7, 1, 1])]

    batches = list(batches_of(planned, 5))

    assert [[w.planned for w in batch] for batch in batches] == [
        [3, 2],
        [4],
        [7],
        [1, 1],
    ]
    assert [w for batch in batches for w in batch] == planned


def download_events(instance, source_index):
    """Downloads around the membership days, with stale fields and odd shapes.

    Two events cannot be keyed by the script: one has a numeric record id, one a
    numeric file key.
    """
    member, other = instance[0], instance[1]
    days = [
        JOINED.replace(hour=0, minute=0) - timedelta(seconds=1),
        JOINED.replace(hour=0, minute=0),
        LEFT.replace(hour=23, minute=59, second=59),
        LEFT + timedelta(days=1),
    ]
    events = []
    for n, when in enumerate(days):
        for recid in (member, other, "purged-record"):
            file = {
                "bucket_id": f"b-{recid}",
                "file_id": f"f{n}-{recid}",
                "file_key": ("data.csv", "archive.tar.gz", "notes", "IMG.PNG")[n],
                "size": 10,
            }
            event_id, source = legacy_event("download", recid, when, f"s{n}", file=file)
            source.update(community_ids=["stale"], publisher="stale publisher")
            events.append((event_id, source))
    number_id, number_source = legacy_event(
        "download", member, JOINED + timedelta(hours=1), "number", file=file
    )
    number_source["recid"] = 7  # a number: an unknown record
    numeric_id, numeric_source = legacy_event(
        "download", member, JOINED + timedelta(hours=2), "numeric", file=file
    )
    numeric_source["file_key"] = 5
    unkeyable = {number_id, numeric_id}
    events += [(number_id, number_source), (numeric_id, numeric_source)]
    bulk_write(
        current_search_client,
        [
            {"_op_type": "index", "_index": source_index, "_id": i, "_source": s}
            for i, s in events
        ],
        refresh=True,
    )
    return dict(events), unkeyable


def expected_documents(enricher, events):
    """The client-side enrichment of every event (its ``updated_timestamp`` aside)."""
    hits = [{"_id": i, "_source": s} for i, s in sorted(events.items())]
    expected = dict(zip(sorted(events), enricher.rewritten_sources(hits), strict=True))
    for document in expected.values():
        document.pop("updated_timestamp")
    return expected


def assert_stored_as_expected(target, expected, since):
    """Every event is in ``target`` as ``expected``, stamped as written after ``since``."""
    stored = all_events(target)
    assert set(stored) == set(expected)
    for event_id, document in stored.items():
        assert document.pop("updated_timestamp") >= since
        assert document == expected[event_id], event_id


def test_window_write_equals_the_client_enrichment(instance):
    """Keyed events get the client's fields; the others are topped up by the client.

    Member, non-member and purged record around the membership days, stale fields
    replaced or removed, four file types; a numeric record id and a numeric file
    key are skipped by the script and copied by the count check's top-up.
    """
    source_index = target_index("download", "2024-03")
    target = target_index("download", "2024-06")
    events, unkeyable = download_events(instance, source_index)
    current_search_client.indices.create(index=target)
    enricher = EventEnricher(
        current_search_client, configured_fields(current_app.config)
    )
    expected = expected_documents(enricher, events)

    written, since = 0, format_utc(utc_now())
    for window in plan_windows(current_search_client, source_index, None, 5):
        content = read_window(current_search_client, source_index, window)
        assert content.events == window.planned
        params = server_copy.key_params(enricher, content.keys)
        copied, failed = server_copy.reindex_window(
            current_search_client, source_index, target, window.query(), params
        )
        assert failed == []
        written += copied
    assert written == len(events) - len(unkeyable)
    current_search_client.indices.refresh(index=target)
    assert set(all_events(target)) == set(events) - unkeyable

    topped_up = copy_missing(
        current_search_client, source_index, target, enricher=enricher
    )
    assert topped_up == len(unkeyable)
    assert_stored_as_expected(target, expected, since)


def test_batch_write_keys_events_and_carries_the_others_by_id(instance):
    """A client batch's parameters key what they can and give the rest per id."""
    source_index = target_index("download", "2024-04")
    target = target_index("download", "2024-07")
    events, unkeyable = download_events(instance, source_index)
    current_search_client.indices.create(index=target)
    enricher = EventEnricher(
        current_search_client, configured_fields(current_app.config)
    )
    expected = expected_documents(enricher, events)
    hits = [{"_id": i, "_source": s} for i, s in sorted(events.items())]

    params = server_copy.script_params(enricher, hits)

    assert set(params["ids"]) == unkeyable
    assert len(params["records"]) == 4  # one part per record id (and the number 7)
    failed = server_copy.reindex_events(
        current_search_client, source_index, target, sorted(events), params
    )
    assert failed == []
    assert_stored_as_expected(target, expected, params["now"])


def test_resume_inside_a_millisecond_copies_the_rest_of_it_first(instance):
    """A cursor between events of one millisecond: its later ties, then windows."""
    recid = instance[1]
    tied_at = datetime(2024, 3, 5, 8, 0, 0, tzinfo=UTC)
    times = (
        [tied_at - timedelta(hours=h) for h in (1, 2, 3)]
        + [tied_at] * 6
        + [tied_at + timedelta(minutes=m) for m in (1, 2, 30, 90)]
    )
    events = dict(
        legacy_event("view", recid, t, f"tie-{n}") for n, t in enumerate(times)
    )
    index_legacy_events("view", list(events.items()))
    source = month_index("view", "2024-03")
    target = target_index("view", "2024-03")
    current_search_client.indices.create(index=target)
    order = sorted(events, key=lambda i: (events[i]["timestamp"], i))
    cursor_at = 5  # three earlier events and three of the six tied ones written
    bookmark = Bookmark("view", "2024-03")
    bookmark.last_event_id = order[cursor_at]
    bookmark.last_event_timestamp = format_utc(tied_at)
    bookmark.processed_count = cursor_at + 1
    store = BookmarkStore(current_search_client)
    store.ensure()
    copier = WindowCopier(
        client=current_search_client,
        enricher=EventEnricher(
            current_search_client, configured_fields(current_app.config)
        ),
        store=store,
        batch_size=2,
        max_batches=0,
        health_check=lambda: HealthCheckResult(is_healthy=True, reason="OK"),
    )

    outcome = copier.copy(bookmark, source, target)

    assert outcome.status == "done" and outcome.copied == len(order) - cursor_at - 1
    assert set(all_events(target)) == set(order[cursor_at + 1 :])
    assert bookmark.last_event_id == order[-1]
    assert bookmark.processed_count == len(order)
