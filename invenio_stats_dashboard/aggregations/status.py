"""How far each aggregator has got for each scope (04 §9 ``status``), read-only.

Every figure comes from a handful of paged aggregations, whatever the number of
scopes: per aggregator one composite over ``community_id`` (documents, first and
last day), the bookmarks in one paged search, and the scope starts from the
membership log and the usage events. Completeness is exact: the distinct days
with a document between the scope start and today, over the days in that range.
Nothing is created: a missing index is reported, never made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from invenio_search.utils import prefix_index

from ..communities import GLOBAL_SCOPE
from ..community_events.documents import alias_name
from ..timeutils import parse_utc
from ..usage_events.names import read_alias
from .bookmarks import BookmarkStore
from .composite import ITEM_PAGE, composite_buckets
from .days import day_start_label
from .names import ALIASES, RECORDS_DELTA, RUN_ORDER, USAGE_DELTA
from .scope_start import earliest_day

SNAPSHOT_OF = {
    "community-records-snapshot-added-agg": RECORDS_DELTA,
    "community-usage-snapshot-agg": USAGE_DELTA,
}
DATE_FIELDS = {name: "period_start" for name in RUN_ORDER} | {
    name: "snapshot_date" for name in SNAPSHOT_OF
}


@dataclass
class ScopeStatus:
    """One aggregator for one scope."""

    aggregator: str
    scope: str
    index_exists: bool = True
    bookmark: date | None = None
    scope_start: date | None = None
    documents: int = 0
    first_document: date | None = None
    last_document: date | None = None
    days_since_last: int | None = None
    missing_days: int | None = None
    completeness: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the row with ISO dates (``status --json``)."""
        values = asdict(self)
        for key, value in values.items():
            if isinstance(value, date):
                values[key] = value.isoformat()
        return values


def _day(value: Any) -> date | None:
    moment = parse_utc(value) if value else None
    return moment.date() if moment else None


def _per_scope_dates(
    client,
    index: str,
    scope_field: str,
    date_field: str,
    query: dict | None = None,
    page_size: int = ITEM_PAGE,
) -> dict[str, dict[str, Any]]:
    """Return ``{scope: {count, first, last}}`` from one paged composite."""
    found: dict[str, dict[str, Any]] = {}
    for bucket in composite_buckets(
        client,
        index,
        query or {"match_all": {}},
        [{"scope": {"terms": {"field": scope_field}}}],
        {
            "first": {"min": {"field": date_field}},
            "last": {"max": {"field": date_field}},
        },
        page_size=page_size,
    ):
        found[str(bucket["key"]["scope"])] = {
            "count": int(bucket["doc_count"]),
            "first": _day(bucket["first"].get("value_as_string")),
            "last": _day(bucket["last"].get("value_as_string")),
        }
    return found


def scope_starts(
    client, scopes: Iterable[str], page_size: int = ITEM_PAGE
) -> dict[str, dict[str, date | None]]:
    """Return each scope's records and usage start (04 §7.2)."""
    records = {
        scope: values["first"]
        for scope, values in _per_scope_dates(
            client, alias_name(), "community_id", "event_date", page_size=page_size
        ).items()
    }
    events = f"{read_alias('view')},{read_alias('download')}"
    not_robot = {"bool": {"must_not": [{"term": {"is_robot": True}}]}}
    usage = {
        scope: values["first"]
        for scope, values in _per_scope_dates(
            client, events, "community_ids", "timestamp", not_robot, page_size
        ).items()
    }
    usage[GLOBAL_SCOPE] = earliest_day(client, events, "timestamp", not_robot)
    starts = {}
    for scope in scopes:
        found = [d for d in (records.get(scope), usage.get(scope)) if d is not None]
        starts[scope] = {
            "records": records.get(scope),
            "usage": min(found) if found else None,
        }
    return starts


def aggregation_status(
    client,
    scopes: list[str],
    today: date,
    names: Iterable[str] = RUN_ORDER,
    page_size: int = ITEM_PAGE,
) -> list[ScopeStatus]:
    """Return one row per (scope, aggregator), scopes in the given order.

    Every per-scope figure is read in composite pages of ``page_size`` scopes.
    """
    names = list(names)
    starts = scope_starts(client, scopes, page_size)
    bookmarks = {
        (b.aggregation_type, b.community_id): b.date
        for b in BookmarkStore(client).list(names)
    }
    per_aggregator: dict[str, dict[str, dict[str, Any]] | None] = {}
    for name in names:
        index = prefix_index(ALIASES[name])
        if not client.indices.exists(index=index):
            per_aggregator[name] = None
            continue
        per_aggregator[name] = _per_scope_dates(
            client, index, "community_id", DATE_FIELDS[name], page_size=page_size
        )
    rows = []
    for scope in scopes:
        for name in names:
            rows.append(
                _row(
                    name, scope, today, starts[scope], bookmarks, per_aggregator, client
                )
            )
    return rows


def _scope_start(name, scope, starts, per_aggregator) -> date | None:
    """Return where ``name`` starts for ``scope`` (a snapshot: its delta's first day)."""
    if name == USAGE_DELTA:
        return starts["usage"]
    if name == RECORDS_DELTA:
        return starts["records"]
    delta = (per_aggregator.get(SNAPSHOT_OF[name]) or {}).get(scope)
    return delta["first"] if delta else None


def _row(name, scope, today, starts, bookmarks, per_aggregator, client) -> ScopeStatus:
    row = ScopeStatus(name, scope, bookmark=bookmarks.get((name, scope)))
    documents = per_aggregator.get(name)
    if documents is None:
        row.index_exists = False
        return row
    row.scope_start = _scope_start(name, scope, starts, per_aggregator)
    found = documents.get(scope)
    if found:
        row.documents = found["count"]
        row.first_document, row.last_document = found["first"], found["last"]
        row.days_since_last = (today - found["last"]).days if found["last"] else None
    if row.scope_start is None:
        return row
    expected = (today - row.scope_start).days + 1
    present = row.documents
    if found and (found["first"] < row.scope_start or found["last"] > today):
        present = _count_between(client, name, scope, row.scope_start, today)
    row.missing_days = max(0, expected - present)
    row.completeness = max(0.0, min(100.0, 100.0 * present / expected))
    return row


def _count_between(client, name: str, scope: str, first: date, last: date) -> int:
    """Count one scope's documents dated from ``first`` to ``last``."""
    field = DATE_FIELDS[name]
    response = client.count(
        index=prefix_index(ALIASES[name]),
        body={
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
        },
        ignore_unavailable=True,
    )
    return int(response.get("count", 0))


SHORT_NAMES = {
    name: name.removeprefix("community-").removesuffix("-agg") for name in RUN_ORDER
}
"""``usage-delta``, ``records-delta-added``, ... (the concise status rows)."""
