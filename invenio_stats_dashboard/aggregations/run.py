"""One aggregation run: preconditions, lock, aggregators in order, scopes, report (04 §8).

The Celery task and the eager CLI both run through :class:`AggregationRun`. Each
(aggregator, scope) pass is isolated: an exception is logged with its traceback,
recorded in the results, leaves that scope's bookmark alone, and the run goes on.
Aggregators run in the canonical order whatever order they were named in; scopes
run one after another, ``global`` last.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flask import current_app
from invenio_search import current_search_client
from invenio_search.utils import prefix_index
from werkzeug.utils import import_string

from ..communities import GLOBAL_SCOPE
from ..errors import TaskLockAcquisitionError
from ..locks import task_lock
from ..search_indices.templates import ensure_templates
from ..timeutils import utc_now
from .base import DailyAggregator, RunOptions
from .job_registry import JobRegistry
from .names import RUN_ORDER
from .preconditions import check_preconditions
from .ranges import ONE_DAY
from .reports import COMPLETED, FAILED, INTERRUPTED, MEMORY_BUDGET, PassReport
from .scopes import default_scopes

logger = logging.getLogger(__name__)

LOCK_SECTION = "aggregation"
RUN_COMPLETED = "completed"
RUN_WITH_ERRORS = "completed with errors"
RUN_REFUSED = "refused"
RUN_SKIPPED = "skipped"
RUN_INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class AggregationRequest:
    """What to aggregate: names, scopes (None: the default of 04 §7.1), options."""

    aggregations: tuple[str, ...] = RUN_ORDER
    community_ids: tuple[str, ...] | None = None
    options: RunOptions = field(default_factory=RunOptions)
    catch_up: bool = False
    """Repeat passes until each scope reaches the requested end (the CLI)."""


@dataclass
class AggregatorResult:
    """What one aggregator did over every scope of the run."""

    name: str
    status: str = COMPLETED
    message: str = ""
    passes: list[PassReport] = field(default_factory=list)

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Return the failed passes as ``{scope, error}``."""
        return [
            {"scope": p.scope, "error": p.error}
            for p in self.passes
            if p.status == FAILED
        ]

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready result (04 §8)."""
        scopes = sorted({p.scope for p in self.passes})
        return {
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "docs_written": sum(p.documents for p in self.passes),
            "days": sum(p.days for p in self.passes),
            "scopes": scopes,
            "passes": [p.as_dict() for p in self.passes],
            "errors": self.errors,
        }


@dataclass
class RunResult:
    """The whole run."""

    status: str = RUN_COMPLETED
    message: str = ""
    results: list[AggregatorResult] = field(default_factory=list)
    total_duration: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the task result: JSON- and msgpack-serialisable."""
        from .report_format import format_report

        return {
            "status": self.status,
            "message": self.message,
            "results": [r.as_dict() for r in self.results],
            "total_duration": self.total_duration,
            "formatted_report": format_report(self, verbose=False),
            "formatted_report_verbose": format_report(self, verbose=True),
        }


def canonical_order(names) -> tuple[str, ...]:
    """Return ``names`` in run order (deltas before their snapshots)."""
    chosen = set(names)
    return tuple(name for name in RUN_ORDER if name in chosen)


def scopes_in_order(scopes) -> list[str]:
    """Return the scopes with ``global`` last, each once."""
    unique = list(dict.fromkeys(scopes))
    return [s for s in unique if s != GLOBAL_SCOPE] + (
        [GLOBAL_SCOPE] if GLOBAL_SCOPE in unique else []
    )


