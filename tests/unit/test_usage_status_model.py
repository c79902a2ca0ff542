"""The status data model and cleanup bookkeeping, without services (03 §6)."""

import pytest
from flask import Flask

from invenio_stats_dashboard.usage_events.migration.bookmarks import Bookmark
from invenio_stats_dashboard.usage_events.migration.cleanup import (
    DELETE_FAILED,
    DELETED,
    NOT_COMPLETED,
    VALIDATION_FAILED,
    WOULD_DELETE,
    CleanupItem,
    remove_backup_aliases,
    summarise,
)
from invenio_stats_dashboard.usage_events.migration.months import MonthIndices
from invenio_stats_dashboard.usage_events.migration.progress import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    INTERRUPTED,
    NOT_NEEDED,
    NOT_STARTED,
    PENDING_AGAIN,
    UNRECORDED,
    StatusReport,
    classify,
    index_counts,
    month_status,
)

PREFIX = "p-"
VIEW_ALIAS = "p-events-stats-record-view"


@pytest.fixture(autouse=True)
def app_context():
    app = Flask("status-model")
    app.config["SEARCH_INDEX_PREFIX"] = PREFIX
    with app.app_context():
        yield


def entry(bookmark=None, **state):
    month = MonthIndices("view", "2024-02", **state)
    month.bookmark = bookmark
    return month


def bookmark(**values):
    return Bookmark("view", "2024-02", **values)


def legacy(**state):
    """An old pre-installation index holding the read alias."""
    return {"source_exists": True, "source_aliases": {VIEW_ALIAS}, **state}


FINALISED = {"target_exists": True, "target_aliases": {VIEW_ALIAS}}


@pytest.mark.parametrize(
    ("month", "old_count", "state"),
    [
        (entry(**legacy()), 10, NOT_STARTED),
        (entry(**legacy(target_exists=True)), 10, NOT_STARTED),
        (entry(bookmark(processed_count=3), **legacy()), 10, IN_PROGRESS),
        (entry(bookmark(phase="failed", last_error="x"), **legacy()), 10, FAILED),
        (entry(bookmark(phase="switching"), target_exists=True), 0, INTERRUPTED),
        (
            entry(bookmark(phase="switching", last_error="x"), target_exists=True),
            0,
            FAILED,
        ),
        (
            entry(
                bookmark(completed=True, phase="completed", source_count=10),
                source_exists=True,
                **FINALISED,
            ),
            10,
            COMPLETED,
        ),
        (
            entry(
                bookmark(completed=True, phase="completed", source_count=10),
                source_exists=True,
                **FINALISED,
            ),
            12,
            PENDING_AGAIN,
        ),
        (
            entry(bookmark(completed=True, phase="completed"), **FINALISED),
            0,
            COMPLETED,
        ),
        (entry(source_exists=True, **FINALISED), 10, UNRECORDED),
        (entry(source_exists=True, source_enriched=True), 10, NOT_NEEDED),
        (entry(**FINALISED), 0, NOT_NEEDED),
    ],
)
def test_classify(month, old_count, state):
    assert classify(month, old_count) == state


def counts_of(month, old=0, target=0, backup=0):
    return {month.source: old, month.target: target, month.backup: backup}


def test_in_progress_counts_come_from_the_bookmark():
    month = entry(bookmark(processed_count=30), target_exists=True, **legacy())
    status = month_status(month, counts_of(month, old=120, target=29), "fp")
    assert (status.source_count, status.migrated_count, status.remaining_count) == (
        120,
        30,
        90,
    )
    assert status.percent == 25.0
    assert status.command.endswith("migrate -e view -m 2024-02")


