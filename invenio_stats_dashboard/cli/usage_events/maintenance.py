"""``usage-events clear-bookmarks``, ``cleanup-old-indices``, ``remove-backup-aliases``.

06 §7.2; behaviour: 03 §6. The two commands that delete hold the migration lock
while they change anything, so they never race a running migration.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import with_appcontext
from invenio_search.proxies import current_search_client

from ...errors import TaskLockAcquisitionError
from ...locks import task_lock
from ...usage_events.migration.cleanup import (
    NOT_COMPLETED,
    CleanupItem,
    ClearPlan,
    cleanup_items,
    clear_bookmarks,
    plan_clear,
    process_item,
    remove_backup_aliases,
    summarise,
)
from ...usage_events.names import EVENT_TYPES
from ..output import confirm_or_fail, fail, number
from . import usage_events
from .migrate import event_type_option, months_option

LOCK_SECTION = "usage_migration"


def selected_types(event_types) -> tuple[str, ...]:
    """Return the chosen event types in processing order; both when none is given."""
    return tuple(t for t in EVENT_TYPES if t in event_types) or tuple(EVENT_TYPES)


def under_lock(work: Callable):
    """Run ``work`` holding the migration lock; a held lock exits 1."""
    try:
        with task_lock(LOCK_SECTION):
            return work()
    except TaskLockAcquisitionError as error:
        fail(str(error))


# ----------------------------------------------------------------- clear-bookmarks


def _clear_listing(plan: ClearPlan) -> list[str]:
    lines = []
    for item in plan.to_clear:
        for bookmark in item.bookmarks:
            state = "completed" if bookmark.completed else f"phase {bookmark.phase}"
            lines.append(
                f"  bookmark {bookmark.task_id} ({state}, "
                f"{number(bookmark.processed_count)} events copied)"
            )
        if item.target:
            lines.append(f"  target {item.target} (unfinalised: deleted)")
    for item in plan.refused:
        lines.append(f"  refused {item.event_type} {item.month}: {item.refused}")
    return lines


@usage_events.command("clear-bookmarks")
@event_type_option("--event-types", "--event-type", "-e")
@months_option("--months", "--month", "-m")
@click.option(
    "--fresh-start",
    is_flag=True,
    help="Also delete the partly built target of each unfinalised month.",
)
@click.option("--confirm", is_flag=True, help="Skip the confirmation prompt.")
@with_appcontext
def clear_bookmarks_command(event_types, months, fresh_start, confirm):
    """Delete migration bookmarks so that months are migrated from the start."""
    client = current_search_client
    plan = plan_clear(
        client, selected_types(event_types), list(months) or None, fresh_start
    )
    if not plan.items:
        click.echo("No migration bookmarks to clear.")
        return
    if plan.to_clear and not confirm:
        targets = sum(1 for item in plan.to_clear if item.target)
        question = "\n".join(
            [
                "These migration bookmarks will be cleared:",
                *_clear_listing(plan),
                f"Clear {plan.bookmark_count} bookmarks"
                + (f" and delete {targets} targets" if targets else "")
                + "?",
            ]
        )
        confirm_or_fail(question, "--confirm")
    outcome = under_lock(lambda: clear_bookmarks(client, plan))
    for _ok, line in outcome.lines:
        click.echo(line)
    click.echo(
        f"Deleted {outcome.deleted_bookmarks} of {plan.bookmark_count} bookmarks"
        + (
            f" and {outcome.deleted_targets} targets"
            if plan.fresh_start and any(item.target for item in plan.to_clear)
            else ""
        )
    )
    if outcome.failures:
        fail(f"failed: {outcome.failures} deletions failed")
    if outcome.refused:
        fail(
            f"refused: {outcome.refused} months left unchanged (see the REFUSED lines)"
        )


# ------------------------------------------------------------- cleanup-old-indices


def _cleanup_line(item: CleanupItem) -> str:
    index_count = "?" if item.index_count is None else number(item.index_count)
    target_count = "?" if item.target_count is None else number(item.target_count)
    line = (
        f"{item.event_type} {item.month} {item.kind}: {item.index} ({index_count}) "
        f"-> {item.target} ({target_count}): {item.result_text}"
    )
    return f"{line} - {item.reason}" if item.reason else line


@usage_events.command("cleanup-old-indices")
@event_type_option("--event-types", "-e")
@click.option("--dry-run", is_flag=True, help="Verify and list; delete nothing.")
@click.option("--yes-i-know", is_flag=True, help="Skip the confirmation prompt.")
@with_appcontext
def cleanup_old_indices(event_types, dry_run, yes_i_know):
    """Delete the old and backup indices of completed, verified months."""
    client = current_search_client
    try:
        items = cleanup_items(client, selected_types(event_types))
    except Exception as error:
        fail(f"failed: listing the old indices failed: {error}")
    candidates = [item for item in items if item.result != NOT_COMPLETED]
    if candidates and not dry_run and not yes_i_know:
        question = "\n".join(
            [
                "These indices will be deleted once every one of their events is "
                "found in the target:",
                *(f"  {item.index} -> {item.target}" for item in candidates),
                f"Delete {len(candidates)} indices?",
            ]
        )
        confirm_or_fail(question, "--yes-i-know")

    def run() -> None:
        for item in items:
            process_item(client, item, dry_run)
            click.echo(_cleanup_line(item))

    if dry_run or not candidates:
        run()
    else:
        under_lock(run)
    summary = summarise(items, dry_run)
    click.echo(summary.line)
    if summary.failed:
        failed = [
            item
            for item in items
            if item.result not in (True, "would_delete", NOT_COMPLETED)
        ]
        fail(
            f"failed: {len(failed)} indices not deleted: "
            + "; ".join(f"{item.index}: {item.result_text}" for item in failed[:3])
        )


# ------------------------------------------------------------ remove-backup-aliases


@usage_events.command("remove-backup-aliases")
@click.option("--dry-run", is_flag=True, help="List the aliases; remove nothing.")
@with_appcontext
def remove_backup_aliases_command(dry_run):
    """Remove the aliases of indices named ``…-backup`` (deprecated)."""
    click.echo(
        "Warning: remove-backup-aliases is deprecated; it only cleans up aliases "
        "that older releases left on indices named '...-backup'.",
        err=True,
    )
    results = remove_backup_aliases(current_search_client, dry_run)
    if not results:
        click.echo("No '-backup' indices found.")
        return
    for result in results:
        aliases = ", ".join(result.aliases)
        if not result.aliases:
            click.echo(f"[OK] {result.index}: no aliases")
        elif not result.ok:
            click.echo(f"[FAIL] {result.index}: {result.reason}")
        elif dry_run:
            click.echo(f"[DRY RUN] {result.index}: would remove {aliases}")
        else:
            click.echo(f"[OK] {result.index}: removed {aliases}")
    failed = [result for result in results if not result.ok]
    if failed:
        fail(f"failed: the aliases of {len(failed)} indices could not be removed")
