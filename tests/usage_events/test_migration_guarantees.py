"""Fault injection and concurrency: the migration loses and duplicates nothing (03 §4).

Each test builds a pre-installation instance (synthetic record versions, their
membership log with the completion marker, legacy monthly event indices behind the
read alias) and then migrates it while something goes wrong:

- in the test process, ``month_run.checkpoint`` is patched to act at the points of the
  guarantees table (03 §4.12): write late events, delete a target document, count
  through the read alias;
- in a real subprocess (a ``community-stats`` app built from a generated
  ``invenio.cfg`` on this session's services), the same hook SIGKILLs the process at
  a chosen point; the test then re-runs ``usage-events migrate`` normally.

Every expected id, count and checksum is computed from the events the test wrote.
"""

import json
import signal
import subprocess
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from helpers.community_event_log import uid
from helpers.legacy_events import (
    aliases_of,
    all_events,
    base_checksum,
    index_legacy_events,
    legacy_event,
    migratable_instance,
    read_alias_indices,
)
from helpers.processes import command_env, program_path, write_instance_config
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard import config as defaults
from invenio_stats_dashboard.cli import cli as stats_cli
from invenio_stats_dashboard.errors import TaskLockAcquisitionError
from invenio_stats_dashboard.locks import lock_key
from invenio_stats_dashboard.search_indices.bulk import bulk_write
from invenio_stats_dashboard.search_indices.paging import count
from invenio_stats_dashboard.services import event_reindexing
from invenio_stats_dashboard.timeutils import utc_now
from invenio_stats_dashboard.usage_events import indexing_state
from invenio_stats_dashboard.usage_events.event_mappings import (
    add_missing_properties,
    enrichment_properties,
)
from invenio_stats_dashboard.usage_events.fields import configured_fields
from invenio_stats_dashboard.usage_events.migration import (
    copier,
    health,
    month_run,
    server_copy,
    switch,
)
from invenio_stats_dashboard.usage_events.migration.bookmarks import BookmarkStore
from invenio_stats_dashboard.usage_events.migration.months import (
    MonthIndices,
    live_months,
)
from invenio_stats_dashboard.usage_events.names import (
    backup_index,
    month_index,
    read_alias,
    target_index,
)

COMMUNITY = "c0ffee00-0000-4000-8000-000000000002"
JOINED = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
LEFT = datetime(2024, 4, 5, 9, 0, tzinfo=UTC)
LEASE = 4
"""Seconds of the migration lock's lease in the killed subprocess."""
PAUSE_TIMEOUT = 5
"""``STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT`` of these tests."""
MIGRATION_LOCK = "community_stats_usage_migration"


# --------------------------------------------------------------------- fixtures


@pytest.fixture()
def instance(log, only_new_records, stats_dashboard):
    """Three synthetic versions; the first joins COMMUNITY on JOINED, leaves on LEFT."""
    return migratable_instance(
        "grt", datetime(2024, 1, 2, tzinfo=UTC), (COMMUNITY, JOINED, LEFT)
    )


def lock_config(lease):
    """``STATS_DASHBOARD_LOCK_CONFIG`` with a short migration lease."""
    settings = json.loads(json.dumps(defaults.STATS_DASHBOARD_LOCK_CONFIG))
    settings["usage_migration"]["lock_timeout"] = lease
    return settings


@pytest.fixture()
def fast(set_config, monkeypatch):
    """Short pause TTL, no health re-check or bulk retry delays; no flag left over."""
    set_config(STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT=PAUSE_TIMEOUT)
    # short re-checks, but long enough to ride out a red blip of the shared
    # cluster while another test session creates an index
    monkeypatch.setattr(health, "RETRY_DELAYS", (0.5, 1.0, 2.0))
    monkeypatch.setattr(copier, "BACKOFF", 0.0)
    yield
    state = indexing_state.redis_client()
    try:
        state.delete(
            indexing_state.state_key(current_config(), indexing_state.PAUSE_KEY)
        )
    finally:
        state.close()


@pytest.fixture()
def hooks(monkeypatch):
    """``hooks["after_swap"].append(fn)``: ``fn(n)`` runs at the n-th such checkpoint."""
    registry = defaultdict(list)
    calls = Counter()

    def checkpoint(name):
        calls[name] += 1
        for action in registry[name]:
            action(calls[name])

    monkeypatch.setattr(month_run, "checkpoint", checkpoint)
    registry["calls"] = calls
    return registry


def current_config():
    from flask import current_app

    return current_app.config


# ---------------------------------------------------------------------- helpers


def run_migrate(cli, *args):
    """``usage-events migrate --json …`` in the test app; ``(result, report)``."""
    if "--max-memory-percent" not in args:
        # a busy shared test host must not stop the run; the health test sets its own
        args = ("--max-memory-percent", "100", *args)
    result = cli(stats_cli, "usage-events", "migrate", "--json", *args)
    data = None
    if result.stdout.strip().startswith("{"):
        data = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    return result, data


