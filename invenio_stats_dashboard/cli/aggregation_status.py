"""``invenio community-stats status`` (04 §9, §14; 06 §4.1): read-only.

A setup-check block first (each check ok or missing, with the command that fixes
it), then per scope and aggregator the bookmark, scope start, documents and an
exact completeness bar. ``--json`` prints one JSON document; ``--verify`` also
compares each scope's latest records snapshot with a live count of its members.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from invenio_search.proxies import current_search_client
from invenio_search.utils import prefix_index

from ..aggregations.scopes import default_scopes
from ..aggregations.status import SHORT_NAMES, ScopeStatus, aggregation_status
from ..aggregations.verify import verify_scope
from ..communities import COMMUNITIES_ALIAS
from ..community_events.components import missing_components
from ..community_events.log_reader import has_any_event
from ..community_events.marker import read_marker
from ..custom_fields.fields import DASHBOARD_ENABLED_FIELD
from ..search_indices.templates import REGISTERED_TEMPLATES
from ..timeutils import utc_now
from .options import resolve_communities
from .output import fail

CONCISE_CELLS, VERBOSE_CELLS = 30, 50


def _bar(percent: float, cells: int) -> str:
    filled = int(round(percent / 100 * cells))
    return "█" * filled + "░" * (cells - filled)


def _age(days: int | None) -> str:
    if days is None:
        return ""
    return "(today)" if days == 0 else f"({days}d ago)"


def setup_checks(client, config) -> list[dict[str, Any]]:
    """Return the setup checks: name, ok, detail and the command that fixes it."""
    from ..proxies import current_event_reindexing_service

    checks = []
    missing = missing_components(config)
    checks.append(
        {
            "check": "component hooks",
            "ok": not missing,
            "detail": "present" if not missing else f"missing in {', '.join(missing)}",
            "fix": "add the extension's components (setup guide, step 2)",
        }
    )
    prefix = prefix_index("")
    absent = [
        t.stem
        for t in REGISTERED_TEMPLATES
        if not client.indices.exists_index_template(name=f"{prefix}{t.stem}")
    ]
    checks.append(
        {
            "check": "templates",
            "ok": not absent,
            "detail": "installed" if not absent else f"missing: {', '.join(absent)}",
            "fix": "invenio index init (or any aggregate run)",
        }
    )
    initialised = read_marker(client) is not None or has_any_event(client)
    checks.append(
        {
            "check": "community events",
            "ok": initialised,
            "detail": "initialised" if initialised else "not initialised",
            "fix": "invenio community-stats community-events generate",
        }
    )
    state = current_event_reindexing_service.get_migration_state()
    pending = state.get("pending_months") or []
    checks.append(
        {
            "check": "usage events migration",
            "ok": state["state"] in ("complete", "not_needed"),
            "detail": f"{state['state']}; {len(pending)} month(s) pending",
            "fix": "invenio community-stats usage-events migrate",
        }
    )
    mapping = client.indices.get_mapping(
        index=prefix_index(COMMUNITIES_ALIAS), ignore=[404]
    )
    mapped = DASHBOARD_ENABLED_FIELD in json.dumps(mapping)
    checks.append(
        {
            "check": "custom-field mapping",
            "ok": mapped,
            "detail": "present" if mapped else f"{DASHBOARD_ENABLED_FIELD} not mapped",
            "fix": "invenio custom-fields communities init",
        }
    )
    flag = config.get("STATS_REGISTER_INDEX_TEMPLATES")
    checks.append(
        {
            "check": "STATS_REGISTER_INDEX_TEMPLATES",
            "ok": flag is True,
            "detail": repr(flag),
            "fix": "set STATS_REGISTER_INDEX_TEMPLATES = True in invenio.cfg",
        }
    )
    return checks


def _concise(row: ScopeStatus) -> str:
    name = f"  {SHORT_NAMES[row.aggregator]:<24}"
    if row.error:
        return f"{name}[ERROR: {row.error}]"
    if not row.index_exists:
        return f"{name}[No index]"
    if row.completeness is None:
        return f"{name}[no data]"
    return (
        f"{name}{_bar(row.completeness, CONCISE_CELLS)} "
        f"{int(row.completeness):3d}% {_age(row.days_since_last)}"
    )


def _verbose(row: ScopeStatus) -> list[str]:
    lines = [f"  {row.aggregator}"]
    if not row.index_exists:
        return [*lines, "    index: missing"]
    values = [
        ("bookmark", row.bookmark),
        ("scope start", row.scope_start or "no data"),
        ("documents", f"{row.documents:,}"),
        ("first document", row.first_document),
        ("last document", row.last_document),
        ("days since last", row.days_since_last),
        ("missing days", row.missing_days),
    ]
    lines += [
        f"    {label}: {'-' if value is None else value}" for label, value in values
    ]
    if row.completeness is not None:
        lines.append(
            f"    completeness: {_bar(row.completeness, VERBOSE_CELLS)} "
            f"{row.completeness:.1f}%"
        )
    return lines


@click.command("status")
@click.option(
    "--community-id",
    "-c",
    "community_ids",
    multiple=True,
    help="UUID, slug or 'global' (repeatable). Default: every enabled community "
    "and global.",
)
@click.option("--verbose", "-v", is_flag=True, help="One labelled line per field.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--verify",
    is_flag=True,
    help="Compare each scope's latest records snapshot with a live member count.",
)
@with_appcontext
def status(community_ids, verbose, as_json, verify):
    """Show how complete the aggregation is for each scope (read-only)."""
    client = current_search_client
    config = current_app.config
    scopes = resolve_communities(community_ids, client)
    if scopes is None:
        scopes = default_scopes(client, config)
    today: date = utc_now().date()
    checks = setup_checks(client, config)
    rows = aggregation_status(
        client,
        scopes,
        today,
        page_size=int(config["COMMUNITY_STATS_FILTER_AGGREGATION_SIZE"]),
    )
    drifts = [verify_scope(client, scope) for scope in scopes] if verify else []
    if as_json:
        click.echo(
            json.dumps(
                {
                    "setup": checks,
                    "scopes": [row.as_dict() for row in rows],
                    "verify": [
                        {
                            "scope": d.scope,
                            "day": d.day.isoformat() if d.day else None,
                            "differences": d.differences,
                        }
                        for d in drifts
                    ],
                },
                sort_keys=True,
            )
        )
    else:
        _print(checks, rows, drifts, verbose)
    drifted = sum(1 for d in drifts if d.differences)
    if drifted:
        fail(f"failed: stored totals differ from the live count in {drifted} scope(s)")


def _print(checks, rows, drifts, verbose: bool) -> None:
    click.echo("Setup:")
    for check in checks:
        state = "ok" if check["ok"] else "missing"
        line = f"  {check['check']}: {state} ({check['detail']})"
        if not check["ok"]:
            line += f"; fix: {check['fix']}"
        click.echo(line)
    scope = None
    for row in rows:
        if row.scope != scope:
            scope = row.scope
            click.echo(f"{scope}:")
        for line in _verbose(row) if verbose else [_concise(row)]:
            click.echo(line)
    for drift in drifts:
        if drift.day is None:
            click.echo(f"verify {drift.scope}: no records snapshot")
        elif not drift.differences:
            click.echo(f"verify {drift.scope} ({drift.day}): stored totals match")
        for name, (stored, live) in drift.differences.items():
            click.echo(
                f"verify {drift.scope} ({drift.day}): {name} stored {stored}, live {live}"
            )
