"""Synthetic usage events (03 §6 "generate"): planning, routing and writing.

The first half tests the pure planning functions (month split, windows, timestamps,
raw events, routing decisions). The second half writes events into the real
OpenSearch of the test session and checks them against oracles computed here from
invenio-stats' own rules (``helpers.usage_events``): index names, ``_id``,
``visitor_id``, the marker of indices the generator creates, the refusal to mix
unenriched events into enriched months, and parity with live events.
"""

import random
import signal
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import current_app
from helpers.factories import (
    DOWNLOAD,
    VIEW,
    anonymization_salt,
    backdate_record,
    emit_download,
    emit_view,
    expected_event_id,
    expected_unique_id,
    expected_visitor_id,
    file_object,
    make_record,
    make_user,
    process_usage_events,
    search_events,
)
from invenio_search import current_search_client
from invenio_stats.utils import get_geoip

from invenio_stats_dashboard.jobs.interrupt import Interrupted
from invenio_stats_dashboard.timeutils import utc_now
from invenio_stats_dashboard.usage_events.event_mappings import ENRICHED_MARKER
from invenio_stats_dashboard.usage_events.fields import configured_fields
from invenio_stats_dashboard.usage_events.generation import (
    BROWSER_USER_AGENT,
    CHUNK_SIZE,
    EventGenerator,
    FileInfo,
    GenerationOptions,
    GenerationRefused,
    IndexState,
    MonthSpan,
    Route,
    SourceRecord,
    choose_route,
    event_window,
    month_spans,
    new_index_body,
    pinnable_day,
    plan_record,
    plan_run,
    random_timestamp,
    record_events,
    resolve_routes,
    seeded_salt,
    split_evenly,
    writing_generator,
)
from invenio_stats_dashboard.usage_events.names import (
    month_index,
    read_alias,
    target_index,
)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


FILE_FIELDS = {"bucket_id", "file_id", "file_key", "size"}


# =========================================================== pure planning (no app)


@pytest.mark.parametrize(
    ("total", "buckets", "expected"),
    [
        (50, 7, [8, 7, 7, 7, 7, 7, 7]),
        (14, 7, [2] * 7),
        (5, 7, [1, 1, 1, 1, 1, 0, 0]),
        (3, 1, [3]),
        (10, 4, [3, 3, 2, 2]),
    ],
)
def test_split_evenly_gives_the_remainder_to_the_earliest_months(
    total, buckets, expected
):
    assert split_evenly(total, buckets) == expected


def test_split_evenly_is_always_exact():
    for total in range(1, 60):
        for buckets in range(1, 30):
            counts = split_evenly(total, buckets)
            assert len(counts) == buckets
            assert sum(counts) == total
            assert max(counts) - min(counts) <= 1
            assert counts == sorted(counts, reverse=True)


def test_month_spans_clip_the_first_and_last_month_and_cross_years():
    spans = month_spans(utc(2023, 11, 20, 8, 30), utc(2024, 2, 3, 1, 2, 3))
    assert spans == [
        MonthSpan("2023-11", utc(2023, 11, 20, 8, 30), utc(2023, 11, 30, 23, 59, 59)),
        MonthSpan("2023-12", utc(2023, 12, 1), utc(2023, 12, 31, 23, 59, 59)),
        MonthSpan("2024-01", utc(2024, 1, 1), utc(2024, 1, 31, 23, 59, 59)),
        MonthSpan("2024-02", utc(2024, 2, 1), utc(2024, 2, 3, 1, 2, 3)),
    ]
    assert month_spans(utc(2024, 2, 29, 12), utc(2024, 2, 29, 12)) == [
        MonthSpan("2024-02", utc(2024, 2, 29, 12), utc(2024, 2, 29, 12))
    ]


def test_event_window_bounds():
    now = utc(2025, 3, 10, 12, 0, 0, 500_000)
    created = utc(2024, 6, 1, 10, 0, 0, 250_000)
    # Defaults: from the creation (rounded up to a whole second) to now (rounded down).
    assert event_window(created, None, None, now) == (
        utc(2024, 6, 1, 10, 0, 1),
        utc(2025, 3, 10, 12, 0, 0),
    )
    # An event start before the creation never moves the start before it.
    assert event_window(created, date(2024, 1, 1), date(2024, 12, 31), now) == (
        utc(2024, 6, 1, 10, 0, 1),
        utc(2024, 12, 31, 23, 59, 59),
    )
    assert event_window(created, date(2024, 7, 2), None, now)[0] == utc(2024, 7, 2)
    # An end in the future is capped at now.
    assert event_window(created, None, date(2030, 1, 1), now)[1] == utc(2025, 3, 10, 12)
    # A record created after the event end gets no events.
    assert event_window(created, None, date(2024, 5, 31), now) is None