def month_start(now=None):
    now = now or utc_now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def this_month():
    return utc_now().strftime("%Y-%m")


def previous_month():
    (month,) = live_months() - {this_month()}
    return month


def live_events(event_type, recids, n, tag, *, first=None, last=None):
    """``n`` events of the current month between ``first`` and ``last`` (≤ now)."""
    now = utc_now()
    first = first or month_start(now)
    last = last or now - timedelta(seconds=1)
    return [
        legacy_event(
            event_type,
            recids[i % len(recids)],
            first + (last - first) * (i / max(n, 1)),
            f"{tag}-{i}",
        )
        for i in range(n)
    ]


def old_events(event_type, recids, year, month, n, tag):
    """``n`` events spread over a past month (whole seconds, distinct visitors)."""
    return [
        legacy_event(
            event_type,
            recids[i % len(recids)],
            datetime(year, month, 1 + i % 27, i % 24, i % 60, (7 * i) % 60, tzinfo=UTC),
            f"{tag}-{i}",
        )
        for i in range(n)
    ]


def write_events(index, events, refresh=True):
    """Index ``[(id, source)]`` into ``index`` (a month name: index or alias)."""
    bulk_write(
        current_search_client,
        [
            {"_op_type": "index", "_index": index, "_id": i, "_source": s}
            for i, s in events
        ],
        refresh=refresh,
    )


def enriched_events(event_type):
    """``{id: source}`` of every ``-v2.0.0`` index of a type; an id twice fails."""
    return all_events(f"{prefix_index('events-stats-')}{_stats(event_type)}-*-v2.0.0")


def _stats(event_type):
    return {"view": "record-view", "download": "file-download"}[event_type]


def expected_communities(recid, source):
    """``community_ids`` the oracle gives: member of COMMUNITY on [JOINED, LEFT] days."""
    day = datetime.fromisoformat(source["timestamp"]).date()
    if recid.endswith("000000") and JOINED.date() <= day <= LEFT.date():
        return [COMMUNITY]
    return []


def assert_exactly_once(expected, *, originals=None):
    """Every expected event once in the enriched indices, unchanged; aliases v2 only.

    ``expected``: ``{event type: {id: source}}``; ``originals`` (same shape, default
    ``expected``) are the legacy events whose ``community_ids`` the oracle knows.
    """
    originals = expected if originals is None else originals
    for event_type, events in expected.items():
        stored = enriched_events(event_type)
        assert set(stored) == set(events), (
            f"{event_type}: missing {sorted(set(events) - set(stored))[:5]}, "
            f"extra {sorted(set(stored) - set(events))[:5]}"
        )
        for event_id, source in events.items():
            assert base_checksum(stored[event_id], event_type) == base_checksum(
                source, event_type
            ), event_id
        for event_id, source in originals.get(event_type, {}).items():
            assert stored[event_id]["community_ids"] == expected_communities(
                source["recid"], source
            ), event_id
        behind = read_alias_indices(event_type)
        assert behind, f"nothing behind the {event_type} read alias"
        assert all(name.endswith("-v2.0.0") for name in behind), behind
        assert set(all_events(read_alias(event_type))) == set(events)


def assert_not_paused():
    state = indexing_state.redis_client()
    try:
        assert not indexing_state.is_paused(state), "the pause flag is still set"
    finally:
        state.close()


def bookmark(event_type, month):
    return BookmarkStore(current_search_client).get(event_type, month)


def alias_count(event_type, query=None):
    """Documents visible through the read alias (refreshed first)."""
    current_search_client.indices.refresh(index=read_alias(event_type))
    return count(current_search_client, read_alias(event_type), query)


def sort_key(item):
    """The copy order: ``timestamp`` then ``_id`` (03 §4.7)."""
    event_id, source = item
    return source["timestamp"], event_id


# ------------------------------------------------------------------ health unit


class FakeClient:
    """Just enough of an OpenSearch client for :func:`health.check_health`."""

    def __init__(self, status="green", heaps=(("data", 40),), error=None):
        def cluster_health(**kwargs):
            if error:
                raise error
            return {"status": status}

        def node_stats(**kwargs):
            return {
                "nodes": {
                    f"n{i}": {
                        "roles": [role],
                        "jvm": {"mem": {"heap_used_percent": heap}},
                    }
                    for i, (role, heap) in enumerate(heaps)
                }
            }

        self.cluster = SimpleNamespace(health=cluster_health)
        self.nodes = SimpleNamespace(stats=node_stats)