def test_pending_again_and_unrecorded_counts():
    recorded = bookmark(
        completed=True,
        phase="completed",
        processed_count=50,
        source_count=50,
        enrichment_fingerprint="old",
    )
    month = entry(recorded, source_exists=True, **FINALISED)
    status = month_status(month, counts_of(month, old=53, target=50), "new")
    assert (status.state, status.migrated_count, status.remaining_count) == (
        PENDING_AGAIN,
        50,
        3,
    )
    assert status.stale is True
    month = entry(source_exists=True, **FINALISED)
    status = month_status(month, counts_of(month, old=40, target=38), "fp")
    assert (status.state, status.migrated_count, status.remaining_count) == (
        UNRECORDED,
        38,
        2,
    )


def test_progress_counts_shape():
    months = [
        month_status(entry(**legacy()), {"p-events-stats-record-view-2024-02": 7}, "f")
    ]
    report = StatusReport("now", "required", {}, None, months)
    counts = report.progress_counts()
    for key in (
        "view_old",
        "download_old",
        "view_migrated",
        "download_migrated",
        "view_remaining",
        "download_remaining",
        "old_indices",
        "migrations_in_progress",
        "migrations_old_deleted",
        "view_completed_migrations",
        "download_completed_migrations",
        "not_started",
    ):
        assert key in counts
    assert counts["view_old"] == counts["view_remaining"] == 7
    assert counts["not_started"] == [
        {
            "event_type": "view",
            "month": "2024-02",
            "index": "p-events-stats-record-view-2024-02",
            "count": 7,
        }
    ]


class FakeClient:
    """Just enough of a search client for the count search and alias removal."""

    def __init__(self, search=None, aliases=None, fail_update=False):
        self._search = search
        self._aliases = aliases or {}
        self.fail_update = fail_update
        self.counted = []
        self.updates = []
        self.indices = self

    def search(self, **kwargs):
        return self._search

    def count(self, index, **kwargs):
        self.counted.append(index)
        return {"count": 4}

    def get_alias(self, **kwargs):
        return self._aliases

    def update_aliases(self, body):
        if self.fail_update:
            raise RuntimeError("boom")
        self.updates.append(body)


def test_index_counts_uses_one_search_and_falls_back_when_not_exact():
    exact = FakeClient(
        {
            "_shards": {"failed": 0},
            "aggregations": {
                "per_index": {
                    "sum_other_doc_count": 0,
                    "buckets": [{"key": "a", "doc_count": 3}],
                }
            },
        }
    )
    assert index_counts(exact, ["view"], ["a", "b"]) == {"a": 3}
    assert exact.counted == []
    partial = FakeClient({"_shards": {"failed": 1}, "aggregations": {}})
    assert index_counts(partial, ["view"], ["a", "b"]) == {"a": 4, "b": 4}


def test_summary_counts_only_deleted_or_deletable():
    def item(result):
        return CleanupItem("view", "2024-01", "old", "i", "t", result=result)

    items = [item(DELETED), item(NOT_COMPLETED), item(VALIDATION_FAILED)]
    summary = summarise(items, dry_run=False)
    assert summary.line == "[SUMMARY] 1/3 indices deleted"
    assert summary.failed
    dry = summarise([item(WOULD_DELETE), item(NOT_COMPLETED)], dry_run=True)
    assert dry.line == "[SUMMARY] 1/2 indices would be deleted"
    assert not dry.failed
    assert summarise([item(DELETE_FAILED)], dry_run=False).failed


def test_remove_backup_aliases_reports_failures():
    name = "p-events-stats-record-view-2024-02-backup"
    aliases = {name: {"aliases": {VIEW_ALIAS: {}}}, "p-other": {"aliases": {}}}
    dry = FakeClient(aliases=aliases)
    [result] = remove_backup_aliases(dry, dry_run=True, event_types=("view",))
    assert (result.index, result.aliases, result.removed) == (name, [VIEW_ALIAS], False)
    assert dry.updates == []
    failing = FakeClient(aliases=aliases, fail_update=True)
    [result] = remove_backup_aliases(failing, dry_run=False, event_types=("view",))
    assert result.ok is False and "boom" in result.reason