def test_plan_record_follows_the_spec_example():
    options = GenerationOptions(events_per_record=50, event_end_date=date(2024, 12, 31))
    now = utc(2025, 1, 5)
    for created in (utc(2024, 6, 1), utc(2024, 6, 15)):
        plan = plan_record(created, options, now)
        assert [(span.month, count) for span, count in plan] == [
            ("2024-06", 8),
            ("2024-07", 7),
            ("2024-08", 7),
            ("2024-09", 7),
            ("2024-10", 7),
            ("2024-11", 7),
            ("2024-12", 7),
        ]
    # Fewer events than months: the earliest months get one each, the rest none.
    few = plan_record(utc(2024, 6, 1), GenerationOptions(events_per_record=2), now)
    assert [(span.month, count) for span, count in few] == [
        ("2024-06", 1),
        ("2024-07", 1),
    ]


def test_random_timestamps_stay_inside_their_span():
    rng = random.Random(3)
    span = MonthSpan("2024-02", utc(2024, 2, 10, 5, 6, 7), utc(2024, 2, 10, 5, 6, 9))
    seen = {random_timestamp(rng, span) for _ in range(200)}
    assert seen == {span.start + timedelta(seconds=s) for s in range(3)}


RECORD = SourceRecord(
    recid="abcde-12345",
    uuid="00000000-0000-0000-0000-000000000001",
    parent_recid="fghij-67890",
    created=utc(2024, 6, 1),
    has_files=True,
    files=(
        FileInfo("bucket-1", "file-1", "data.csv", 10),
        FileInfo("bucket-1", "file-2", "paper.pdf", 20),
    ),
)


def _events(record, seed, per_record=10):
    options = GenerationOptions(
        events_per_record=per_record, event_end_date=date(2024, 9, 30)
    )
    plan = plan_record(record.created, options, utc(2025, 1, 1))
    return list(record_events(record, plan, random.Random(seed)))


def test_record_events_look_like_the_builders_output():
    events = _events(RECORD, seed=1)
    assert Counter(t for t, _ in events) == {VIEW: 10, DOWNLOAD: 10}
    for (view_type, view), (download_type, download) in zip(
        events[::2], events[1::2], strict=True
    ):
        assert view_type == VIEW and download_type == DOWNLOAD
        assert set(view) == {
            "timestamp",
            "recid",
            "parent_recid",
            "referrer",
            "ip_address",
            "user_agent",
            "user_id",
            "session_id",
            "via_api",
        }
        assert set(download) == set(view) | FILE_FIELDS
        assert view["user_agent"] == BROWSER_USER_AGENT
        assert view["referrer"] == "https://example.com/records/abcde-12345"
        assert view["via_api"] is False
        # The download is the same visitor's, in the same month, not before the view.
        assert download["session_id"] == view["session_id"]
        assert download["timestamp"][:7] == view["timestamp"][:7]
        assert download["timestamp"] >= view["timestamp"]
        assert (download["file_key"], download["file_id"]) in {
            (f.key, f.file_id) for f in RECORD.files
        }
        assert "+" not in view["timestamp"] and "." not in view["timestamp"]


def test_record_events_are_reproducible_by_seed():
    assert _events(RECORD, seed=7) == _events(RECORD, seed=7)
    assert _events(RECORD, seed=7) != _events(RECORD, seed=8)


def test_records_without_files_get_views_only():
    no_files = SourceRecord("r", "u", "p", utc(2024, 6, 1), has_files=False)
    events = _events(no_files, seed=1)
    assert {t for t, _ in events} == {VIEW}
    assert len(events) == 10


def test_seeded_salts():
    salt = seeded_salt(7, date(2024, 6, 1))
    assert salt == seeded_salt(7, date(2024, 6, 1))
    assert salt != seeded_salt(8, date(2024, 6, 1))
    assert salt != seeded_salt(7, date(2024, 6, 2))
    assert len(salt) == 44  # base64 of 32 bytes, like invenio-stats' salts
    now = utc(2025, 3, 10, 1)
    assert pinnable_day(date(2025, 3, 8), now)
    assert not pinnable_day(date(2025, 3, 9), now)  # yesterday: live salt
    assert not pinnable_day(date(2025, 3, 10), now)