@pytest.mark.parametrize(
    ("client", "memory", "healthy", "reason"),
    [
        (FakeClient(), 20.0, True, "OK"),
        (FakeClient(status="yellow"), 20.0, True, "OK"),
        (FakeClient(status="red"), 20.0, False, "Cluster status red"),
        (
            FakeClient(heaps=[("data", 91)]),
            20.0,
            False,
            "OpenSearch heap too high: 91%",
        ),
        (FakeClient(heaps=[("data", 50), ("cluster_manager", 99)]), 20.0, True, "OK"),
        (FakeClient(), 92.5, False, "Memory usage too high: 92.5%"),
        (
            FakeClient(error=ConnectionError("refused")),
            20.0,
            False,
            "OpenSearch not responsive: refused",
        ),
    ],
)
def test_check_health(client, memory, healthy, reason):
    """03 §4.8: red, heap and local memory above the threshold, unreachable."""
    result = health.check_health(client, 85, local_memory=lambda: memory)
    assert (result.is_healthy, result.reason) == (healthy, reason)
    if result.reason.startswith("OpenSearch not"):
        return
    assert result.memory_usage == memory
    assert result.cluster_status == client.cluster.health()["status"]
    assert result.opensearch_heap_percent is not None


def test_wait_until_healthy_rechecks_after_10_30_90_seconds():
    """03 §4.8: re-check after 10, 30 and 90 s; stop at the first healthy result."""
    bad = health.HealthCheckResult(False, "Cluster status red")
    good = health.HealthCheckResult(True, "OK")
    slept = []
    answers = iter([bad, bad, good])
    result = health.wait_until_healthy(lambda: next(answers), sleep=slept.append)
    assert result is good and slept == [10, 30]
    slept.clear()
    checks = []

    def always_bad():
        checks.append(1)
        return bad

    assert health.wait_until_healthy(always_bad, sleep=slept.append) is bad
    assert slept == [10, 30, 90] and len(checks) == 4


def test_check_health_on_the_real_cluster(running_app):
    """The real cluster: status, heap and memory read; 100% never trips, 1% does."""
    ok = health.check_health(current_search_client, 100)
    assert ok.is_healthy and ok.reason == "OK"
    assert ok.cluster_status in ("green", "yellow")
    assert 0 < ok.opensearch_heap_percent <= 100
    assert 0 < ok.memory_usage <= 100
    tight = health.check_health(current_search_client, 1)
    assert not tight.is_healthy
    assert tight.reason.startswith(
        ("OpenSearch heap too high", "Memory usage too high")
    )


# ------------------------------------------------- in-process fault injection


def test_health_failure_after_batch_2_interrupts_at_the_cursor(
    cli, instance, fast, monkeypatch
):
    """Must-not-repeat: threshold 1% after batch 2 → interrupted at batch 2, exit 1."""
    february = old_events("view", instance, 2024, 2, 55, "hf")
    march = old_events("view", instance, 2024, 3, 12, "hm")
    index_legacy_events("view", february + march)
    healthy, lowered = [], []
    real = health.check_health

    def lowered_after_batch_2(client, max_memory_percent, **kwargs):
        # healthy checks 1-3: precondition, before batch 1, before batch 2; then 1 %
        if len(healthy) < 3:
            result = real(client, max_memory_percent, **kwargs)
            if result.is_healthy:
                healthy.append(result)
            return result
        lowered.append(max_memory_percent)
        return real(client, 1, **kwargs)

    monkeypatch.setattr(event_reindexing, "check_health", lowered_after_batch_2)
    result, data = run_migrate(cli, "-e", "view", "--batch-size", "10")
    assert result.exit_code == 1, result.output
    month = data["event_types"]["view"]["months"]["2024-02"]
    assert month["status"] == "interrupted"
    assert month["batches_succeeded"] == 2 and month["migrated_total"] == 20
    assert data["health_issues"] and data["health_issues"][0].startswith(
        ("OpenSearch heap too high", "Memory usage too high", "Cluster status red")
    )
    assert "2024-03" not in data["event_types"]["view"]["months"]
    assert len(lowered) == 4  # the failing check and its three re-checks

    saved = bookmark("view", "2024-02")
    ordered = sorted(february, key=sort_key)
    assert saved.processed_count == 20 and not saved.completed
    assert saved.last_event_id == ordered[19][0]
    assert saved.phase == "copying"
    # nothing else changed: old index behind the alias, target unaliased
    assert read_alias_indices("view") == {
        month_index("view", "2024-02"),
        month_index("view", "2024-03"),
    }
    assert alias_count("view") == len(february) + len(march)
    assert not current_search_client.indices.exists(
        index=target_index("view", "2024-03")
    )
    assert bookmark("view", "2024-03") is None

    monkeypatch.setattr(event_reindexing, "check_health", real)
    reads = []
    real_read = copier.BatchCopier.read_batch

    def counted_read(self, source, cursor):
        hits = real_read(self, source, cursor)
        reads.append((source, cursor, len(hits)))
        return hits

    monkeypatch.setattr(copier.BatchCopier, "read_batch", counted_read)
    again, data = run_migrate(cli, "-e", "view", "--batch-size", "10")
    assert again.exit_code == 0, again.output
    assert data["event_types"]["view"]["months"]["2024-02"]["processed"] == 35
    first_read = next(r for r in reads if r[0] == month_index("view", "2024-02"))
    assert first_read[1] is not None  # resumed at the cursor, not the first event
    assert_exactly_once({"view": dict(february + march)})


