"""Records aggregation edge cases of 04 §13: restore, day edges, late changes, scale.

Each case writes versions and membership events straight to the indices and
compares every stored delta and snapshot with the records oracle.
"""

from datetime import UTC, date, datetime, timedelta

from flask import current_app
from helpers.community_event_log import records_write_index
from helpers.oracle.membership import MembershipEvent
from helpers.oracle.records import Version
from helpers.records_expectations import (
    expected_deltas,
    expected_snapshots,
    stored_count,
    stored_documents,
)
from helpers.records_fixtures import VERSIONS, C, D, at, fixture_f_events
from helpers.records_index import index_events
from invenio_search import current_search_client

from invenio_stats_dashboard.aggregations.base import RunOptions
from invenio_stats_dashboard.aggregations.records.delta_aggregator import (
    RecordsDeltaAggregator,
)
from invenio_stats_dashboard.aggregations.records.snapshot import (
    RecordsSnapshotAggregator,
)

DELTAS = "stats-community-records-delta-added"
SNAPSHOTS = "stats-community-records-snapshot-added"
TOP = 20


def run_both(scope, today, **options):
    """Run the records delta, then its snapshot, for one scope."""
    RecordsDeltaAggregator().run_pass(scope, RunOptions(today=today, **options))
    return RecordsSnapshotAggregator().run_pass(scope, RunOptions(today=today))


def assert_oracle(versions, events, scope, today):
    """Every stored delta and snapshot of the scope equals the oracle."""
    assert stored_documents(DELTAS, scope) == expected_deltas(
        versions, events, scope, today
    )
    assert stored_documents(SNAPSHOTS, scope) == expected_snapshots(
        versions, events, scope, today, TOP
    )


def test_a_restore_adds_the_version_again(written):
    """04 §13 test 27: v1 deleted on D5, restored on D6 (a new ``added`` event)."""
    events = [*fixture_f_events()]
    for scope in (C, "global"):
        events.append(MembershipEvent("v1", scope, "added", at(D[5]), at(D[5])))
    written(VERSIONS, events)
    today = D[5]
    for scope in (C, "global"):
        run_both(scope, today)
        assert_oracle(VERSIONS, events, scope, today)
        d5, d6 = (
            stored_documents(DELTAS, scope)[f"{scope}-{d.isoformat()}"] for d in D[4:6]
        )
        assert d5["records"]["removed"]["with_files"] == 1
        assert d6["records"]["added"]["with_files"] == 1


def test_changes_at_the_last_millisecond_stay_on_their_day(written):
    """A join at 23:59:59.999 counts on its day; a leave at 00:00:00 the next."""
    edge = datetime(2025, 3, 1, 23, 59, 59, 999_000, tzinfo=UTC)
    midnight = datetime(2025, 3, 3, tzinfo=UTC)
    versions = {"edge": Version("edge", "p-edge", "u1", (("x.pdf", 5),))}
    events = [
        MembershipEvent("edge", C, "added", edge, edge),
        MembershipEvent("edge", C, "removed", midnight, midnight),
    ]
    written(versions, events)
    today = date(2025, 3, 4)
    run_both(C, today)
    assert_oracle(versions, events, C, today)
    stored = stored_documents(DELTAS, C)
    assert stored[f"{C}-2025-03-01"]["records"]["added"]["with_files"] == 1
    assert stored[f"{C}-2025-03-03"]["records"]["removed"]["with_files"] == 1


def test_late_membership_changes_rewind_the_next_pass(written):
    """04 §7.6 and §13 test 12: events dated before the bookmark, written after it."""
    events = fixture_f_events()
    written(VERSIONS, events)
    run_both(C, D[5])
    late = MembershipEvent("v3", C, "removed", at(D[2], 15), datetime.now(UTC))
    index_events([late])
    events = [*events, late]

    report = RecordsDeltaAggregator().run_pass(C, RunOptions(today=D[5]))
    assert report.first_day == D[2]
    assert "rewound" in report.note
    RecordsSnapshotAggregator().run_pass(C, RunOptions(today=D[5]))
    assert_oracle(VERSIONS, events, C, D[5])


def test_ten_thousand_additions_in_one_day(written):
    """Must-not-repeat 7: 10,050 versions joining on one day, all counted.

    The first 1,200 carry an affiliation each: all 1,200 items are listed.
    """
    day = date(2025, 5, 2)
    moment = datetime(2025, 5, 2, 9, tzinfo=UTC)
    versions = {
        f"bulk-{n}": Version(
            f"bulk-{n}",
            f"bulk-p{n // 2}",
            f"u{n % 7}",
            values={"affiliations": [f"org-{n:04d}"]} if n < 1_200 else {},
        )
        for n in range(10_050)
    }
    events = [
        MembershipEvent(
            record_id, C, "added", moment + timedelta(seconds=n % 3600), moment
        )
        for n, record_id in enumerate(versions)
    ]
    written(versions, events)
    config = {**current_app.config, "COMMUNITY_STATS_SCAN_PAGE_SIZE": 500}
    RecordsDeltaAggregator(config=config).run_pass(C, RunOptions(today=day))
    RecordsSnapshotAggregator(config=config).run_pass(C, RunOptions(today=day))
    delta = stored_documents(DELTAS, C)[f"{C}-{day.isoformat()}"]
    snapshot = stored_documents(SNAPSHOTS, C)[f"{C}-{day.isoformat()}"]
    assert delta["records"]["added"]["metadata_only"] == 10_050
    assert delta["parents"]["added"]["metadata_only"] == 5_025
    assert delta["uploaders"] == 7
    assert snapshot["total_records"]["metadata_only"] == 10_050
    assert snapshot["total_uploaders"] == 7
    affiliations = delta["subcounts"]["affiliations"]
    assert sorted(item["id"] for item in affiliations) == [
        f"org-{n:04d}" for n in range(1_200)
    ]
    assert {item["records"]["added"]["metadata_only"] for item in affiliations} == {1}


