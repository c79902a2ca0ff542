"""``usage-events status`` and the maintenance companions (03 §6, tests 11 and 12).

Months are brought into each state by really running ``usage-events migrate`` on
legacy monthly indices (``-b`` caps for "in progress", a write-blocked target for
"failed"). Every expected number is computed from the events the test indexed.
"""

import json
from datetime import UTC, datetime

import pytest
from helpers.legacy_events import (
    aliases_of,
    all_events,
    index_legacy_events,
    legacy_event,
    migratable_instance,
    v1_mappings,
    without_event_templates,
)
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.cli import cli as stats_cli
from invenio_stats_dashboard.cli import output
from invenio_stats_dashboard.locks import task_lock
from invenio_stats_dashboard.proxies import current_event_reindexing_service
from invenio_stats_dashboard.timeutils import utc_now
from invenio_stats_dashboard.usage_events.migration.bookmarks import BookmarkStore
from invenio_stats_dashboard.usage_events.names import (
    backup_index,
    bookmark_id,
    bookmark_index,
    month_index,
    read_alias,
    target_index,
)

PROGRAM = "invenio community-stats usage-events"


@pytest.fixture()
def instance(log, only_new_records, stats_dashboard):
    """Three synthetic versions in the membership log, with the completion marker."""
    return migratable_instance("sts", datetime(2023, 12, 2, tzinfo=UTC))


def month_events(event_type, recids, month, n, tag=""):
    """``n`` events of one month, spread over its days and the records."""
    year, mon = int(month[:4]), int(month[5:])
    return [
        legacy_event(
            event_type,
            recids[i % len(recids)],
            datetime(year, mon, 1 + i % 27, i % 24, i % 60, 11, tzinfo=UTC),
            f"{event_type}-{month}-{tag}{i}",
        )
        for i in range(n)
    ]


def index_months(event_type, recids, sizes):
    """Index ``{month: n}`` legacy events; return ``{month: {id: source}}``."""
    indexed = {}
    for month, n in sizes.items():
        events = month_events(event_type, recids, month, n)
        index_legacy_events(event_type, events)
        indexed[month] = dict(events)
    return indexed


def migrate(cli, *args):
    result = cli(stats_cli, "usage-events", "migrate", "--json", *args)
    data = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result, data