def test_first_batch_bulk_failure_with_delete_old_indices(
    cli, instance, fast, monkeypatch
):
    """Must-not-repeat: bulk failure in batch 1 → old index intact, alias unchanged."""
    february = old_events("view", instance, 2024, 2, 30, "bf")
    march = old_events("view", instance, 2024, 3, 30, "bm")
    index_legacy_events("view", february + march)
    failing = target_index("view", "2024-02")
    real_window, real_write = server_copy.reindex_window, server_copy.reindex_events
    calls = []

    def injected(ids):
        calls.append(len(ids))
        return [
            {
                "index": {
                    "_id": event_id,
                    "status": 500,
                    "error": {"type": "injected", "reason": "injected"},
                }
            }
            for event_id in ids
        ]

    def failing_window(client, source, target, query, params):
        if target == failing and not calls:
            hits = client.search(index=source, body={"query": query, "size": 100})
            return 0, injected([hit["_id"] for hit in hits["hits"]["hits"]])
        return real_window(client, source, target, query, params)

    def failing_retries(client, source, target, ids, params):
        if target == failing and len(calls) < 4:
            return injected(ids)
        return real_write(client, source, target, ids, params)

    monkeypatch.setattr(server_copy, "reindex_window", failing_window)
    monkeypatch.setattr(server_copy, "reindex_events", failing_retries)
    result, data = run_migrate(
        cli, "-e", "view", "--batch-size", "10", "--delete-old-indices"
    )
    assert result.exit_code == 1, result.output
    # the first window's events: first try and three retries of the failed ids
    assert len(calls) == 4 and len(set(calls)) == 1 and 0 < calls[0] <= 10
    months = data["event_types"]["view"]["months"]
    assert months["2024-02"]["status"] == "failed"
    assert len(months["2024-02"]["validation_errors"]) == calls[0]
    assert months["2024-03"]["status"] == "completed"
    assert data["error"] == "Migration failed for months: view-2024-02"

    old = month_index("view", "2024-02")
    assert current_search_client.indices.exists(index=old)
    assert count(current_search_client, old) == len(february)
    assert read_alias("view") in aliases_of(old)
    assert read_alias("view") not in aliases_of(failing)
    saved = bookmark("view", "2024-02")
    assert saved.phase == "failed" and saved.processed_count == 0
    assert saved.last_event_id is None and saved.last_error
    assert not current_search_client.indices.exists(
        index=month_index("view", "2024-03")
    )
    assert set(all_events(read_alias("view"))) == {i for i, _ in february + march}

    monkeypatch.setattr(server_copy, "reindex_window", real_window)
    monkeypatch.setattr(server_copy, "reindex_events", real_write)
    again, data = run_migrate(
        cli, "-e", "view", "--batch-size", "10", "--delete-old-indices"
    )
    assert again.exit_code == 0, again.output
    assert not current_search_client.indices.exists(index=old)
    assert_exactly_once({"view": dict(february + march)})


def test_read_alias_never_covers_old_index_and_partial_target(cli, instance, hooks):
    """Must-not-repeat: count through the alias = old count exactly, mid-migration.

    A partial target left by the original package holds the read alias and 20
    events: the run takes the alias off it before copying anything.
    """
    events = old_events("view", instance, 2024, 3, 50, "pa")
    index_legacy_events("view", events)
    target = target_index("view", "2024-03")
    current_search_client.indices.create(index=target)  # the v2 template: read alias
    assert read_alias("view") in aliases_of(target)
    write_events(target, [(i, {**s, "community_ids": []}) for i, s in events[:20]])
    assert alias_count("view") == 70  # the original package's double count

    seen = []

    def count_through_alias(n):
        current_search_client.indices.refresh(index=target)
        seen.append((count(current_search_client, target), alias_count("view")))

    hooks["before_bookmark"].append(count_through_alias)
    first, data = run_migrate(cli, "-e", "view", "--batch-size", "10", "-b", "2")
    assert first.exit_code == 0, first.output
    assert data["completed"] is False
    assert read_alias("view") not in aliases_of(target)
    assert alias_count("view") == 50
    second, data = run_migrate(cli, "-e", "view", "--batch-size", "10")
    assert second.exit_code == 0 and data["completed"], second.output
    assert len(seen) == 5
    assert all(alias == 50 for _, alias in seen), seen
    assert seen[-1][0] == 50  # the unaliased target really filled up meanwhile
    assert alias_count("view") == 50
    assert read_alias_indices("view") == {target}
    assert_exactly_once({"view": dict(events)})


