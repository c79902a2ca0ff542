"""``status``, ``read``, ``clear-bookmarks`` and ``clear-lock`` (04 §9, 06 §4.1)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from helpers.communities import make_community, refresh_communities_index
from helpers.oracle.membership import MembershipEvent
from helpers.oracle.records import Version
from helpers.records_index import delete_versions, index_events, index_versions
from helpers.users import make_user
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.aggregations.bookmarks import BookmarkStore
from invenio_stats_dashboard.cli import cli as root
from invenio_stats_dashboard.community_events.marker import read_marker, write_marker
from invenio_stats_dashboard.locks import task_lock
from invenio_stats_dashboard.search_indices.bulk import bulk_write
from invenio_stats_dashboard.timeutils import utc_now

DELTA = "community-records-delta-added-agg"


@pytest.fixture()
def ten_days(running_app, clear_stats_indices, stats_dashboard):
    """One version joining global ten days ago (today included)."""
    stats_dashboard.ensure_search_setup(force=True)
    today = utc_now().date()
    first = today - timedelta(days=9)
    moment = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    versions = {"st-1": Version("st-1", "st-p1", "u1", (("a.pdf", 10),))}
    index_versions(versions)
    index_events([MembershipEvent("st-1", "global", "added", moment, moment)])
    yield first, today
    delete_versions(versions)


def status_rows(cli, *args):
    """Run ``status --json`` and return (exit code, document)."""
    result = cli(root, "status", "-c", "global", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def row(document, aggregator):
    """The status row of one aggregator for global."""
    return next(r for r in document["scopes"] if r["aggregator"] == aggregator)


def test_status_completeness_is_exact_day_counting(ten_days, cli):
    """Must-not-repeat 24: a 10-day scope with 5 documents shows 50 %."""
    first, today = ten_days
    result = cli(
        root,
        "aggregate",
        "--community-id",
        "global",
        "--aggregation-type",
        DELTA,
        "--end-date",
        (first + timedelta(days=4)).isoformat(),
    )
    assert result.exit_code == 0, result.output
    code, document = status_rows(cli)
    assert code == 0
    found = row(document, DELTA)
    assert (found["documents"], found["missing_days"]) == (5, 5)
    assert found["completeness"] == 50.0
    assert found["scope_start"] == first.isoformat()
    assert found["bookmark"] == (first + timedelta(days=4)).isoformat()
    assert {c["check"] for c in document["setup"]} >= {
        "component hooks",
        "templates",
        "community events",
    }
    text = cli(root, "status", "-c", "global").output
    assert "records-delta-added" in text and " 50% (5d ago)" in text


def test_status_creates_nothing_on_a_fresh_cluster(ten_days, cli):
    """Must-not-repeat 33: status is read-only; missing indices are reported."""
    current_search_client.indices.delete(
        index=prefix_index("stats-bookmarks-community"), ignore=[404]
    )
    code, document = status_rows(cli)
    assert code == 0
    assert row(document, DELTA)["index_exists"] is False
    assert not current_search_client.indices.exists(
        index=prefix_index("stats-bookmarks-community")
    )
    assert not current_search_client.indices.exists(
        index=prefix_index("stats-community-records-delta-added")
    )


def test_status_verify_matches_then_reports_drift(ten_days, cli):
    """04 §14 drift check: equal after a run; an edited snapshot is reported."""
    assert cli(root, "aggregate", "--community-id", "global").exit_code == 0
    code, document = status_rows(cli, "--verify")
    assert code == 0
    assert document["verify"][0]["differences"] == {}
    index = prefix_index("stats-community-records-snapshot-added")
    current_search_client.update_by_query(
        index=index,
        body={
            "query": {"term": {"community_id": "global"}},
            "script": {"source": "ctx._source.total_records.with_files = 7"},
        },
        refresh=True,
    )
    result = cli(root, "status", "-c", "global", "--verify")
    assert result.exit_code == 1
    assert "total_records stored" in result.output


def test_read_sorts_pages_and_keeps_its_shape(ten_days, cli):
    """Must-not-repeat 34: sorted, every page, one shape; unknown community exits 2."""
    first, today = ten_days
    assert cli(root, "aggregate", "--community-id", "global").exit_code == 0
    result = cli(root, "read", "--start-date", first.isoformat(), "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert sorted(document) == [
        "record_deltas_added",
        "record_snapshots_added",
        "usage_deltas",
        "usage_snapshots",
    ]
    dates = [d["period_start"] for d in document["record_deltas_added"]]
    assert dates == sorted(dates) and len(dates) == 10
    default = json.loads(cli(root, "read", "--json").stdout)  # yesterday and today
    assert len(default["record_snapshots_added"]) == 2
    assert cli(root, "read", "--community-id", "nope").exit_code == 2


def test_clear_bookmarks_needs_a_selector_and_keeps_the_marker(ten_days, cli):
    """No selector exits 2; the community-events marker is never deleted."""
    assert cli(root, "aggregate", "--community-id", "global").exit_code == 0
    write_marker(current_search_client, utc_now())
    assert cli(root, "clear-bookmarks").exit_code == 2
    declined = cli(root, "clear-bookmarks", "--all-communities")
    assert declined.exit_code == 1  # nobody can answer the prompt: nothing changed
    store = BookmarkStore(current_search_client)
    assert len(store.list()) == 4
    result = cli(
        root,
        "clear-bookmarks",
        "--all-communities",
        "--all-aggregation-types",
        "--confirm",
    )
    assert result.exit_code == 0, result.output
    assert "global: community-usage-delta-agg: 1 cleared" in result.output
    assert store.list() == []
    assert read_marker(current_search_client) is not None


def test_clear_lock_lists_and_clears(running_app, cli):
    """SCAN listing with the holder; an absent lock is "not found" and exit 0."""
    with task_lock("aggregation"):
        listed = cli(root, "clear-lock", "--list-locks")
        assert "community_stats_aggregation: held by" in listed.output
        dry = cli(root, "clear-lock", "--dry-run")
        assert "Would delete lock community_stats_aggregation" in dry.output
        cleared = cli(root, "clear-lock")
        assert cleared.exit_code == 0
        assert "still running" in cleared.output  # this process holds it
    missing = cli(root, "clear-lock")
    assert (missing.exit_code, "not found" in missing.output) == (0, True)


@pytest.fixture()
def twenty_four_communities(running_app, search_clear, db, stats_dashboard):
    """24 opted-in communities, each with one version joining it today."""
    stats_dashboard.ensure_search_setup(force=True)
    owner = make_user("status-scopes@example.org")
    ids = [
        str(
            make_community(
                owner,
                f"status-{number:02d}",
                custom_fields={"stats:dashboard_enabled": True},
                refresh=False,
            ).id
        )
        for number in range(24)
    ]
    refresh_communities_index()
    moment = datetime.combine(utc_now().date(), datetime.min.time(), tzinfo=UTC)
    versions = {"sc-1": Version("sc-1", "sc-p1", "u1", (("a.pdf", 10),))}
    index_versions(versions)
    index_events(
        [MembershipEvent("sc-1", scope, "added", moment, moment) for scope in ids]
        + [MembershipEvent("sc-1", "global", "added", moment, moment)]
    )
    yield ids
    delete_versions(versions)


def test_status_lists_every_scope_in_pages_of_ten(
    twenty_four_communities, clear_stats_indices, cli, set_config
):
    """Must-not-repeat 24 / 04 §13 test 17: 25 scopes, pages of 10, global last."""
    set_config(COMMUNITY_STATS_FILTER_AGGREGATION_SIZE=10)
    ran = cli(root, "aggregate", "--aggregation-type", DELTA)
    assert ran.exit_code == 0, ran.output
    result = cli(root, "status", "--json")
    assert result.exit_code == 0, result.output
    rows = [r for r in json.loads(result.stdout)["scopes"] if r["aggregator"] == DELTA]
    assert [r["scope"] for r in rows] == [*sorted(twenty_four_communities), "global"]
    assert {(r["documents"], r["completeness"]) for r in rows} == {(1, 100.0)}


def test_read_returns_every_document_in_date_order(
    running_app, clear_stats_indices, stats_dashboard, cli, set_config
):
    """04 §13 test 18: 1,200 documents over four yearly indices, pages of 100."""
    stats_dashboard.ensure_search_setup(force=True)
    first = datetime(2022, 3, 1, tzinfo=UTC)
    days = [first + timedelta(days=n) for n in range(1200)]
    shuffled = days[600:] + days[:600]  # written out of order
    bulk_write(
        current_search_client,
        [
            {
                "_op_type": "index",
                "_index": prefix_index(f"stats-community-records-delta-added-{d.year}"),
                "_id": f"global-{d.date().isoformat()}",
                "_source": {
                    "community_id": "global",
                    "period_start": d.strftime("%Y-%m-%dT%H:%M:%S"),
                    "period_end": d.strftime("%Y-%m-%dT23:59:59"),
                },
            }
            for d in shuffled
        ],
    )
    current_search_client.indices.refresh(
        index=prefix_index("stats-community-records-delta-added")
    )
    set_config(COMMUNITY_STATS_SCAN_PAGE_SIZE=100)
    result = cli(
        root,
        "read",
        "--start-date",
        days[0].date().isoformat(),
        "--end-date",
        days[-1].date().isoformat(),
        "--query-type",
        "community-record-delta-added",
        "--json",
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["record_deltas_added"]
    assert [d["period_start"][:10] for d in found] == [
        d.date().isoformat() for d in days
    ]
