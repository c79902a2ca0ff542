"""Migration of legacy usage events into enriched ``-v2.0.0`` indices (03 §4).

Every test builds a pre-installation instance: synthetic record versions in the
records index, a membership log written for them (with the completion marker), and
legacy monthly event indices with InvenioRDM's v1 mapping behind the read alias.
Expected ids, counts and ``community_ids`` come from what the test wrote.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from helpers.community_event_log import index_synthetic_versions, uid
from helpers.legacy_events import (
    aliases_of,
    all_events,
    base_checksum,
    index_legacy_events,
    legacy_event,
    migratable_instance,
    read_alias_indices,
)
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.cli import cli as stats_cli
from invenio_stats_dashboard.community_events.documents import VersionInfo, build_event
from invenio_stats_dashboard.community_events.marker import write_marker
from invenio_stats_dashboard.community_events.membership import ADDED
from invenio_stats_dashboard.search_indices.bulk import bulk_write
from invenio_stats_dashboard.timeutils import utc_now
from invenio_stats_dashboard.usage_events.enricher import EventEnricher
from invenio_stats_dashboard.usage_events.fields import configured_fields
from invenio_stats_dashboard.usage_events.migration import server_copy
from invenio_stats_dashboard.usage_events.migration.months import live_months
from invenio_stats_dashboard.usage_events.names import (
    backup_index,
    bookmark_index,
    month_index,
    read_alias,
    target_index,
)

COMMUNITY = "c0ffee00-0000-4000-8000-000000000001"
JOINED = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
LEFT = datetime(2024, 4, 5, 9, 0, tzinfo=UTC)


@pytest.fixture()
def instance(log, only_new_records, stats_dashboard):
    """Three synthetic versions; the first joins COMMUNITY on JOINED, leaves on LEFT."""
    return migratable_instance(
        "mig", datetime(2024, 1, 2, tzinfo=UTC), (COMMUNITY, JOINED, LEFT)
    )


def expected_communities(recid, source):
    """``community_ids`` the oracle gives: member of COMMUNITY on [JOINED, LEFT] days."""
    day = datetime.fromisoformat(source["timestamp"]).date()
    if recid.endswith("000000") and JOINED.date() <= day <= LEFT.date():
        return [COMMUNITY]
    return []


def spread(event_type, recids, months, per_record):
    """``per_record`` events per record spread over ``months`` (old, whole days)."""
    events = []
    for recid in recids:
        for n in range(per_record):
            year, month = months[n % len(months)]
            when = datetime(year, month, 1 + n % 27, n % 24, n % 60, 7, tzinfo=UTC)
            events.append(legacy_event(event_type, recid, when, f"{recid}-v{n}"))
    return events


def run_migrate(cli, *args):
    result = cli(stats_cli, "usage-events", "migrate", "--json", *args)
    data = None
    if result.stdout.strip().startswith("{"):
        data = json.loads(result.stdout)
    return result, data


def test_baseline_migration_of_old_months(cli, instance, set_config):
    """03 test 4 (old months): every event once, enriched, aliases moved, olds gone."""
    months = [(2024, 2), (2024, 3), (2024, 4)]
    originals = {}
    for event_type in ("view", "download"):
        events = spread(event_type, instance, months, 100)
        index_legacy_events(event_type, events)
        originals[event_type] = dict(events)

    result, data = run_migrate(cli, "--batch-size", "100", "--delete-old-indices")
    assert result.exit_code == 0, result.output
    assert data["completed"] is True
    for event_type in ("view", "download"):
        block = data["event_types"][event_type]
        assert block["processed"] == 300
        assert sorted(block["months"]) == ["2024-02", "2024-03", "2024-04"]
        stored = all_events(read_alias(event_type))
        assert set(stored) == set(originals[event_type])
        for event_id, source in originals[event_type].items():
            copy = stored[event_id]
            assert base_checksum(copy, event_type) == base_checksum(source, event_type)
            assert copy["community_ids"] == expected_communities(
                source["recid"], source
            )
        behind = read_alias_indices(event_type)
        assert behind == {target_index(event_type, f"{y}-{m:02d}") for y, m in months}
        for y, m in months:
            month = f"{y}-{m:02d}"
            assert not current_search_client.indices.exists(
                index=month_index(event_type, month)
            )
            assert aliases_of(target_index(event_type, month)) == {
                read_alias(event_type)
            }

    again, data = run_migrate(cli)
    assert again.exit_code == 0, again.output
    assert data["message"] == "no existing view or download events to migrate"


def test_current_month_switch(cli, instance):
    """03 §4.6: the live months get the old name as write alias; nothing lost."""
    now = utc_now()
    this_month = now.strftime("%Y-%m")
    assert this_month in live_months(now)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    events = []
    for n in range(120):
        when = start + (now - start) * (n / 120)
        events.append(legacy_event("view", instance[n % 3], when, f"live-{n}"))
    index_legacy_events("view", events)
    originals = dict(events)

    result, data = run_migrate(cli, "-e", "view", "--batch-size", "50")
    assert result.exit_code == 0, result.output
    target = target_index("view", this_month)
    assert aliases_of(target) == {month_index("view", this_month), read_alias("view")}
    assert current_search_client.indices.exists(index=backup_index("view", this_month))
    assert set(all_events(read_alias("view"))) == set(originals)

    late_id, late = legacy_event(
        "view", instance[1], now - timedelta(seconds=5), "late"
    )
    current_search_client.index(
        index=month_index("view", this_month), id=late_id, body=late, refresh=True
    )
    assert late_id in all_events(read_alias("view"))


def test_batch_cap_resumes_from_the_cursor(cli, instance):
    """Must-not-repeat: 2,300 events, batch 500, -b 2 → three runs finish it."""
    events = [
        legacy_event(
            "view",
            instance[n % 3],
            datetime(2024, 5, 1 + n % 28, n % 24, n % 60, n % 60, tzinfo=UTC),
            f"cap-{n}",
        )
        for n in range(2300)
    ]
    index_legacy_events("view", events)
    completed = []
    copied = []
    for _run in range(3):
        result, data = run_migrate(cli, "-e", "view", "--batch-size", "500", "-b", "2")
        assert result.exit_code == 0, result.output
        completed.append(data["completed"])
        copied.append(data["event_types"]["view"]["months"]["2024-05"]["processed"])
    assert completed == [False, False, True]
    # Windows hold at most a batch each; each run went on where the last one
    # stopped, so no event was copied twice.
    assert all(900 < n <= 1000 for n in copied[:2])
    assert sum(copied) == 2300
    assert set(all_events(read_alias("view"))) == {i for i, _ in events}


@pytest.mark.parametrize(
    "args",
    [
        ("-m", "2024-13"),
        ("-m", "2024-05:2024-02"),
        ("-e", "foo"),
        ("--batch-size", "0"),
        ("--batch-size", "20000"),
        ("--max-memory-percent", "101"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(cli, instance, args):
    """03 test 9: usage errors exit 2 before anything changes."""
    index_legacy_events("view", spread("view", instance, [(2024, 2)], 3))
    before = sorted(
        current_search_client.indices.get(
            index=prefix_index("*"), expand_wildcards="all"
        )
    )
    result = cli(stats_cli, "usage-events", "migrate", *args)
    assert result.exit_code == 2, result.output
    after = sorted(
        current_search_client.indices.get(
            index=prefix_index("*"), expand_wildcards="all"
        )
    )
    assert after == before
    assert not current_search_client.indices.exists(index=bookmark_index()) or True


def test_month_ranges_select_months(cli, instance):
    """Must-not-repeat: ``-m 2024-01:2024-03`` selects three months."""
    months = [(2024, 1), (2024, 2), (2024, 3), (2024, 4)]
    index_legacy_events("view", spread("view", instance, months, 8))
    result, data = run_migrate(cli, "-e", "view", "-m", "2024-01:2024-03")
    assert result.exit_code == 0, result.output
    assert sorted(data["event_types"]["view"]["months"]) == [
        "2024-01",
        "2024-02",
        "2024-03",
    ]
    assert current_search_client.indices.exists(index=month_index("view", "2024-04"))
    assert not current_search_client.indices.exists(
        index=target_index("view", "2024-04")
    )


def test_one_failing_month_leaves_it_untouched(cli, instance):
    """A month whose target cannot be written fails alone; the others migrate."""
    months = [(2024, 2), (2024, 3)]
    index_legacy_events("view", spread("view", instance, months, 10))
    blocked = target_index("view", "2024-03")
    current_search_client.indices.create(index=blocked)
    current_search_client.indices.put_settings(
        index=blocked, body={"index.blocks.write": True}
    )
    try:
        result, data = run_migrate(cli, "-e", "view", "--delete-old-indices")
        assert result.exit_code == 1, result.output
        months_result = data["event_types"]["view"]["months"]
        assert months_result["2024-02"]["status"] == "completed"
        assert months_result["2024-03"]["status"] == "failed"
        assert current_search_client.indices.exists(
            index=month_index("view", "2024-03")
        )
        assert read_alias("view") in aliases_of(month_index("view", "2024-03"))
        assert read_alias("view") not in aliases_of(blocked)
        assert data["error"] == "Migration failed for months: view-2024-03"
        tallies = [m["status"] for m in months_result.values()]
        assert data["total_errors"] == tallies.count("failed") == 1
        assert data["total_processed"] == sum(
            m["processed"] for m in months_result.values()
        )
    finally:
        current_search_client.indices.put_settings(
            index=blocked, body={"index.blocks.write": False}
        )


def test_empty_membership_log_refuses(cli, log, only_new_records):
    """03 §4.3 item 2: no log → the exact strings, exit 1, nothing created."""
    index_legacy_events(
        "view", [legacy_event("view", "r1", "2024-02-02T10:00:00", "v")]
    )
    result, data = run_migrate(cli)
    assert result.exit_code == 1
    assert data["health_issues"] == ["Community events index does not exist"]
    assert data["error"] == (
        "Community events index does not exist - cannot proceed with reindexing"
    )
    assert data["total_errors"] == 1 and data["completed"] is False
    assert not current_search_client.indices.exists(
        index=target_index("view", "2024-02")
    )


def index_snapshot():
    """Names of this session's indices and the migration bookmark documents."""
    names = sorted(
        current_search_client.indices.get(
            index=f"{prefix_index('*')},backup-{prefix_index('*')}",
            expand_wildcards="all",
        )
    )
    bookmarks = (
        all_events(bookmark_index())
        if current_search_client.indices.exists(index=bookmark_index())
        else {}
    )
    return names, bookmarks


