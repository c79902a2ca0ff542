"""The shared run of every daily aggregator: one pass per scope (04 §3, §7).

A subclass says where a scope starts and which document each day gets; this class
chooses the range from the bookmark, streams the documents to the writer, moves the
bookmark to the last day written without a gap and reports what it did. It also
answers invenio-stats' generic calls (``run``, ``list_bookmarks``, ``delete``), so
``invenio stats aggregations ...`` works on the extension's names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from ..search_indices.templates import ensure_templates
from ..timeutils import utc_now
from .bookmarks import AggregationBookmark, BookmarkStore
from .days import compute_time, day_start_label
from .memory import PageBudget
from .names import ALIASES, document_id, yearly_index
from .ranges import ONE_DAY, pass_range
from .reports import FAILED, INTERRUPTED, MEMORY_BUDGET, NOTHING_TO_DO, PassReport
from .requests import CountingClient
from .scopes import default_scopes
from .writer import ChunkPolicy, DayDocumentWriter


@dataclass
class PassContext:
    """One pass's scope and planned days, and why it stopped early, if it did."""

    scope: str
    first: date
    last: date
    computed_at: str
    pages: PageBudget
    """The scan page size under the memory budget (04 §10)."""
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """What the report should also say (``missing_records`` ...)."""


@dataclass(frozen=True)
class RunOptions:
    """The options of a run that every pass shares (04 §7.4, §9)."""

    start_date: date | None = None
    end_date: date | None = None
    update_bookmark: bool = True
    ignore_bookmark: bool = False
    today: date | None = None
    """The current UTC day; tests may fix it."""

    def current_day(self) -> date:
        """Return ``today`` or the current UTC day."""
        return self.today or utc_now().date()