def test_late_events_backup_top_up_and_recovery(cli, instance, fast, hooks):
    """Must-not-repeat: late old-timestamp events and a lost target doc all end up once.

    50 events with old timestamps arrive in the old index during the copy (behind
    the cursor), 20 more after the backup (before the pause, enriched by the live
    indexer, which first maps its fields on the old index), 20 through the month
    name after the swap; one copied event is deleted from the target before recovery.
    """
    month = this_month()
    start = month_start()
    originals = live_events(
        "view", instance, 60, "orig", first=start + (utc_now() - start) / 2
    )
    index_legacy_events("view", originals)
    old, target = month_index("view", month), target_index("view", month)
    early = start + timedelta(seconds=1)
    during_copy = live_events(
        "view",
        instance,
        50,
        "late-copy",
        first=early,
        last=early + timedelta(minutes=5),
    )
    after_backup = live_events(
        "view",
        instance,
        20,
        "late-backup",
        first=early,
        last=early + timedelta(minutes=5),
    )
    after_swap = live_events(
        "view",
        instance,
        20,
        "late-swap",
        first=early,
        last=early + timedelta(minutes=5),
    )
    removed = sorted(originals, key=sort_key)[0][0]

    def at_copy(n):
        if n == 1:
            write_events(old, during_copy)

    def at_backup(n):
        # the live indexer maps the enrichment fields on the old index the first
        # time it writes an enriched event there, possibly after the backup
        add_missing_properties(
            current_search_client,
            old,
            enrichment_properties("record-view", configured_fields(current_config())),
        )
        write_events(old, [(i, {**s, "community_ids": []}) for i, s in after_backup])
        assert count(current_search_client, backup_index("view", month)) == 110

    def at_swap(n):
        assert set(aliases_of(target)) == {old, read_alias("view")}
        write_events(old, after_swap)  # the month name is now the target's alias
        current_search_client.delete(index=target, id=removed, refresh=True)

    hooks["before_bookmark"].append(at_copy)
    hooks["after_backup"].append(at_backup)
    hooks["after_swap"].append(at_swap)
    result, data = run_migrate(cli, "-e", "view", "--batch-size", "10")
    assert result.exit_code == 0, result.output
    report = data["event_types"]["view"]["months"][month]
    assert report["status"] == "completed", report
    assert hooks["calls"]["after_swap"] == 1
    everything = dict(originals + during_copy + after_backup + after_swap)
    assert len(everything) == 150
    assert_exactly_once({"view": everything}, originals={"view": dict(originals)})
    backup_ids = set(all_events(backup_index("view", month)))
    assert backup_ids == set(dict(originals + during_copy + after_backup))
    assert backup_ids <= set(all_events(target))
    assert aliases_of(target) == {old, read_alias("view")}
    assert_not_paused()


def test_pause_is_renewed_while_the_switch_works(
    cli, instance, fast, hooks, set_config
):
    """03 §4.6 step 3: a heartbeat renews the pause; a slow switch still completes.

    With a 1 s TTL and 2.5 s spent under the pause, an unrenewed flag would expire
    and the month would be interrupted.
    """
    set_config(STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT=1)
    month = this_month()
    events = live_events("view", instance, 20, "hb")
    index_legacy_events("view", events)
    flags = []

    def slow(n):
        time.sleep(2.5)
        state = indexing_state.redis_client()
        flags.append(indexing_state.is_paused(state))
        state.close()

    hooks["paused"].append(slow)
    result, data = run_migrate(cli, "-e", "view", "--batch-size", "10")
    assert result.exit_code == 0, result.output
    assert data["event_types"]["view"]["months"][month]["status"] == "completed"
    assert flags == [True]
    assert_exactly_once({"view": dict(events)})
    assert_not_paused()


def test_validation_looks_up_every_id(
    running_app, clear_stats_indices, stats_dashboard
):
    """03 §4.9: one backup id missing and one live event extra (equal counts) fails."""
    from flask import current_app

    from invenio_stats_dashboard.usage_events.enricher import EventEnricher
    from invenio_stats_dashboard.usage_events.fields import configured_fields
    from invenio_stats_dashboard.usage_events.migration.verification import (
        validate_month,
    )

    stats_dashboard.ensure_search_setup(force=True)
    events = old_events("view", ["r1", "r2"], 2024, 6, 6, "val")
    index_legacy_events("view", events)
    source, target = month_index("view", "2024-06"), target_index("view", "2024-06")
    current_search_client.indices.create(index=target)
    extra = legacy_event("view", "r1", "2024-06-20T10:00:00", "live-extra")
    write_events(target, events[1:] + [extra])
    enricher = EventEnricher(
        current_search_client, configured_fields(current_app.config)
    )
    validation = validate_month(
        current_search_client,
        source=source,
        target=target,
        expected=len(events),
        enricher=enricher,
        sample_size=0,
    )
    assert count(current_search_client, source) == count(current_search_client, target)
    assert not validation.success
    assert validation.errors == [f"1 events of {source} are missing in {target}"]