class AggregationRun:
    """Run aggregators over scopes under the aggregation lock."""

    def __init__(
        self,
        client=None,
        config: Mapping[str, Any] | None = None,
        *,
        on_pass: Callable[[PassReport], None] | None = None,
        checkpoint: Callable[[], None] = lambda: None,
        should_stop: Callable[[], bool] = lambda: False,
        migration_state: Callable[[], str | None] | None = None,
    ):
        """Use the app's client and config unless given.

        ``checkpoint`` is called between passes and may raise to stop the run
        (signals); ``should_stop`` is asked inside a pass after each bulk chunk.
        """
        self.client = client if client is not None else current_search_client
        self.config = config if config is not None else current_app.config
        self.on_pass = on_pass or (lambda report: None)
        self.checkpoint = checkpoint
        self.should_stop = should_stop
        self.migration_state = migration_state or _migration_state

    def aggregator(self, name: str) -> DailyAggregator:
        """Build the registered aggregator ``name`` with this run's client."""
        entry = self.config["COMMUNITY_STATS_AGGREGATIONS"][name]
        cls = entry["cls"]
        cls = import_string(cls) if isinstance(cls, str) else cls
        aggregator = cls(
            name=name, client=self.client, config=self.config, **entry.get("params", {})
        )
        aggregator.should_stop = self.should_stop
        return aggregator

    def run(self, request: AggregationRequest) -> RunResult:
        """Run the request; a held lock or refused preconditions write nothing."""
        started = time.monotonic()
        names = canonical_order(request.aggregations)
        result = RunResult(results=[AggregatorResult(name) for name in names])
        by_name = {r.name: r for r in result.results}
        try:
            with task_lock(LOCK_SECTION, config=self.config):
                found = check_preconditions(
                    self.client, self.config, names, self.migration_state()
                )
                for name, reason in found.refused.items():
                    by_name[name].status, by_name[name].message = RUN_REFUSED, reason
                for name, reason in found.skipped.items():
                    by_name[name].status, by_name[name].message = RUN_SKIPPED, reason
                runnable = [
                    n
                    for n in names
                    if n not in found.refused and n not in found.skipped
                ]
                if runnable:
                    ensure_templates(self.client, prefix_index(""))
                    self._run_aggregators(request, [by_name[n] for n in runnable])
        except TaskLockAcquisitionError as error:
            result.status, result.message = RUN_SKIPPED, str(error)
            for entry in result.results:
                entry.status, entry.message = RUN_SKIPPED, str(error)
        result.total_duration = round(time.monotonic() - started, 3)
        if result.status != RUN_SKIPPED:
            result.status = _overall(result.results)
        return result

    def _run_aggregators(
        self, request: AggregationRequest, results: list[AggregatorResult]
    ) -> None:
        scopes = scopes_in_order(
            request.community_ids
            if request.community_ids is not None
            else default_scopes(self.client, self.config)
        )
        registry = JobRegistry(self.config)
        years: dict[str, set[int]] = {}
        try:
            for entry in results:
                aggregator = self.aggregator(entry.name)
                for scope in scopes:
                    self.checkpoint()
                    with registry.aggregating(scope):
                        for report in self._passes(aggregator, scope, request):
                            entry.passes.append(report)
                            years.setdefault(scope, set()).update(report.years)
                            self.on_pass(report)
                            registry.refresh(scope)
                if any(p.status in (FAILED, MEMORY_BUDGET) for p in entry.passes):
                    entry.status = RUN_WITH_ERRORS
        finally:
            current_year = utc_now().year
            for scope, written in years.items():
                registry.mark_updated_years(scope, written, current_year)
            registry.close()

    def _passes(
        self, aggregator: DailyAggregator, scope: str, request: AggregationRequest
    ) -> Iterator[PassReport]:
        """Yield the passes of one scope: one, or until caught up (``catch_up``)."""
        options = request.options
        target = min(options.end_date or options.current_day(), options.current_day())
        while True:
            try:
                report = aggregator.run_pass(scope, options)
            except Exception as error:  # noqa: BLE001 - isolated per scope (04 §8)
                logger.exception("%s failed for scope %s", aggregator.name, scope)
                yield PassReport(
                    aggregator.name, scope, status=FAILED, error=str(error)
                )
                return
            yield report
            if report.status == INTERRUPTED:
                self.checkpoint()
                return
            if (
                not request.catch_up
                or report.status != COMPLETED
                or report.last_day is None
                or report.last_day >= target
            ):
                return
            self.checkpoint()
            options = replace(options, start_date=report.last_day + ONE_DAY)


def _overall(results: list[AggregatorResult]) -> str:
    """Return the run's status from its aggregators'."""
    statuses = {r.status for r in results}
    if results and statuses == {RUN_REFUSED}:
        return RUN_REFUSED
    if any(p.status == INTERRUPTED for r in results for p in r.passes):
        return RUN_INTERRUPTED
    if statuses - {COMPLETED}:
        return RUN_WITH_ERRORS
    return RUN_COMPLETED


def _migration_state() -> str | None:
    """Return the usage migration state (03 §4.12) of the current app."""
    from ..proxies import current_event_reindexing_service

    return current_event_reindexing_service.get_migration_state()["state"]