class DailyAggregator:
    """One aggregator writing one document per scope and day."""

    name: str = ""
    date_field = "period_start"
    """The field that dates a document (``snapshot_date`` for snapshots)."""
    dependent: str | None = None
    """The snapshot aggregator built on this delta's documents."""

    def __init__(self, name: str | None = None, client=None, config=None, **params):
        """Build as invenio-stats does (``cls(name=..., **params)``)."""
        self.name = name or self.name
        self.alias = ALIASES[self.name]
        self._client = client
        self._config = config
        self.params = params
        self.should_stop: Callable[[], bool] = lambda: False
        """Asked after each bulk chunk; a run sets it to its signal flag."""

    @property
    def client(self):
        """Return the search client (the instance's, unless one was given)."""
        return self._client if self._client is not None else current_search_client

    @property
    def config(self) -> Mapping[str, Any]:
        """Return the configuration (the app's, unless one was given)."""
        return self._config if self._config is not None else current_app.config

    # What a subclass provides -------------------------------------------------

    def scope_start(self, client, scope: str) -> date | None:
        """Return the first day of the scope, or None when it has no data."""
        raise NotImplementedError

    def documents(
        self, client, context: PassContext
    ) -> Iterable[tuple[date, dict[str, Any]]]:
        """Yield ``(day, document)`` for the days of the pass, in order.

        A pass that must stop early (a gap in its input) stops yielding and puts
        the reason in ``context.error``; the days yielded before stay written.
        """
        raise NotImplementedError

    def rewind_day(
        self, client, scope: str, bookmark: date, first: date
    ) -> date | None:
        """Return an earlier start that late input changes require, or None."""
        return None

    def last_possible_day(self, client, scope: str) -> date | None:
        """Return the last day the inputs allow, or None when they set no limit."""
        return None

    def after_pass(self, client, context: PassContext, report: PassReport) -> None:
        """Lower the dependent snapshot's bookmark to the first rewritten day.

        Corrected deltas must flow into later snapshots (04 §7.5).
        """
        if self.dependent is None or not report.documents or not report.first_day:
            return
        store = BookmarkStore(client)
        current = store.get(self.dependent, context.scope)
        if current is not None and report.first_day < current:
            store.set(self.dependent, context.scope, report.first_day)

    # One pass -----------------------------------------------------------------

    def run_pass(self, scope: str, options: RunOptions) -> PassReport:
        """Aggregate one range of one scope and move its bookmark."""
        started = time.monotonic()
        client = CountingClient(self.client)
        store = BookmarkStore(client)
        report = PassReport(self.name, scope)
        bookmark = None if options.ignore_bookmark else store.get(self.name, scope)
        report.bookmark_before = report.bookmark_after = bookmark
        start, exact = self._start(client, scope, bookmark, options)
        if bookmark is not None and options.start_date is None:
            rewound = self.rewind_day(client, scope, bookmark, bookmark - ONE_DAY)
            if rewound is not None:
                start, exact = self.scope_start(client, scope), True
                options = replace(options, start_date=rewound)
                report.note = (
                    f"rewound to {rewound.isoformat()}: late membership changes"
                )
        limit = self.last_possible_day(client, scope)
        end_date = options.end_date
        if limit is not None:
            end_date = min(end_date, limit) if end_date else limit
        planned = pass_range(
            scope_start=start,
            bookmark=bookmark,
            today=options.current_day(),
            interval=int(self.config["COMMUNITY_STATS_CATCHUP_INTERVAL"]),
            start_date=options.start_date,
            end_date=end_date,
            ignore_bookmark=options.ignore_bookmark,
            update_bookmark=options.update_bookmark,
        )
        if planned is None:
            report.status = NOTHING_TO_DO
            report.note = "no data" if start is None else "up to date"
        else:
            context = PassContext(
                scope,
                planned.first,
                planned.last,
                compute_time(utc_now()),
                PageBudget.from_config(self.config),
            )
            report.note = "; ".join(n for n in (report.note, planned.reason) if n)
            writer = DayDocumentWriter(
                client,
                self.alias,
                ChunkPolicy.from_config(self.config),
                should_stop=lambda: self.should_stop() or context.pages.over_budget(),
            )
            result = writer.write(scope, self.documents(client, context))
            report.first_day = result.first_day or planned.first
            report.documents = result.written
            report.years = sorted(result.years)
            report.last_day = result.last_written_day
            error = result.error or context.error
            if error:
                report.status, report.error = FAILED, error
            elif context.pages.exhausted:
                report.status, report.error = MEMORY_BUDGET, context.pages.reason()
            elif result.interrupted:
                report.status = INTERRUPTED
            if planned.moves_bookmark and result.last_written_day is not None:
                store.set(self.name, scope, result.last_written_day)
                report.bookmark_after = result.last_written_day
            if exact and report.first_day == start:
                self._delete_before(client, scope, start)
            report.details = context.details
            self.after_pass(client, context, report)
        report.requests, report.searches = client.requests, client.searches
        report.duration = round(time.monotonic() - started, 3)
        return report

    def _start(
        self, client, scope: str, bookmark: date | None, options: RunOptions
    ) -> tuple[date | None, bool]:
        """Return the scope start, and whether it was looked up.

        A bookmarked pass that only continues needs no look-up: the series is
        dense, so the day before the bookmark is inside the scope exactly when its
        document exists (one ``exists`` request instead of searches).
        """
        if options.start_date is None and bookmark is not None:
            before = bookmark - ONE_DAY
            found = client.exists(
                index=yearly_index(self.alias, before),
                id=document_id(scope, before),
            )
            return (before if found else bookmark), False
        return self.scope_start(client, scope), True

    def _delete_before(self, client, scope: str, start: date) -> None:
        """Delete the scope's documents dated before its start (04 §7.7)."""
        client.delete_by_query(
            index=prefix_index(self.alias),
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"community_id": scope}},
                            {
                                "range": {
                                    self.date_field: {"lt": day_start_label(start)}
                                }
                            },
                        ]
                    }
                }
            },
            refresh=True,
            ignore_unavailable=True,
            allow_no_indices=True,
            conflicts="proceed",
        )

    # invenio-stats' generic interface ----------------------------------------

    def run(
        self,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        update_bookmark: bool = True,
    ) -> list[dict[str, Any]]:
        """Run one pass over every default scope; return the JSON-ready reports."""
        ensure_templates(self.client, prefix_index(""))
        options = RunOptions(
            start_date=start_date.date() if start_date else None,
            end_date=end_date.date() if end_date else None,
            update_bookmark=update_bookmark,
        )
        return [
            self.run_pass(scope, options).as_dict()
            for scope in default_scopes(self.client, self.config)
        ]

    def list_bookmarks(
        self, start_date=None, end_date=None, limit=None
    ) -> list[AggregationBookmark]:
        """Return this aggregator's bookmarks (each has a ``date``)."""
        found = BookmarkStore(self.client).list([self.name])
        return found[:limit] if limit else found

    def delete(self, start_date=None, end_date=None) -> None:
        """Delete this aggregator's documents dated in the range, every scope."""
        bounds: dict[str, str] = {}
        if start_date is not None:
            bounds["gte"] = day_start_label(_as_day(start_date))
        if end_date is not None:
            bounds["lt"] = day_start_label(_as_day(end_date) + timedelta(days=1))
        query = {"range": {self.date_field: bounds}} if bounds else {"match_all": {}}
        self.client.delete_by_query(
            index=prefix_index(self.alias),
            body={"query": query},
            refresh=True,
            ignore_unavailable=True,
            allow_no_indices=True,
            conflicts="proceed",
        )


def _as_day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value