class ProtocolWriter(threading.Thread):
    """Index one event every 10 ms into a month name, as the events indexer does.

    Each run holds the indexing lock and writes until the pause flag is set; events
    made while paused stay queued and are written by a later run (03 §3.3, §4.6).
    """

    def __init__(self, app, event_type, recids, *, interval=0.01, burst=10):
        super().__init__(daemon=True)
        self.app = app
        self.event_type = event_type
        self.recids = recids
        self.interval = interval
        self.burst = burst
        self.queue = []
        self.written = {}
        self.paused_runs = 0
        self.errors = []
        self.done = threading.Event()

    def next_event(self, n):
        return legacy_event(
            self.event_type,
            self.recids[n % len(self.recids)],
            utc_now() - timedelta(seconds=1),
            f"w{uid()[:8]}-{n}",
        )

    def run(self):
        n = 0
        with self.app.app_context():
            state = indexing_state.redis_client()
            try:
                while True:
                    stopping = self.done.is_set()
                    lock = indexing_state.indexing_lock(state)
                    try:
                        lock.acquire()
                    except TaskLockAcquisitionError:
                        time.sleep(self.interval)
                        continue
                    try:
                        for _ in range(self.burst):
                            if not stopping:
                                n += 1
                                self.queue.append(self.next_event(n))
                            if indexing_state.is_paused(state):
                                self.paused_runs += 1
                                break
                            while self.queue:
                                event_id, source = self.queue[0]
                                name = month_index(
                                    self.event_type, source["timestamp"][:7]
                                )
                                current_search_client.index(
                                    index=name, id=event_id, body=source
                                )
                                self.written[event_id] = source
                                self.queue.pop(0)
                            time.sleep(self.interval)
                    except Exception as error:  # reported by the test
                        self.errors.append(repr(error))
                    finally:
                        lock.release()
                    if stopping and not self.queue:
                        return
                    time.sleep(self.interval)
            finally:
                state.close()

    def finish(self):
        self.done.set()
        self.join(timeout=60)
        assert not self.is_alive()


class AliasReader(threading.Thread):
    """Count the original events through the read alias until stopped."""

    def __init__(self, app, event_type, tag, expected):
        super().__init__(daemon=True)
        self.app = app
        self.alias = read_alias(event_type)
        self.query = {"prefix": {"visitor_id": tag}}
        self.expected = expected
        self.counts = Counter()
        self.wrong = []
        self.failures = []
        """(time, error) of requests that failed (the swap deletes the old index)."""
        self.done = threading.Event()

    def run(self):
        with self.app.app_context():
            while not self.done.is_set():
                try:
                    response = current_search_client.count(
                        index=self.alias, body={"query": self.query}
                    )
                except Exception as error:
                    self.failures.append((time.monotonic(), repr(error)[:300]))
                    continue
                if response["_shards"]["failed"]:
                    self.counts["shard_failures"] += 1
                    continue
                self.counts["reads"] += 1
                if response["count"] != self.expected:
                    self.wrong.append(response["count"])
                time.sleep(0.005)

    def finish(self):
        self.done.set()
        self.join(timeout=30)


def test_writer_every_10ms_during_the_switch_loses_nothing(
    cli, base_app, instance, fast, hooks
):
    """Must-not-repeat: single ``_aliases`` requests; a 10 ms writer loses 0 events.

    The writer honours the pause and the indexing lock like the events indexer; a
    reader counts the original events through the read alias the whole time: it
    must always see each exactly once.
    """
    month = this_month()
    originals = live_events("view", instance, 80, "orig")
    index_legacy_events("view", originals)
    writer = ProtocolWriter(base_app, "view", instance)
    reader = AliasReader(base_app, "view", "orig", len(originals))
    swap = {}
    hooks["paused"].append(lambda n: time.sleep(0.3))  # the writer meets the pause
    hooks["before_swap"].append(lambda n: swap.setdefault("start", time.monotonic()))
    hooks["after_swap"].append(lambda n: swap.setdefault("end", time.monotonic()))
    writer.start()
    reader.start()
    try:
        time.sleep(0.5)
        result, data = run_migrate(cli, "-e", "view", "--batch-size", "10")
        time.sleep(0.5)
    finally:
        writer.finish()
        reader.finish()
    assert result.exit_code == 0, result.output
    assert data["event_types"]["view"]["months"][month]["status"] == "completed"
    assert not writer.errors, writer.errors
    assert writer.paused_runs >= 1  # the writer really waited for the switch
    assert len(writer.written) > 50
    assert reader.counts["reads"] > 20 and not reader.wrong, (
        reader.counts,
        reader.wrong[:5],
    )
    # A search that resolved the alias to the old index while the swap request
    # deletes it fails (503, all shards failed); it never returns a wrong count,
    # and it happens only during that one request.
    assert all(swap["start"] <= t <= swap["end"] + 1 for t, _ in reader.failures), (
        swap,
        reader.failures[:3],
    )
    everything = dict(originals) | writer.written
    assert_exactly_once({"view": everything}, originals={"view": dict(originals)})
    assert aliases_of(target_index("view", month)) == {
        month_index("view", month),
        read_alias("view"),
    }
    assert_not_paused()