def status_json(cli):
    result = cli(stats_cli, "usage-events", "status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def index_names():
    """Every index of this session (to prove read-only commands change nothing)."""
    return sorted(
        current_search_client.indices.get(
            index=f"{prefix_index('*')},backup-{prefix_index('*')}",
            expand_wildcards="all",
        )
    )


def bookmark_ids():
    store = BookmarkStore(current_search_client)
    return sorted(b.task_id for b in store.all(reenrich=None))


def doc_count(index):
    current_search_client.indices.refresh(index=index)
    return current_search_client.count(index=index)["count"]


def months_of(data, group, event_type=None):
    return {
        (m["event_type"], m["month"]): m
        for m in data["groups"][group]
        if event_type is None or m["event_type"] == event_type
    }


@pytest.fixture()
def blocked_target():
    """Create a write-blocked target so that its month fails; unblock afterwards."""
    blocked = []

    def block(event_type, month):
        name = target_index(event_type, month)
        current_search_client.indices.create(index=name)
        current_search_client.indices.put_settings(
            index=name, body={"index.blocks.write": True}
        )
        blocked.append(name)
        return name

    yield block
    for name in blocked:
        current_search_client.indices.put_settings(
            index=name, body={"index.blocks.write": False}, ignore=404
        )


def test_status_groups_and_counts(cli, instance, blocked_target, monkeypatch):
    """03 test 11: not started, in progress, failed, completed; counts match."""
    sizes = {
        "2024-01": 12,
        "2024-02": 30,
        "2024-03": 9,
        "2024-04": 5,
        "2024-05": 6,
        "2024-06": 7,
    }
    views = index_months("view", instance, sizes)
    downloads = index_months("download", instance, {"2024-01": 8})

    # Read-only before anything was migrated: the bookmark index is not created.
    current_search_client.indices.delete(index=bookmark_index(), ignore=404)
    before = index_names()
    data = status_json(cli)
    assert index_names() == before
    assert not current_search_client.indices.exists(index=bookmark_index())
    assert data["state"] == "required"
    assert len(data["groups"]["not_started"]) == 7
    assert data["totals"]["view"] == {
        "old": sum(sizes.values()),
        "migrated": 0,
        "remaining": sum(sizes.values()),
    }

    # completed (old kept), completed (old deleted), in progress, failed
    result, _ = migrate(cli, "-e", "view", "-m", "2024-01")
    assert result.exit_code == 0, result.output
    result, _ = migrate(cli, "-e", "download", "-m", "2024-01", "--delete-old-indices")
    assert result.exit_code == 0, result.output
    result, out = migrate(
        cli, "-e", "view", "-m", "2024-02", "--batch-size", "10", "-b", "1"
    )
    assert result.exit_code == 0, result.output
    assert out["event_types"]["view"]["months"]["2024-02"]["processed"] == 10
    blocked_target("view", "2024-03")
    result, out = migrate(cli, "-e", "view", "-m", "2024-03")
    assert result.exit_code == 1, result.output
    assert out["event_types"]["view"]["months"]["2024-03"]["status"] == "failed"

    requests = []
    transport = current_search_client.transport
    real = transport.perform_request

    def recording(method, url, *args, **kwargs):
        requests.append((method, url))
        return real(method, url, *args, **kwargs)

    monkeypatch.setattr(transport, "perform_request", recording)
    before = index_names()
    data = status_json(cli)
    monkeypatch.undo()
    assert index_names() == before
    # counts come from one search for all indices, never per month, never events
    assert not [url for _, url in requests if url.endswith("/_count")]
    assert len(requests) <= 12, requests

    not_started = months_of(data, "not_started")
    assert set(not_started) == {("view", m) for m in ("2024-04", "2024-05", "2024-06")}
    for (_, month), row in not_started.items():
        assert row["source_count"] == sizes[month]
        assert row["migrated_count"] == 0
        assert row["remaining_count"] == sizes[month]
        assert row["target_exists"] is False
        assert row["command"] == f"{PROGRAM} migrate -e view -m {month}"
    assert len(data["counts"]["not_started"]) == 3

    in_progress = months_of(data, "in_progress")
    assert set(in_progress) == {("view", "2024-02")}
    row = in_progress["view", "2024-02"]
    assert (row["source_count"], row["migrated_count"], row["remaining_count"]) == (
        30,
        10,
        20,
    )
    assert row["percent"] == pytest.approx(33.3)
    assert row["command"] == f"{PROGRAM} migrate -e view -m 2024-02"
    assert row["bookmark"]["last_event_id"] is not None

    failed = months_of(data, "failed")
    assert set(failed) == {("view", "2024-03")}
    row = failed["view", "2024-03"]
    assert (row["migrated_count"], row["remaining_count"]) == (0, 9)
    assert row["last_error"]

    completed = months_of(data, "completed")
    assert set(completed) == {("view", "2024-01"), ("download", "2024-01")}
    assert completed["view", "2024-01"]["old_index"] == "kept"
    assert completed["view", "2024-01"]["migrated_count"] == 12
    assert completed["download", "2024-01"]["old_index"] == "deleted"
    assert completed["download", "2024-01"]["migrated_count"] == 8
    assert not data["groups"]["interrupted"] and not data["groups"]["pending_again"]

    expected_remaining = 20 + 9 + 5 + 6 + 7
    assert data["totals"]["view"] == {
        "old": sum(sizes.values()),
        "migrated": 12 + 10,
        "remaining": expected_remaining,
    }
    assert data["totals"]["download"] == {"old": 0, "migrated": 8, "remaining": 0}
    counts = data["counts"]
    assert counts["view_old"] == sum(sizes.values())
    assert counts["view_migrated"] == 22
    assert counts["view_remaining"] == expected_remaining
    assert counts["download_old"] == 0
    assert counts["download_migrated"] == len(downloads["2024-01"])
    assert counts["download_remaining"] == 0
    assert {m["month"] for m in counts["migrations_in_progress"]} == {
        "2024-02",
        "2024-03",
    }
    assert [m["month"] for m in counts["migrations_old_deleted"]] == ["2024-01"]
    assert counts["view_completed_migrations"][0]["old_index"] == "kept"
    assert len(counts["old_indices"]) == len(sizes)
    assert data["fingerprint"]["stale_months"] == []
    assert data["health"]["is_healthy"] is True

    # the service (and Celery task) return the same numbers
    progress = current_event_reindexing_service.get_reindexing_progress()
    assert progress["counts"] == counts
    assert progress["health"]["cluster_status"] in ("green", "yellow")

    # a late event in the kept old index of a completed month: pending again
    late = month_events("view", instance, "2024-01", 2, tag="late")
    index_legacy_events("view", late)
    data = status_json(cli)
    pending = months_of(data, "pending_again")
    assert set(pending) == {("view", "2024-01")}
    assert pending["view", "2024-01"]["remaining_count"] == 2
    assert data["totals"]["view"]["remaining"] == expected_remaining + 2

    # human output: every flag, exit 0
    result = cli(
        stats_cli,
        "usage-events",
        "status",
        "--show-bookmarks",
        "--show-indices",
        "--show-incomplete",
        "--show-completed",
        "--show-not-started",
    )
    assert result.exit_code == 0, result.output
    assert "Not started: 3" in result.stdout
    assert f"resume: {PROGRAM} migrate -e view -m 2024-02" in result.stdout
    assert f"retry: {PROGRAM} migrate -e view -m 2024-03" in result.stdout
    assert f"{bookmark_id('view', '2024-02')}: phase copying" in result.stdout
    assert f"{month_index('view', '2024-04')} (5) -> " in result.stdout
    assert "old index deleted" in result.stdout
    plain = cli(stats_cli, "usage-events", "status")
    assert "use --show-not-started" in plain.stdout
    assert views  # every expected number above came from these


def test_clear_bookmarks(cli, instance, monkeypatch):
    """03 test 12: one prompt, --confirm, both spellings, --fresh-start rules."""
    views = index_months("view", instance, {"2024-01": 6, "2024-02": 25})
    index_months("download", instance, {"2024-02": 15})
    assert migrate(cli, "-e", "view", "-m", "2024-01")[0].exit_code == 0
    for event_type in ("view", "download"):
        result, _ = migrate(
            cli, "-e", event_type, "-m", "2024-02", "--batch-size", "10", "-b", "1"
        )
        assert result.exit_code == 0, result.output
    everything = [
        bookmark_id("download", "2024-02"),
        bookmark_id("view", "2024-01"),
        bookmark_id("view", "2024-02"),
    ]
    assert bookmark_ids() == everything

    # non-interactive stdin without --confirm: refused, nothing deleted
    result = cli(stats_cli, "usage-events", "clear-bookmarks")
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr, (result.output, result.exception)
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: confirmation required; re-run with --confirm"
    )
    assert bookmark_ids() == everything

    # one prompt listing every bookmark; declining changes nothing
    monkeypatch.setattr(output, "stdin_is_interactive", lambda: True)
    result = cli(stats_cli, "usage-events", "clear-bookmarks", input="n\n")
    assert result.exit_code == 1
    assert result.stderr.count("[y/N]") == 1
    for task_id in everything:
        assert task_id in result.stderr
    assert bookmark_ids() == everything

    # --fresh-start: the finalised month is refused and unchanged; the unfinalised
    # month loses bookmark and target; downloads are not selected
    finalised_target = target_index("view", "2024-01")
    kept = set(all_events(finalised_target))
    result = cli(
        stats_cli,
        "usage-events",
        "clear-bookmarks",
        "--event-type",
        "view",
        "--month",
        "2024-01:2024-02",
        "--fresh-start",
        input="y\n",
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.count("[y/N]") == 1
    assert (
        "[REFUSED] view 2024-01: finalised: use `migrate --reenrich`" in result.stdout
    )
    assert f"[OK] bookmark {bookmark_id('view', '2024-02')} deleted" in result.stdout
    assert f"[OK] target {target_index('view', '2024-02')} deleted" in result.stdout
    assert "Deleted 1 of 1 bookmarks and 1 targets" in result.stdout
    assert not current_search_client.indices.exists(
        index=target_index("view", "2024-02")
    )
    assert set(all_events(finalised_target)) == kept == set(views["2024-01"])
    assert aliases_of(finalised_target) == {read_alias("view")}
    assert bookmark_ids() == [
        bookmark_id("download", "2024-02"),
        bookmark_id("view", "2024-01"),
    ]
    assert doc_count(month_index("view", "2024-02")) == 25

    # the other spellings, --confirm: only the bookmark goes, the target stays
    download_target = target_index("download", "2024-02")
    result = cli(
        stats_cli,
        "usage-events",
        "clear-bookmarks",
        "--event-types",
        "download",
        "--months",
        "2024-02",
        "--confirm",
    )
    assert result.exit_code == 0, result.output
    assert "Deleted 1 of 1 bookmarks" in result.stdout
    assert current_search_client.indices.exists(index=download_target)
    assert bookmark_ids() == [bookmark_id("view", "2024-01")]

    # without --fresh-start a finalised month's bookmark goes, its data stays; the
    # next migrate re-verifies and records it without copying
    result = cli(
        stats_cli, "usage-events", "clear-bookmarks", "-e", "view", "--confirm"
    )
    assert result.exit_code == 0, result.output
    assert bookmark_ids() == []
    data = status_json(cli)
    assert set(months_of(data, "unrecorded")) == {("view", "2024-01")}
    result, out = migrate(cli, "-e", "view", "-m", "2024-01")
    assert result.exit_code == 0, result.output
    assert out["event_types"]["view"]["months"]["2024-01"]["processed"] == 0
    assert set(months_of(status_json(cli), "completed")) == {("view", "2024-01")}

    # nothing selected → nothing to clear, exit 0
    result = cli(stats_cli, "usage-events", "clear-bookmarks", "-m", "2023-01")
    assert result.exit_code == 0, result.output
    assert "No migration bookmarks to clear." in result.stdout

    # a failing delete → exit 1, and the count excludes it
    result, _ = migrate(
        cli, "-e", "view", "-m", "2024-02", "--batch-size", "10", "-b", "1"
    )
    assert result.exit_code == 0, result.output
    failing = bookmark_id("view", "2024-02")
    real_delete = BookmarkStore.delete

    def delete(store, bookmark):
        if getattr(bookmark, "task_id", bookmark) == failing:
            raise RuntimeError("injected delete failure")
        return real_delete(store, bookmark)

    monkeypatch.setattr(BookmarkStore, "delete", delete)
    result = cli(stats_cli, "usage-events", "clear-bookmarks", "--confirm")
    monkeypatch.setattr(BookmarkStore, "delete", real_delete)
    assert result.exit_code == 1, result.output
    assert f"[FAIL] bookmark {failing}: injected delete failure" in result.stdout
    assert "Deleted 1 of 2 bookmarks" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "Error: failed: 1 deletions failed"
    assert bookmark_ids() == [failing]

    # a running migration (its lock held) → refused, nothing deleted
    with task_lock("usage_migration"):
        result = cli(stats_cli, "usage-events", "clear-bookmarks", "--confirm")
    assert result.exit_code == 1, result.output
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: lock community_stats_usage_migration held by ")
    )
    assert bookmark_ids() == [failing]