MONTHLY = "p-events-stats-record-view-2024-07"
TARGET = "p-events-stats-record-view-2024-07-v2.0.0"


@pytest.mark.parametrize(
    ("monthly", "target", "enrich", "migrated", "expected"),
    [
        # Unenriched into a new month: created with the marker false.
        (None, None, False, False, Route(MONTHLY, "unenriched")),
        (None, None, True, False, Route(MONTHLY, "enriched")),
        # An existing legacy (unmarked) month takes either kind.
        (False, None, False, False, Route(MONTHLY)),
        (False, None, True, False, Route(MONTHLY)),
        # An enriched month takes enriched events only.
        (True, None, True, False, Route(MONTHLY)),
        # Migrated indices: the target when it exists, else the monthly index.
        (False, True, True, True, Route(TARGET)),
        (None, True, True, True, Route(TARGET)),
        (None, None, True, True, Route(MONTHLY, "enriched")),
        (True, None, True, True, Route(MONTHLY)),
    ],
)
def test_choose_route(monthly, target, enrich, migrated, expected):
    monthly_state = IndexState(MONTHLY, monthly is not None, bool(monthly))
    target_state = IndexState(TARGET, target is not None, bool(target))
    assert choose_route(monthly_state, target_state, enrich, migrated) == expected


def test_choose_route_refuses_unenriched_events_in_an_enriched_month():
    with pytest.raises(GenerationRefused, match="stats_dashboard_enriched"):
        choose_route(
            IndexState(MONTHLY, True, True), IndexState(TARGET, False), False, False
        )


def test_new_index_body_sets_the_marker_and_the_read_alias():
    unenriched = new_index_body("record-view", "p-", enriched=False)
    assert unenriched["mappings"]["_meta"][ENRICHED_MARKER] is False
    assert unenriched["mappings"]["dynamic"] == "strict"
    assert unenriched["aliases"] == {"p-events-stats-record-view": {}}
    enriched = new_index_body("file-download", "p-", enriched=True)
    assert enriched["mappings"]["_meta"][ENRICHED_MARKER] is True
    assert "file_key" in enriched["mappings"]["properties"]
    # The shipped template itself is not changed by the copy.
    assert (
        new_index_body("record-view", "p-", enriched=True)["mappings"]["_meta"][
            ENRICHED_MARKER
        ]
        is True
    )


# =============================================================== real services


@pytest.fixture(scope="module")
def owner(running_app):
    return make_user("usage-generator@example.org")


@pytest.fixture(scope="module")
def records(owner):
    """Two records with files (June 2024) and one without files (March 2023)."""
    first = make_record(owner, title="First", files={"data.csv": 1200, "paper.pdf": 34})
    second = make_record(owner, title="Second", files={"notes.txt": 50})
    bare = make_record(owner, title="Metadata only")
    first = backdate_record(first, datetime(2024, 6, 1, 0, 0, 0))
    second = backdate_record(second, datetime(2024, 6, 15, 0, 0, 0))
    bare = backdate_record(bare, datetime(2023, 3, 10, 9, 30, 0))
    return {"first": first, "second": second, "bare": bare}


def run(options, now=None):
    """Plan, route and write as the command does (without the prompt)."""
    client = current_search_client
    now = now or utc_now()
    plan = plan_run(client, options, now)
    routes = resolve_routes(client, plan, options)
    generator = writing_generator(
        client,
        options,
        plan,
        routes,
        now,
        prefix=current_app.config["SEARCH_INDEX_PREFIX"],
        fields=configured_fields(current_app.config),
    )
    return plan, routes, generator.run()


def raw_events(options, now):
    """The raw events a run with ``options`` builds (a dry run writes nothing)."""
    plan = plan_run(current_search_client, options, now)
    return list(EventGenerator(current_search_client, options, plan, now).events())


def meta_of(index):
    mapping = current_search_client.indices.get_mapping(index=index)
    return next(iter(mapping.values()))["mappings"]["_meta"]


def test_plan_counts_downloads_only_for_records_with_files(records):
    options = GenerationOptions(
        start_date=date(2023, 1, 1),
        end_date=date(2024, 6, 30),
        event_start_date=date(2024, 6, 1),
        event_end_date=date(2024, 7, 31),
        events_per_record=4,
    )
    plan = plan_run(current_search_client, options, utc_now())
    assert plan.records == 3
    assert plan.events == {
        (VIEW, "2024-06"): 6,
        (VIEW, "2024-07"): 6,
        (DOWNLOAD, "2024-06"): 4,
        (DOWNLOAD, "2024-07"): 4,
    }
    capped = plan_run(
        current_search_client, GenerationOptions(max_records=2), utc_now()
    )
    assert capped.records == 2  # the two oldest: the bare record, then the first