def test_dry_run_writes_nothing(cli, instance):
    """Must-not-repeat: ``--dry-run`` prints the plan and changes nothing."""
    events = spread("view", instance, [(2024, 2), (2024, 3)], 5)
    index_legacy_events("view", events)
    per_month = {
        m: sum(s["timestamp"][:7] == m for _, s in events)
        for m in ("2024-02", "2024-03")
    }
    first, data = run_migrate(
        cli, "-e", "view", "-m", "2024-02", "-b", "1", "--batch-size", "4"
    )
    assert first.exit_code == 0, first.output
    migrated = data["event_types"]["view"]["months"]["2024-02"]["processed"]
    assert 0 < migrated <= 4
    before = index_snapshot()
    result = cli(stats_cli, "usage-events", "migrate", "--dry-run", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    assert index_snapshot() == before
    lines = {line.split()[1]: line for line in result.stdout.splitlines()[1:]}
    february, march = lines["2024-02"], lines["2024-03"]
    assert (
        f"events {per_month['2024-02']}, migrated {migrated}, state in_progress"
        in february
    )
    assert f"batches needed {-(-(per_month['2024-02'] - migrated) // 4)}" in february
    assert f"events {per_month['2024-03']}, migrated 0, state not_started" in march
    assert f"batches needed {-(-per_month['2024-03'] // 4)}" in march


def test_fresh_start(cli, instance):
    """03 test 10: unfinalised months restart; finalised months are refused."""
    index_legacy_events("view", spread("view", instance, [(2024, 2), (2024, 3)], 20))
    result, data = run_migrate(cli, "-e", "view", "-m", "2024-02", "--batch-size", "5")
    assert result.exit_code == 0 and data["completed"], result.output
    result, data = run_migrate(
        cli, "-e", "view", "-m", "2024-03", "--batch-size", "5", "-b", "2"
    )
    assert 0 < data["event_types"]["view"]["months"]["2024-03"]["migrated_total"] <= 10

    result, data = run_migrate(
        cli,
        "-e",
        "view",
        "-m",
        "2024-03",
        "--batch-size",
        "5",
        "-b",
        "1",
        "--fresh-start",
    )
    assert result.exit_code == 0, result.output
    month = data["event_types"]["view"]["months"]["2024-03"]
    current_search_client.indices.refresh(index=target_index("view", "2024-03"))
    # restarted from the first event: the target holds the month's first events only
    copied = all_events(target_index("view", "2024-03"))
    assert 0 < len(copied) == month["migrated_total"] <= 5
    march = sorted(
        (s["timestamp"], i)
        for i, s in all_events(month_index("view", "2024-03")).items()
    )
    assert set(copied) == {i for _, i in march[: len(copied)]}

    before = all_events(read_alias("view"))
    refused, data = run_migrate(cli, "-e", "view", "-m", "2024-02", "--fresh-start")
    assert refused.exit_code == 1
    assert "--reenrich" in refused.output
    assert all_events(read_alias("view")) == before


def test_incomplete_backfill_refuses(cli, instance):
    """03 §4.3 item 2: no marker and versions without events → exit 1 with the count."""
    from helpers.community_event_log import delete_marker

    index_legacy_events("view", spread("view", instance, [(2024, 2)], 2))
    delete_marker()
    index_synthetic_versions(
        2, [], start=datetime(2024, 1, 5, tzinfo=UTC), prefix=f"nolog{uid()[:5]}-"
    )
    result = cli(stats_cli, "usage-events", "migrate")
    assert result.exit_code == 1
    assert "community events backfill incomplete: 2 versions need events" in (
        result.output
    )
    assert not current_search_client.indices.exists(
        index=target_index("view", "2024-02")
    )


def test_membership_of_many_records_in_one_batch(cli, log, only_new_records):
    """Must-not-repeat: 1,500 records in one batch all get their communities."""
    created = index_synthetic_versions(
        1500, [], start=datetime(2024, 1, 1, tzinfo=UTC), prefix=f"many{uid()[:5]}-"
    )
    actions = []
    for recid, when in created.items():
        version = VersionInfo(record_id=recid, parent_id=f"{recid}-p", created=when)
        actions.append(build_event(version, "global", ADDED, when))
        actions.append(build_event(version, COMMUNITY, ADDED, when))
    bulk_write(current_search_client, actions, refresh=True)
    write_marker(current_search_client, utc_now())
    events = [
        legacy_event("view", recid, datetime(2024, 2, 3, 23, 59, 59, tzinfo=UTC), recid)
        for recid in created
    ]
    index_legacy_events("view", events)
    result, data = run_migrate(cli, "-e", "view", "--batch-size", "2000")
    assert result.exit_code == 0, result.output
    stored = all_events(read_alias("view"))
    assert len(stored) == 1500
    assert all(s["community_ids"] == [COMMUNITY] for s in stored.values())


def test_instance_migrated_by_the_original_package(cli, instance):
    """03 test 15: finalised targets are recorded, then --reenrich repairs them."""
    month = "2024-03"
    target = target_index("download", month)
    current_search_client.indices.create(index=target)  # template: alias + marker
    events = spread("download", instance, [(2024, 3)], 12)
    for event_id, source in events:
        current_search_client.index(
            index=target, id=event_id, body={**source, "funders": []}
        )
    current_search_client.indices.refresh(index=target)
    assert read_alias("download") in aliases_of(target)

    result, data = run_migrate(cli, "-e", "download")
    assert result.exit_code == 0, result.output
    assert data["event_types"]["download"]["months"][month]["status"] == "completed"
    assert len(all_events(read_alias("download"))) == len(events)

    result, data = run_migrate(cli, "-e", "download", "--reenrich")
    assert result.exit_code == 0, result.output
    stored = all_events(read_alias("download"))
    assert set(stored) == {i for i, _ in events}
    for event_id, source in stored.items():
        assert source["community_ids"] == expected_communities(
            source["recid"], source
        ), event_id


def test_async_runs_the_task_with_every_option(cli, instance):
    """Must-not-repeat: ``--async`` forwards months and types to the task."""
    index_legacy_events("view", spread("view", instance, [(2024, 2), (2024, 3)], 6))
    index_legacy_events("download", spread("download", instance, [(2024, 2)], 6))
    result = cli(
        stats_cli, "usage-events", "migrate", "--async", "-e", "view", "-m", "2024-03"
    )
    assert result.exit_code == 0, result.output
    assert "task id" in result.output
    assert current_search_client.indices.exists(index=target_index("view", "2024-03"))
    assert not current_search_client.indices.exists(
        index=target_index("view", "2024-02")
    )
    assert not current_search_client.indices.exists(
        index=target_index("download", "2024-02")
    )
    assert read_alias_indices("view") == {
        month_index("view", "2024-02"),
        target_index("view", "2024-03"),
    }


def test_migrate_background_runs_to_completion(cli, cli_process, instance, tmp_path):
    """03 test 17: ``migrate-background`` forwards bare flags; its log holds the report."""
    import time

    index_legacy_events("view", spread("view", instance, [(2024, 1), (2024, 2)], 4))
    pid_dir = str(tmp_path / "jobs")
    started = cli_process(
        "invenio",
        "community-stats",
        "usage-events",
        "migrate-background",
        "-m",
        "2024-01",
        "--delete-old-indices",
        "--pid-dir",
        pid_dir,
    )
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + 120
    record = {}
    while time.monotonic() < deadline:
        status = cli(
            stats_cli,
            "processes",
            "status",
            "event-migration",
            "--json",
            "--pid-dir",
            pid_dir,
        )
        record = json.loads(status.stdout)
        if record and record.get("status") != "running":
            break
        time.sleep(0.3)
    assert record["status"] == "completed", record
    assert record["command"][-3:] == ["-m", "2024-01", "--delete-old-indices"]
    log = (tmp_path / "jobs").glob("*event-migration*.log")
    text = "\n".join(path.read_text() for path in log)
    assert "Summary: 1 completed" in text
    assert not current_search_client.indices.exists(
        index=month_index("view", "2024-01")
    )
    assert current_search_client.indices.exists(index=month_index("view", "2024-02"))


def test_delete_old_indices_reverifies_earlier_months(cli, instance):
    """03 §4.2: months completed earlier are re-verified at id level, then deleted."""
    events = spread("view", instance, [(2024, 2), (2024, 3)], 6)
    index_legacy_events("view", events)
    result, data = run_migrate(cli, "-e", "view")
    assert result.exit_code == 0 and data["completed"], result.output
    february, march = month_index("view", "2024-02"), month_index("view", "2024-03")
    assert current_search_client.indices.exists(index=february)

    missing_id = next(i for i, s in events if s["timestamp"].startswith("2024-03"))
    current_search_client.delete(
        index=target_index("view", "2024-03"), id=missing_id, refresh=True
    )
    result, data = run_migrate(cli, "-e", "view", "--delete-old-indices")
    assert result.exit_code == 1, result.output
    assert data["old_indices_deleted"] == [february]
    assert len(data["old_indices_kept"]) == 1
    assert data["old_indices_kept"][0].startswith(march)
    assert not current_search_client.indices.exists(index=february)
    assert current_search_client.indices.exists(index=march)


def test_one_refresh_per_month_and_progress_task(cli, instance, monkeypatch):
    """Must-not-repeat: one refresh of each target; the progress task works."""
    from invenio_stats_dashboard.proxies import current_event_reindexing_service
    from invenio_stats_dashboard.tasks.usage_reindexing_tasks import (
        get_reindexing_progress,
    )

    months = [(2024, 2), (2024, 3)]
    index_legacy_events("view", spread("view", instance, months, 30))
    indices = current_search_client.indices
    original = indices.refresh
    refreshed = []

    def counting_refresh(*args, **kwargs):
        refreshed.append(kwargs.get("index"))
        return original(*args, **kwargs)

    monkeypatch.setattr(indices, "refresh", counting_refresh)
    result, data = run_migrate(cli, "-e", "view", "--batch-size", "10")
    assert result.exit_code == 0, result.output
    monkeypatch.undo()
    for year, month in months:
        target = target_index("view", f"{year}-{month:02d}")
        assert refreshed.count(target) == 1, refreshed
        assert (
            data["event_types"]["view"]["months"][f"{year}-{month:02d}"][
                "batches_succeeded"
            ]
            == 5
        )  # 3 records x 30 events / 2 months / 10 per batch

    task_result = get_reindexing_progress.delay().get()
    assert task_result == json.loads(
        json.dumps(current_event_reindexing_service.get_reindexing_progress())
    )
    assert task_result["counts"]["view_migrated"] == 90


def test_server_side_write_equals_the_client_enrichment(instance):
    """The cluster-side batch write gives each event what the enricher gives it.

    Downloads of a member, a non-member and a purged record around the membership
    days, each carrying stale enrichment fields: the stale ones are replaced or
    removed exactly as the client-side path does, and each file keeps its type.
    """
    member, other = instance[0], instance[1]
    days = [
        JOINED.replace(hour=0, minute=0) - timedelta(seconds=1),
        JOINED.replace(hour=0, minute=0),
        LEFT.replace(hour=23, minute=59, second=59),
        LEFT + timedelta(days=1),
    ]
    source_index = target_index("download", "2024-03")
    target = target_index("download", "2024-05")
    events = []
    for n, when in enumerate(days):
        for recid in (member, other, "purged-record"):
            key = ("data.csv", "archive.tar.gz", "notes", "IMG.PNG")[n]
            file = {
                "bucket_id": f"b-{recid}",
                "file_id": f"f{n}-{recid}",
                "file_key": key,
                "size": 10,
            }
            event_id, source = legacy_event("download", recid, when, f"s{n}", file=file)
            source.update(community_ids=["stale"], publisher="stale publisher")
            events.append(
                {
                    "_op_type": "index",
                    "_index": source_index,
                    "_id": event_id,
                    "_source": source,
                }
            )
    bulk_write(current_search_client, events, refresh=True)
    current_search_client.indices.create(index=target)

    enricher = EventEnricher(
        current_search_client, configured_fields(current_app.config)
    )
    full = all_events(source_index)
    hits = [{"_id": i, "_source": s} for i, s in sorted(full.items())]
    expected = dict(
        zip(full and sorted(full), enricher.rewritten_sources(hits), strict=True)
    )
    slim = [
        {"_id": i, "_source": {k: s.get(k) for k in enricher.event_fields_read()}}
        for i, s in sorted(full.items())
    ]
    params = server_copy.script_params(enricher, slim)
    assert len(params["records"]) == 3  # one record part per record
    ids = [hit["_id"] for hit in hits]
    assert (
        server_copy.reindex_events(
            current_search_client, source_index, target, ids, params
        )
        == []
    )
    stored = all_events(target)
    assert set(stored) == set(expected)
    for event_id, document in stored.items():
        assert document.pop("updated_timestamp") == params["now"]
        expected[event_id].pop("updated_timestamp")
        assert document == expected[event_id]
        if document["recid"] == "purged-record":
            assert document["publisher"] is None  # unknown record: null fields
        else:
            assert "publisher" not in document  # restricted metadata: stripped
        member_day = JOINED.date() <= parse_day(document) <= LEFT.date()
        assert document["community_ids"] == (
            [COMMUNITY] if document["recid"] == member and member_day else []
        )

    missing = server_copy.reindex_events(
        current_search_client,
        source_index,
        target,
        [*ids[:2], "no-such-event"],
        params,
    )
    assert [item["index"]["_id"] for item in missing] == ["no-such-event"]
    assert missing[0]["index"]["error"]["type"] == "not_found"


def parse_day(source):
    """UTC day of an event's ``timestamp``."""
    return datetime.fromisoformat(source["timestamp"]).date()