def test_cleanup_old_indices(cli, instance, monkeypatch):
    """03 test 12: dry run deletes nothing; a real run deletes the verified months."""
    index_months("view", instance, {"2024-01": 7, "2024-02": 11, "2024-03": 13})
    index_months("download", instance, {"2024-01": 5})
    now = utc_now()
    this_month = now.strftime("%Y-%m")
    current = [
        legacy_event("view", instance[n % 3], now.replace(day=1, hour=0), f"cur-{n}")
        for n in range(4)
    ]
    index_legacy_events("view", current)
    for event_type, months in (("view", "2024-01:2024-02"), ("download", "2024-01")):
        result, _ = migrate(cli, "-e", event_type, "-m", months)
        assert result.exit_code == 0, result.output
    result, _ = migrate(cli, "-e", "view", "-m", this_month)
    assert result.exit_code == 0, result.output
    result, _ = migrate(
        cli, "-e", "view", "-m", "2024-03", "--batch-size", "5", "-b", "1"
    )
    assert result.exit_code == 0, result.output
    backup = backup_index("view", this_month)
    assert current_search_client.indices.exists(index=backup)

    before = index_names()
    result = cli(stats_cli, "usage-events", "cleanup-old-indices")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: confirmation required; re-run with --yes-i-know"
    )
    monkeypatch.setattr(output, "stdin_is_interactive", lambda: True)
    result = cli(stats_cli, "usage-events", "cleanup-old-indices", input="n\n")
    assert result.exit_code == 1
    assert result.stderr.count("[y/N]") == 1
    assert index_names() == before

    result = cli(stats_cli, "usage-events", "cleanup-old-indices", "--dry-run")
    assert result.exit_code == 0, result.output
    assert index_names() == before
    lines = result.stdout.splitlines()
    expect = {
        month_index("view", "2024-01"): "would_delete",
        month_index("view", "2024-02"): "would_delete",
        month_index("view", "2024-03"): "not_completed",
        month_index("download", "2024-01"): "would_delete",
        backup: "would_delete",
    }
    for name, outcome in expect.items():
        [line] = [x for x in lines if f": {name} (" in x]
        assert f": {outcome}" in line, line
    old = month_index("view", "2024-01")
    assert f"{old} (7) -> {target_index('view', '2024-01')} (7): would_delete" in (
        result.stdout
    )
    assert lines[-1] == "[SUMMARY] 4/5 indices would be deleted"

    # one event missing in a target → that old index fails validation and stays
    gone_id = sorted(all_events(target_index("view", "2024-02")))[0]
    current_search_client.delete(
        index=target_index("view", "2024-02"), id=gone_id, refresh=True
    )
    result = cli(
        stats_cli, "usage-events", "cleanup-old-indices", "-e", "view", "--yes-i-know"
    )
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    [failed] = [x for x in lines if f": {month_index('view', '2024-02')} (" in x]
    assert ": validation_failed - 1 events of" in failed
    assert lines[-1] == "[SUMMARY] 2/4 indices deleted"
    assert result.stderr.strip().splitlines()[-1].startswith("Error: failed:")
    assert not current_search_client.indices.exists(
        index=month_index("view", "2024-01")
    )
    assert not current_search_client.indices.exists(index=backup)
    for name in (
        month_index("view", "2024-02"),
        month_index("view", "2024-03"),
        month_index("download", "2024-01"),
    ):
        assert current_search_client.indices.exists(index=name), name
    # the read alias still shows every event of the month exactly once
    assert len(all_events(read_alias("view"))) == 7 + 10 + 13 + 4

    result = cli(
        stats_cli,
        "usage-events",
        "cleanup-old-indices",
        "-e",
        "download",
        "--yes-i-know",
    )
    assert result.exit_code == 0, result.output
    assert f"{month_index('download', '2024-01')} (5) -> " in result.stdout
    assert result.stdout.splitlines()[-1] == "[SUMMARY] 1/1 indices deleted"
    assert not current_search_client.indices.exists(
        index=month_index("download", "2024-01")
    )