def test_generated_events_follow_invenio_stats_rules(records, clear_stats_indices):
    """Index, ``_id``, ``visitor_id``, country, ``unique_id``: as invenio-stats makes
    them from the builders' raw events; unenriched months are created with the
    marker false behind the read alias."""
    now = utc_now()
    options = GenerationOptions(
        start_date=date(2024, 6, 1),
        end_date=date(2024, 6, 30),
        event_end_date=date(2024, 8, 31),
        events_per_record=6,
        seed=11,
    )
    expected_raw = raw_events(options, now)
    plan, routes, result = run(options, now)
    assert result.indexed == len(expected_raw) == plan.total == 24
    assert result.errors == 0
    assert {route.create for route in routes.values()} == {"unenriched"}

    expected = {}
    for stats_type, raw in expected_raw:
        day = date.fromisoformat(raw["timestamp"][:10])
        salt = (
            seeded_salt(11, day)
            if pinnable_day(day, now)
            else anonymization_salt(raw["timestamp"])
        )
        visitor = expected_visitor_id(
            salt,
            raw["timestamp"],
            user_id=raw["user_id"],
            session_id=raw["session_id"],
        )
        unique_id = expected_unique_id(raw)
        _id = expected_event_id(raw["timestamp"], unique_id, visitor)
        expected[_id] = (stats_type, raw, visitor, unique_id)
    assert len(expected) == 24

    hits = {h["_id"]: h for t in (VIEW, DOWNLOAD) for h in search_events(t)}
    assert set(hits) == set(expected)
    for _id, (stats_type, raw, visitor, unique_id) in expected.items():
        hit = hits[_id]
        source = hit["_source"]
        cli_type = "view" if stats_type == VIEW else "download"
        assert hit["_index"] == month_index(cli_type, raw["timestamp"][:7])
        assert source["timestamp"] == raw["timestamp"]
        assert source["visitor_id"] == visitor
        assert source["unique_id"] == unique_id
        assert source["country"] == get_geoip(raw["ip_address"])
        assert source["is_robot"] is False and source["is_machine"] is False
        assert source["via_api"] is False
        assert "community_ids" not in source
        for private in ("ip_address", "user_agent", "user_id", "session_id"):
            assert private not in source
        if stats_type == DOWNLOAD:
            obj = file_object(
                next(r for r in records.values() if r.id == raw["recid"]),
                source["file_key"],
            )
            assert source["bucket_id"] == str(obj.bucket_id)
            assert source["file_id"] == str(obj.file_id)
            assert source["size"] == obj.file.size
        else:
            assert not FILE_FIELDS & set(source)

    for cli_type in ("view", "download"):
        for month in ("2024-06", "2024-07", "2024-08"):
            name = month_index(cli_type, month)
            assert meta_of(name)[ENRICHED_MARKER] is False
            aliases = current_search_client.indices.get_alias(index=name)[name]
            assert read_alias(cli_type) in aliases["aliases"]
    through_alias = current_search_client.count(index=read_alias("view"))["count"]
    assert through_alias == 12


def test_unenriched_events_are_refused_in_an_enriched_month(
    records, clear_stats_indices
):
    prefix = current_app.config["SEARCH_INDEX_PREFIX"]
    enriched_month = month_index("view", "2024-07")
    current_search_client.indices.create(
        index=enriched_month, body=new_index_body("record-view", prefix, True)
    )
    options = GenerationOptions(
        start_date=date(2024, 6, 1),
        end_date=date(2024, 6, 30),
        event_end_date=date(2024, 8, 31),
    )
    plan = plan_run(current_search_client, options, utc_now())
    with pytest.raises(GenerationRefused, match=enriched_month):
        resolve_routes(current_search_client, plan, options)
    # Enriched events may go there.
    enriched = GenerationOptions(
        start_date=date(2024, 6, 1),
        end_date=date(2024, 6, 30),
        event_end_date=date(2024, 8, 31),
        enrich=True,
    )
    routes = resolve_routes(current_search_client, plan, enriched)
    assert routes[(VIEW, "2024-07")] == Route(enriched_month)