def test_several_months_while_live_events_keep_arriving(
    cli, base_app, instance, fast, hooks
):
    """Acceptance: two old and both live months, both types, events arriving all along.

    Live views go through invenio-stats' real pipeline (queue, ``process_events``,
    ``EnrichedEventsIndexer``) every 10 ms, for the current month and late for the
    previous one; live downloads through the protocol writer. Late events with old
    timestamps land in the old indices during the copy.
    """
    from helpers.usage_events import (
        anonymization_salt,
        build_view_event,
        expected_event_id,
        expected_unique_id,
        expected_visitor_id,
        process_usage_events,
        publish_events,
    )

    current, previous = this_month(), previous_month()
    py, pm = int(previous[:4]), int(previous[5:])
    legacy = {}
    for event_type in ("view", "download"):
        events = (
            old_events(event_type, instance, 2024, 3, 40, f"o3{event_type}")
            + old_events(event_type, instance, 2024, 4, 40, f"o4{event_type}")
            + old_events(event_type, instance, py, pm, 40, f"op{event_type}")
            + live_events(event_type, instance, 40, f"oc{event_type}")
        )
        index_legacy_events(event_type, events)
        legacy[event_type] = dict(events)
    late = {
        "view": old_events("view", instance, 2024, 4, 15, "late4")
        + old_events("view", instance, py, pm, 15, "latep"),
    }

    def late_writes(n):
        if n == 1:
            for event_id, source in late["view"]:
                write_events(
                    month_index("view", source["timestamp"][:7]), [(event_id, source)]
                )

    hooks["before_bookmark"].append(late_writes)

    published = {}
    stop = threading.Event()
    problems = []

    def pipeline():
        n = 0
        with base_app.app_context():
            while not stop.is_set():
                try:
                    n += 1
                    when = utc_now().replace(microsecond=0) - timedelta(seconds=1)
                    if n % 5 == 0:
                        when = datetime(py, pm, 27, n % 24, 0, 0, tzinfo=UTC)
                    record = {
                        "id": instance[n % 3],
                        "parent": {"id": f"{instance[n % 3]}-parent"},
                    }
                    user = f"live-{uid()[:6]}-{n}"
                    event = build_view_event(record, when, user_id=user)
                    publish_events("record-view", [event])
                    salt = anonymization_salt(when)
                    visitor = expected_visitor_id(salt, when, user_id=user)
                    published[
                        expected_event_id(when, expected_unique_id(event), visitor)
                    ] = event
                    if n % 10 == 0:
                        process_usage_events(["record-view"])
                except Exception as error:
                    problems.append(repr(error))
                time.sleep(0.01)

    feeder = threading.Thread(target=pipeline, daemon=True)
    downloads = ProtocolWriter(base_app, "download", instance)
    feeder.start()
    downloads.start()
    try:
        time.sleep(0.5)
        result, data = run_migrate(cli, "--batch-size", "10", "--delete-old-indices")
        time.sleep(0.5)
    finally:
        stop.set()
        feeder.join(timeout=60)
        downloads.finish()
    assert result.exit_code == 0, result.output
    assert data["completed"] is True, data
    assert not problems, problems[:3]
    assert not downloads.errors, downloads.errors
    with base_app.app_context():
        process_usage_events(["record-view"])  # what was still queued
    assert len(published) > 50 and len(downloads.written) > 50

    views = legacy["view"] | dict(late["view"])
    stored_views = enriched_events("view")
    live_ids = set(published)
    assert live_ids <= set(stored_views), sorted(live_ids - set(stored_views))[:5]
    expected = {
        "view": views | {i: stored_views[i] for i in live_ids},
        "download": legacy["download"] | downloads.written,
    }
    assert_exactly_once(
        expected, originals={"view": legacy["view"], "download": legacy["download"]}
    )
    for event_type in ("view", "download"):
        for month in ("2024-03", "2024-04", previous, current):
            assert not current_search_client.indices.exists(
                index=backup_index(event_type, month)
            )
        for month in (previous, current):
            assert aliases_of(target_index(event_type, month)) == {
                month_index(event_type, month),
                read_alias(event_type),
            }
    assert_not_paused()


# --------------------------------------------------------- SIGKILL at checkpoints

KILL_SCRIPT = """
import os, signal, sys

point, nth = sys.argv[1], int(sys.argv[2])
seen = []


def kill_at(name):
    if name == point:
        seen.append(name)
        if len(seen) == nth:
            print(f"killed at {name} #{nth}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)


from invenio_stats_dashboard.usage_events.migration import month_run, switch

if point == "backup_task":
    # a slow server-side backup, killed while the run waits for it
    from opensearchpy import OpenSearch

    real_reindex, real_wait = OpenSearch.reindex, switch.wait_for_task

    def slow_reindex(self, body=None, *args, **kwargs):
        body["source"]["size"] = 5
        kwargs["requests_per_second"] = 2
        return real_reindex(self, body, *args, **kwargs)

    def wait_for_task(client, task_id):
        kill_at("backup_task")
        return real_wait(client, task_id)

    OpenSearch.reindex = slow_reindex
    switch.wait_for_task = wait_for_task
else:
    month_run.checkpoint = kill_at

from invenio_stats_dashboard.cli import main

sys.argv = ["community-stats", "usage-events", "migrate", *sys.argv[3:]]
main()
"""