def create_legacy_backup(event_type, month, events):
    """``{P}events-stats-{type}-{month}-backup`` as the original's older naming left it."""
    name = f"{month_index(event_type, month)}-backup"
    with without_event_templates():
        current_search_client.indices.create(
            index=name,
            body={
                "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
                "mappings": v1_mappings(event_type),
                "aliases": {read_alias(event_type): {}},
            },
        )
    for event_id, source in events:
        current_search_client.index(index=name, id=event_id, body=source)
    current_search_client.indices.refresh(index=name)
    return name


def test_backup_named_indices_are_ignored_and_lose_their_aliases(cli, instance):
    """Must-not-repeat: a ``-backup`` index is never migrated; its aliases can go."""
    legacy = create_legacy_backup(
        "view", "2024-02", month_events("view", instance, "2024-02", 4, tag="bk")
    )
    index_months("view", instance, {"2024-03": 5})

    data = status_json(cli)
    assert data["legacy_backups"] == [
        {
            "event_type": "view",
            "month": "2024-02",
            "index": legacy,
            "aliases": [read_alias("view")],
        }
    ]
    assert data["totals"]["view"]["old"] == 5
    assert {m["month"] for g in data["groups"].values() for m in g} == {"2024-03"}

    result, out = migrate(cli, "-e", "view")
    assert result.exit_code == 0, result.output
    assert sorted(out["event_types"]["view"]["months"]) == ["2024-03"]
    assert not current_search_client.indices.exists(index=f"{legacy}-v2.0.0")
    assert not current_search_client.indices.exists(
        index=target_index("view", "2024-02")
    )
    assert doc_count(legacy) == 4

    result = cli(stats_cli, "usage-events", "remove-backup-aliases", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "deprecated" in result.stderr
    assert f"[DRY RUN] {legacy}: would remove {read_alias('view')}" in result.stdout
    assert aliases_of(legacy) == {read_alias("view")}

    result = cli(stats_cli, "usage-events", "remove-backup-aliases")
    assert result.exit_code == 0, result.output
    assert f"[OK] {legacy}: removed {read_alias('view')}" in result.stdout
    assert aliases_of(legacy) == set()
    assert doc_count(legacy) == 4

    again = cli(stats_cli, "usage-events", "remove-backup-aliases")
    assert again.exit_code == 0
    assert f"[OK] {legacy}: no aliases" in again.stdout
