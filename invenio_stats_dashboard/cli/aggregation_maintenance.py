"""``read``, ``clear-bookmarks`` and ``clear-lock`` (04 §9, 06 §4.1)."""

from __future__ import annotations

import json
import os
import socket
from datetime import timedelta

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from invenio_search.proxies import current_search_client
from invenio_search.utils import prefix_index

from ..aggregations.bookmarks import BookmarkStore
from ..aggregations.days import day_start_label
from ..aggregations.names import (
    ALIASES,
    RECORDS_DELTA,
    RECORDS_SNAPSHOT,
    RUN_ORDER,
    USAGE_DELTA,
    USAGE_SNAPSHOT,
)
from ..communities import GLOBAL_SCOPE
from ..locks import LOCK_KEY_INFIX, cache_redis_url, lock_holder, lock_key
from ..search_indices.paging import search_after_pages
from ..timeutils import utc_now
from .aggregation_options import AggregatorChoice, aggregation_day
from .options import resolve_communities
from .output import confirm_or_fail, fail, number

QUERY_TYPES = {
    "community-record-delta-added": ("record_deltas_added", RECORDS_DELTA),
    "community-record-snapshot-added": ("record_snapshots_added", RECORDS_SNAPSHOT),
    "community-usage-delta": ("usage_deltas", USAGE_DELTA),
    "community-usage-snapshot": ("usage_snapshots", USAGE_SNAPSHOT),
}
DATE_FIELD = {
    RECORDS_DELTA: "period_start",
    USAGE_DELTA: "period_start",
    RECORDS_SNAPSHOT: "snapshot_date",
    USAGE_SNAPSHOT: "snapshot_date",
}


def read_documents(
    client, name: str, scope: str, first, last, page_size: int = 200
) -> list[dict]:
    """Return a scope's documents of one aggregator, by date, every page read."""
    field = DATE_FIELD[name]
    body = {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"community_id": scope}},
                    {
                        "range": {
                            field: {
                                "gte": day_start_label(first),
                                "lte": day_start_label(last),
                            }
                        }
                    },
                ]
            }
        }
    }
    return [
        hit["_source"]
        for page in search_after_pages(
            client,
            index=prefix_index(ALIASES[name]),
            body=body,
            sort=[{field: "asc"}],
            page_size=page_size,
        )
        for hit in page
    ]


@click.command("read")
@click.option(
    "--community-id",
    default=GLOBAL_SCOPE,
    show_default=True,
    help="UUID, slug or 'global'.",
)
@click.option("--start-date", help="First day (YYYY-MM-DD). Default: yesterday.")
@click.option("--end-date", help="Last day (YYYY-MM-DD). Default: today.")
@click.option(
    "--query-type", type=click.Choice(list(QUERY_TYPES)), help="One category."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one compact JSON document."
)
@with_appcontext
def read(community_id, start_date, end_date, query_type, as_json):
    """Print the stored documents of a scope, sorted by date (read-only)."""
    today = utc_now().date()
    first = aggregation_day(start_date, "--start-date") or today - timedelta(days=1)
    last = aggregation_day(end_date, "--end-date") or today
    if first > last:
        raise click.UsageError(f"--start-date {first} is after --end-date {last}")
    (scope,) = resolve_communities([community_id], current_search_client) or [
        GLOBAL_SCOPE
    ]
    chosen = [query_type] if query_type else list(QUERY_TYPES)
    result = {
        QUERY_TYPES[kind][0]: read_documents(
            current_search_client,
            QUERY_TYPES[kind][1],
            scope,
            first,
            last,
            int(current_app.config["COMMUNITY_STATS_SCAN_PAGE_SIZE"]),
        )
        for kind in chosen
    }
    if not any(result.values()):
        click.echo(f"no data for {scope} from {first} to {last}", err=True)
    click.echo(json.dumps(result, indent=None if as_json else 2, sort_keys=True))


@click.command("clear-bookmarks")
@click.option(
    "--community-id", "community_ids", multiple=True, help="UUID, slug or 'global'."
)
@click.option(
    "--aggregation-type", "aggregation_types", multiple=True, type=AggregatorChoice()
)
@click.option("--all-communities", is_flag=True, help="Every scope, global included.")
@click.option("--all-aggregation-types", is_flag=True, help="All four aggregators.")
@click.option("--confirm", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def clear_bookmarks(
    community_ids, aggregation_types, all_communities, all_aggregation_types, confirm
):
    """Delete aggregation bookmarks: the next pass starts at the scope start."""
    if not (
        community_ids or aggregation_types or all_communities or all_aggregation_types
    ):
        raise click.UsageError(
            "name what to clear: --community-id, --aggregation-type, "
            "--all-communities or --all-aggregation-types (aggregators: "
            f"{', '.join(RUN_ORDER)})"
        )
    client = current_search_client
    scopes = None if all_communities else resolve_communities(community_ids, client)
    names = list(aggregation_types) if aggregation_types else list(RUN_ORDER)
    if all_aggregation_types:
        names = list(RUN_ORDER)
    store = BookmarkStore(client)
    found = store.list(names, scopes)
    if not found:
        click.echo("No bookmarks to clear.")
        return
    if not confirm:
        confirm_or_fail(f"Delete {number(len(found))} bookmark(s)?", "--confirm")
    failed = 0
    for bookmark in found:
        if store.delete(bookmark.aggregation_type, bookmark.community_id):
            click.echo(
                f"{bookmark.community_id}: {bookmark.aggregation_type}: 1 cleared"
            )
        else:
            failed += 1
    if failed:
        fail(f"failed: {failed} bookmark(s) could not be deleted")


def _alive_here(host: str, pid: str) -> bool:
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except OSError:
        return False
    return True


@click.command("clear-lock")
@click.option(
    "--lock-name",
    default="community_stats_aggregation",
    show_default=True,
    help="Lock to clear.",
)
@click.option("--list-locks", is_flag=True, help="List every lock with its holder.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted.")
@with_appcontext
def clear_lock(lock_name, list_locks, dry_run):
    """Remove a stale lock, or list the locks (SCAN, never KEYS)."""
    config = current_app.config
    prefix = str(config["STATS_CACHE_PREFIX"])
    client = redis.Redis.from_url(cache_redis_url(config))
    try:
        if list_locks:
            keys = sorted(
                client.scan_iter(match=f"{prefix}{LOCK_KEY_INFIX}*", count=500)
            )
            if not keys:
                click.echo("No locks held.")
            for key in keys:
                name = key.decode().removeprefix(f"{prefix}{LOCK_KEY_INFIX}")
                holder = lock_holder(client, key.decode())
                ttl = client.pttl(key)
                if holder is not None:
                    click.echo(
                        f"{name}: held by {holder.host}:{holder.pid} since "
                        f"{holder.since} (expires in {max(ttl, 0) / 1000:.0f} s)"
                    )
            return
        key = lock_key(prefix, lock_name)
        holder = lock_holder(client, key)
        if holder is None:
            click.echo(f"Lock {lock_name}: not found.")
            return
        if _alive_here(holder.host, holder.pid):
            click.echo(
                f"Warning: the holder {holder.host}:{holder.pid} is still running.",
                err=True,
            )
        if dry_run:
            click.echo(
                f"Would delete lock {lock_name} held by {holder.host}:{holder.pid}."
            )
            return
        client.delete(key)
        click.echo(f"Deleted lock {lock_name} held by {holder.host}:{holder.pid}.")
    finally:
        client.close()