def run_killed_migration(tmp_path, app_config, point, nth, *args):
    """``usage-events migrate *args`` in a subprocess that SIGKILLs itself at a point."""
    instance = tmp_path / "instance"
    write_instance_config(
        instance,
        app_config,
        COMMUNITY_STATS_ENABLED=True,
        STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT=PAUSE_TIMEOUT,
        STATS_DASHBOARD_LOCK_CONFIG=lock_config(LEASE),
    )
    script = tmp_path / "killed_migration.py"
    script.write_text(KILL_SCRIPT)
    return subprocess.run(
        [program_path("python"), str(script), point, str(nth), *args],
        env=command_env(instance),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def migration_lock_key(app):
    return lock_key(app.config["STATS_CACHE_PREFIX"], MIGRATION_LOCK)


KILL_POINTS = [
    pytest.param("before_bookmark", 2, id="old-month-during-copy"),
    pytest.param("before_alias_move", 1, id="old-month-after-copy"),
    pytest.param("after_alias_move", 1, id="old-month-before-delete"),
    pytest.param("backup_task", 1, id="current-month-during-backup"),
    pytest.param("paused", 1, id="current-month-while-paused"),
    pytest.param("before_swap", 1, id="current-month-switching-before-swap"),
    pytest.param("after_swap", 1, id="current-month-after-swap"),
]


@pytest.mark.subprocess
@pytest.mark.parametrize(("point", "nth"), KILL_POINTS)
def test_sigkill_then_rerun_keeps_every_event_once(
    cli, base_app, app_config, instance, fast, tmp_path, point, nth
):
    """03 test 6 / §4.12: kill at a point, re-run: every event once, aliases v2 only.

    Also the lock (a second ``migrate`` while the dead run's lease lasts → exit 1; it
    frees within the lease) and the pause flag (gone after the re-run).
    """
    current = this_month()
    events = old_events("view", instance, 2024, 3, 40, "k3") + live_events(
        "view", instance, 40, "kc"
    )
    index_legacy_events("view", events)
    expected = dict(events)
    args = ("-e", "view", "--batch-size", "10", "--delete-old-indices")
    args += ("--max-memory-percent", "100")

    killed = run_killed_migration(tmp_path, app_config, point, nth, *args)
    killed_at = time.monotonic()
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert f"killed at {point}" in killed.stderr

    # the invariant holds at the kill: each event visible once through the alias
    assert set(all_events(read_alias("view"))) == set(expected)
    if point == "paused":
        state = indexing_state.redis_client()
        assert indexing_state.is_paused(state)  # expires with its TTL
        state.close()

    # events keep arriving while the migration is dead
    late = []
    for month, tag in (("2024-03", "dead3"), (current, "deadc")):
        name = month_index("view", month)
        if not current_search_client.indices.exists(index=name):
            continue  # the old month was already finalised and deleted
        when = datetime(2024, 3, 2, tzinfo=UTC) if month == "2024-03" else month_start()
        late.append(legacy_event("view", instance[0], when + timedelta(seconds=5), tag))
        write_events(name, late[-1:])
    expected |= dict(late)

    # the dead run still holds the lock: a second migrate is refused
    redis_state = indexing_state.redis_client()
    key = migration_lock_key(base_app)
    assert redis_state.exists(key)
    refused, _ = run_migrate(cli, *args)
    assert refused.exit_code == 1
    assert "another migration is running" in refused.output
    while redis_state.exists(key):
        assert time.monotonic() - killed_at <= LEASE + 1, "the lock never expired"
        time.sleep(0.1)
    redis_state.close()

    rerun, data = run_migrate(cli, *args)
    assert rerun.exit_code == 0, rerun.output
    assert data["completed"] is True, data
    assert_exactly_once({"view": expected}, originals={"view": dict(events)})
    for month in ("2024-03", current):
        saved = bookmark("view", month)
        assert saved.completed and saved.phase == "completed"
        # a re-copied batch is not counted twice
        assert saved.processed_count == saved.source_count, saved
        assert not current_search_client.indices.exists(
            index=backup_index("view", month)
        )
    assert not current_search_client.indices.exists(
        index=month_index("view", "2024-03")
    )
    assert aliases_of(target_index("view", current)) == {
        month_index("view", current),
        read_alias("view"),
    }
    assert not switch.backup_tasks(current_search_client, MonthIndices("view", current))
    assert_not_paused()
