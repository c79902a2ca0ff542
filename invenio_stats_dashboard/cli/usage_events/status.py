"""``usage-events status`` (06 §7.2, behaviour: 03 §6).

Read-only: it creates no index and reads no event. Counts are exact count queries
(one search for every index) and the bookmarks' ``processed_count``.
"""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from invenio_search.proxies import current_search_client

from ...usage_events.migration.progress import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    INTERRUPTED,
    NOT_NEEDED,
    NOT_STARTED,
    PENDING_AGAIN,
    PROGRAM,
    UNRECORDED,
    MonthStatus,
    SearchUnavailableError,
    StatusReport,
    build_status,
)
from ...usage_events.names import EVENT_TYPES
from ..output import fail, number
from . import usage_events

GROUP_TITLES = {
    NOT_STARTED: "Not started",
    IN_PROGRESS: "In progress",
    INTERRUPTED: "Interrupted during the switch",
    FAILED: "Failed",
    COMPLETED: "Completed",
    PENDING_AGAIN: "Pending again (late events in a kept old index)",
    UNRECORDED: "Finalised, not recorded",
    NOT_NEEDED: "Nothing to migrate",
}
INCOMPLETE = (IN_PROGRESS, INTERRUPTED, FAILED, PENDING_AGAIN, UNRECORDED)


@usage_events.command("status")
@click.option(
    "--show-bookmarks", is_flag=True, help="List the migration bookmarks (cursor)."
)
@click.option(
    "--show-indices",
    is_flag=True,
    help="List every month as old index -> target with counts.",
)
@click.option(
    "--show-incomplete",
    is_flag=True,
    help="List the unfinished months with their resume command.",
)
@click.option(
    "--show-completed",
    is_flag=True,
    help="List the completed months and whether the old index was kept.",
)
@click.option(
    "--show-not-started",
    is_flag=True,
    help="List the months not started yet (including those with no target).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@with_appcontext
def status(
    show_bookmarks,
    show_indices,
    show_incomplete,
    show_completed,
    show_not_started,
    as_json,
):
    """Show the migration of view and download events, month by month."""
    try:
        report = build_status(current_search_client, current_app.config)
    except SearchUnavailableError as error:
        if as_json:
            click.echo(json.dumps({"health": error.health}, indent=2))
        else:
            click.echo(f"Health: {error}")
        fail(f"failed: OpenSearch is unreachable: {error}")
    except Exception as error:
        fail(f"failed: reading the migration state failed: {error}")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    print_status(
        report,
        bookmarks=show_bookmarks,
        indices=show_indices,
        incomplete=show_incomplete,
        completed=show_completed,
        not_started=show_not_started,
    )


# ------------------------------------------------------------------------ output


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:g}%"


def _health_line(health: dict) -> str:
    return (
        f"Health: {'healthy' if health['is_healthy'] else 'UNHEALTHY'} "
        f"({health['reason']}); cluster {health.get('cluster_status') or 'unknown'}; "
        f"OpenSearch heap {_percent(health.get('opensearch_heap_percent'))}; "
        f"local memory {_percent(health.get('memory_usage'))}"
    )


def _lock_line(lock: dict | None) -> str:
    if lock is None:
        return "Migration lock: free"
    if lock.get("held") is None:
        return f"Migration lock: unknown ({lock.get('error')})"
    return f"Migration lock: held by {lock['host']}:{lock['pid']} since {lock['since']}"


def _month_detail(month: MonthStatus) -> str:
    label = f"    {month.event_type:8} {month.month}"
    copied = (
        f"{number(month.migrated_count)}/{number(month.source_count)} copied "
        f"({_percent(month.percent)}), {number(month.remaining_count)} remaining"
    )
    if month.state == NOT_STARTED:
        target = "partial target exists" if month.target_exists else "no target yet"
        return (
            f"{label}: {month.source_index} (events: {number(month.old_count)}), "
            f"{target}; migrate: {month.command}"
        )
    if month.state == IN_PROGRESS:
        return f"{label}: {copied}; resume: {month.command}"
    if month.state == INTERRUPTED:
        return (
            f"{label}: stopped during the switch, {copied}; the next run recovers "
            f"it from {month.backup_index}; resume: {month.command}"
        )
    if month.state == FAILED:
        return (
            f"{label}: last error: {month.last_error or 'unknown'}; "
            f"retry: {month.command}"
        )
    if month.state == PENDING_AGAIN:
        return (
            f"{label}: {number(month.remaining_count)} late events in "
            f"{month.source_index}; top up: {month.command}"
        )
    if month.state == UNRECORDED:
        return (
            f"{label}: target {month.target_index} holds the read alias; "
            f"verify and record: {month.command}"
        )
    if month.state == COMPLETED:
        stale = "; enrichment stale (re-enrich)" if month.stale else ""
        return (
            f"{label}: {number(month.migrated_count)} events in "
            f"{month.target_index}; old index {month.old_index}{stale}"
        )
    return (
        f"{label}: {month.target_index if month.target_exists else month.source_index}"
    )