def test_a_range_across_new_year_writes_both_yearly_indices(written):
    """04 §13 test 20: Dec 30 → Jan 2 in the two yearly indices, snapshots continuous."""
    versions = {
        "ny-1": Version("ny-1", "ny-p1", "u1"),
        "ny-2": Version("ny-2", "ny-p2", "u2", (("y.csv", 7),)),
    }
    events = [
        MembershipEvent(
            "ny-1", C, "added", at(date(2024, 12, 30)), at(date(2024, 12, 30))
        ),
        MembershipEvent("ny-2", C, "added", at(date(2025, 1, 1)), at(date(2025, 1, 1))),
    ]
    written(versions, events)
    today = date(2025, 1, 2)
    run_both(C, today)
    assert_oracle(versions, events, C, today)
    for year, days in ((2024, 2), (2025, 2)):
        assert stored_count(f"{SNAPSHOTS}-{year}") == days
    last = stored_documents(SNAPSHOTS, C)[f"{C}-2025-01-02"]
    assert last["total_records"] == {"metadata_only": 1, "with_files": 1}


def test_one_item_per_version_however_many_entries_carry_it(written):
    """04 §13 test 4: affiliation and funder items count a version once.

    One affiliation shared by three creators and a contributor gives one record.
    Funders: an id funder with a name counts once, a name-only funder matching
    that funder's label merges into it, an unknown name-only funder is an item.
    """
    day = date(2025, 7, 1)
    version = Version(
        "it-1", "it-p1", "u1", values={"affiliations": ["o1"], "funders": ["f1"]}
    )
    written(
        {"it-1": version},
        [MembershipEvent("it-1", C, "added", at(day), at(day))],
        {"it-1": ["FUNDER ONE", "Local Trust"]},
    )
    shared = [{"id": "o1", "name": "Org One"}]
    people = [
        {"person_or_org": {"type": "personal", "name": name}, "affiliations": shared}
        for name in ("A", "B", "C")
    ]
    current_search_client.update(
        index=records_write_index(),
        id="it-1",
        body={
            "doc": {
                "metadata": {
                    "creators": people,
                    "contributors": [{**people[0], "role": {"id": "other"}}],
                }
            }
        },
        refresh=True,
    )
    RecordsDeltaAggregator().run_pass(C, RunOptions(today=day))
    delta = stored_documents(DELTAS, C)[f"{C}-{day.isoformat()}"]
    added = {
        key: {
            item["id"]: item["records"]["added"]["metadata_only"]
            for item in delta["subcounts"][key]
        }
        for key in ("affiliations", "funders")
    }
    assert added == {
        "affiliations": {"o1": 1},
        "funders": {"f1": 1, "Local Trust": 1},
    }


def test_a_value_edited_between_entry_and_exit_drifts_and_is_logged(written, caplog):
    """04 §13 test 5: ``embargoed`` → ``open`` while a member, then removed.

    Totals stay exact; the removal is attributed to the value read when the pass
    runs (04 §4.3), so ``open`` goes to -1 in the snapshot while the stored
    entry day keeps ``embargoed``. Never clamped: logged.
    """
    days = [date(2025, 8, 1) + timedelta(days=n) for n in range(5)]
    version = Version("ed-1", "ed-p1", "u1", values={"access_statuses": ["embargoed"]})
    joined, removed = at(days[0]), at(days[3])
    written({"ed-1": version}, [MembershipEvent("ed-1", C, "added", joined, joined)])
    run_both(C, days[2])  # the next pass starts the day before: days[1]
    current_search_client.update(
        index=records_write_index(),
        id="ed-1",
        body={"doc": {"access": {"status": "open"}}},
        refresh=True,
    )
    index_events([MembershipEvent("ed-1", C, "removed", removed, removed)])
    with caplog.at_level("WARNING"):
        run_both(C, days[4])

    delta = stored_documents(DELTAS, C)[f"{C}-{days[3].isoformat()}"]
    assert delta["records"]["removed"] == {"metadata_only": 1, "with_files": 0}
    assert [
        (item["id"], item["records"]["removed"]["metadata_only"])
        for item in delta["subcounts"]["access_statuses"]
    ] == [("open", 1)]
    snapshot = stored_documents(SNAPSHOTS, C)[f"{C}-{days[3].isoformat()}"]
    assert snapshot["total_records"] == {"metadata_only": 0, "with_files": 0}
    assert {
        item["id"]: item["records"]["metadata_only"]
        for item in snapshot["subcounts"]["access_statuses"]
    } == {"embargoed": 1, "open": -1}
    assert (
        f"negative item value (metadata drift): scope={C} day={days[3].isoformat()} "
        "key=access_statuses id=open"
    ) in caplog.text