def test_migrated_indices_receive_enriched_events(records, clear_stats_indices):
    """``--use-migrated-indices``: a month with a ``-v2.0.0`` index gets its events
    there; other months go to enriched monthly indices."""
    prefix = current_app.config["SEARCH_INDEX_PREFIX"]
    target = target_index("view", "2024-07")
    body = new_index_body("record-view", prefix, True)
    body.pop("aliases")  # like a migration target before its switch
    current_search_client.indices.create(index=target, body=body)
    options = GenerationOptions(
        start_date=date(2024, 6, 1),
        end_date=date(2024, 6, 1),
        event_start_date=date(2024, 7, 1),
        event_end_date=date(2024, 8, 31),
        events_per_record=4,
        use_migrated_indices=True,
        seed=3,
    )
    plan, routes, result = run(options)
    assert result.errors == 0 and result.indexed == 8
    assert routes[(VIEW, "2024-07")] == Route(target)
    assert routes[(DOWNLOAD, "2024-07")].create == "enriched"
    assert routes[(VIEW, "2024-08")].create == "enriched"
    current_search_client.indices.refresh(index=target)
    in_target = current_search_client.search(index=target)["hits"]["hits"]
    assert len(in_target) == 2
    assert all(h["_source"]["community_ids"] == [] for h in in_target)
    for cli_type, month in (("download", "2024-07"), ("view", "2024-08")):
        assert meta_of(month_index(cli_type, month))[ENRICHED_MARKER] is True


def test_enriched_generated_events_equal_live_events(records, clear_stats_indices):
    """Parity: generated enriched events carry the same fields and enrichment values
    as events indexed live by the configured indexer for the same record."""
    record = records["first"]
    options = GenerationOptions(
        start_date=date(2024, 6, 1),
        end_date=date(2024, 6, 1),
        event_start_date=date(2024, 7, 1),
        event_end_date=date(2024, 7, 31),
        events_per_record=1,
        enrich=True,
        seed=5,
    )
    _, _, result = run(options)
    assert result.indexed == 2 and result.errors == 0
    (generated_view,) = search_events(VIEW)
    (generated_download,) = search_events(DOWNLOAD)
    file_key = generated_download["_source"]["file_key"]

    when = datetime(2024, 9, 3, 10, 0, 0)
    emit_view(record, when, session_id="live-session", ip="8.8.8.8")
    emit_download(record, file_key, when, session_id="live-session", ip="8.8.8.8")
    process_usage_events()
    live_view = next(
        h for h in search_events(VIEW) if h["_id"] != generated_view["_id"]
    )
    live_download = next(
        h for h in search_events(DOWNLOAD) if h["_id"] != generated_download["_id"]
    )
    volatile = {
        "timestamp",
        "updated_timestamp",
        "visitor_id",
        "unique_session_id",
        "country",
        "referrer",
    }
    for generated, live in (
        (generated_view, live_view),
        (generated_download, live_download),
    ):
        assert set(generated["_source"]) == set(live["_source"])
        assert {k: v for k, v in generated["_source"].items() if k not in volatile} == {
            k: v for k, v in live["_source"].items() if k not in volatile
        }
    assert generated_download["_source"]["file_types"] == [file_key.rsplit(".")[-1]]


def test_interruption_stops_between_chunks(records, clear_stats_indices):
    """06 §1: a stop request ends the run between two chunks; the chunks written
    so far are complete and searchable (the one refresh still happens)."""
    client = current_search_client
    now = utc_now()
    options = GenerationOptions(
        start_date=date(2024, 6, 1),
        end_date=date(2024, 6, 30),
        event_end_date=date(2024, 12, 31),
        events_per_record=600,
        seed=2,
    )
    plan = plan_run(client, options, now)
    assert plan.total == 2400
    routes = resolve_routes(client, plan, options)
    generator = writing_generator(
        client,
        options,
        plan,
        routes,
        now,
        prefix=current_app.config["SEARCH_INDEX_PREFIX"],
        fields=configured_fields(current_app.config),
    )
    calls = []

    def checkpoint():
        calls.append(1)
        if len(calls) == 2:
            raise Interrupted(signal.SIGTERM)

    with pytest.raises(Interrupted) as stopped:
        generator.run(checkpoint=checkpoint)
    assert stopped.value.exit_code == 143
    assert generator.result.indexed == CHUNK_SIZE
    counted = sum(
        client.count(index=read_alias(t))["count"] for t in ("view", "download")
    )
    assert counted == CHUNK_SIZE