def _indices_line(month: MonthStatus) -> str:
    source = (
        f"{month.source_index} ({number(month.old_count)})"
        if month.source_exists
        else f"{month.source_index} ({month.old_index})"
    )
    target = (
        f"{month.target_index} ({number(month.target_count)})"
        if month.target_exists
        else f"{month.target_index} (none)"
    )
    backup = (
        f"; backup {month.backup_index} ({number(month.backup_count)})"
        if month.backup_exists
        else ""
    )
    return f"    {source} -> {target}{backup} [{month.state}]"


def _bookmark_line(month: MonthStatus) -> str | None:
    bookmark = month.bookmark
    if bookmark is None:
        return None
    return (
        f"    {bookmark['task_id']}: phase {bookmark.get('phase')}; processed "
        f"{number(bookmark.get('processed_count') or 0)}; last id "
        f"{bookmark.get('last_event_id') or '-'} at "
        f"{bookmark.get('last_event_timestamp') or '-'}; updated "
        f"{bookmark.get('updated_timestamp') or '-'}"
    )


def print_status(
    report: StatusReport,
    *,
    bookmarks: bool = False,
    indices: bool = False,
    incomplete: bool = False,
    completed: bool = False,
    not_started: bool = False,
) -> None:
    """Print the sections of 06 §7.2 (details only with their flags)."""
    click.echo(f"Usage events migration: {report.state}")
    click.echo(_health_line(report.health))
    click.echo(_lock_line(report.lock))
    click.echo("Totals (events):")
    for event_type, totals in report.totals().items():
        click.echo(
            f"  {event_type:8} old {number(totals['old'])}; migrated "
            f"{number(totals['migrated'])}; remaining {number(totals['remaining'])}"
        )
    click.echo("Months:")
    shown = {
        NOT_STARTED: not_started,
        COMPLETED: completed,
        FAILED: True,
        **{state: incomplete for state in INCOMPLETE if state != FAILED},
    }
    hints = {
        NOT_STARTED: "--show-not-started",
        COMPLETED: "--show-completed",
        **{state: "--show-incomplete" for state in INCOMPLETE},
    }
    for state, title in GROUP_TITLES.items():
        months = report.group(state)
        if not months and state == NOT_NEEDED:
            continue
        line = f"  {title}: {len(months)}"
        if months and not shown.get(state) and state in hints:
            line += f" (use {hints[state]} to list them)"
        click.echo(line)
        if months and shown.get(state):
            for month in months:
                click.echo(_month_detail(month))
    if indices:
        click.echo("Indices (old -> target, with counts):")
        for event_type in EVENT_TYPES:
            for month in (m for m in report.months if m.event_type == event_type):
                click.echo(_indices_line(month))
    if bookmarks:
        click.echo("Bookmarks:")
        found = [text for m in report.months if (text := _bookmark_line(m))]
        for text in found or ["    none"]:
            click.echo(text)
    fingerprint = report.fingerprint
    last = fingerprint.get("last_completed_run")
    click.echo(
        f"Enrichment fingerprint: current {fingerprint['current']}; last completed "
        f"run {last or 'none'}"
        + (f" ({fingerprint['last_completed_run_at']})" if last else "")
    )
    if fingerprint["stale_months"]:
        click.echo(
            f"  Stale months ({len(fingerprint['stale_months'])}): "
            f"{', '.join(fingerprint['stale_months'])}; run: {PROGRAM} migrate --reenrich"
        )
    unfinished = [r for r in report.reenrichment if not r["completed"]]
    if unfinished:
        click.echo(
            "  Re-enrichment unfinished: "
            + ", ".join(f"{r['event_type']}-{r['month']}" for r in unfinished)
        )
    with_aliases = [b for b in report.legacy_backups if b["aliases"]]
    if report.legacy_backups:
        click.echo(
            f"Legacy '-backup' indices (never migrated): {len(report.legacy_backups)}"
            + (
                f", {len(with_aliases)} with aliases: {PROGRAM} remove-backup-aliases"
                if with_aliases
                else ""
            )
        )
    if report.unrecognised:
        click.echo(f"Unrecognised indices: {', '.join(report.unrecognised)}")
    if report.state == "required":
        click.echo(f"Next: {PROGRAM} migrate")
    elif report.state == "complete" and any(
        m.old_index == "kept" or m.backup_exists for m in report.group(COMPLETED)
    ):
        click.echo(f"Optional: {PROGRAM} cleanup-old-indices")
