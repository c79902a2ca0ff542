"""The scheduled aggregation task (04 §8).

Beat sends it every hour at minute 40 with the four aggregator names when
``COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED`` is on; the CLI sends it per pass
with ``--no-eager``. One pass per aggregator and scope per call: a long history
follows on later runs. The result is JSON-serialisable (the run report).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task
from invenio_search.proxies import current_search_client

from ..aggregations.base import RunOptions
from ..aggregations.names import RUN_ORDER
from ..aggregations.run import AggregationRequest, AggregationRun, canonical_order
from ..communities import CommunityDirectory
from ..proxies import current_community_stats


def _day(value: str | date | None) -> date | None:
    """Return a day from ``YYYY-MM-DD`` or an ISO datetime (floored to its day)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@shared_task(ignore_result=False)
def aggregate_community_record_stats(
    aggregations=RUN_ORDER,
    start_date: str | None = None,
    end_date: str | None = None,
    update_bookmark: bool = True,
    ignore_bookmark: bool = False,
    community_ids: list[str] | None = None,
    verbose: bool = False,
    eager: bool = False,
    catch_up: bool = False,
) -> dict[str, Any]:
    """Run the named aggregators (canonical order) and return the run report.

    ``community_ids`` may hold UUIDs, slugs or ``global``; None means every
    eligible community plus ``global``. ``verbose`` and ``eager`` are accepted
    for the CLI; both reports are always in the result.
    """
    current_community_stats.ensure_search_setup()
    scopes = None
    if community_ids:
        directory = CommunityDirectory.load(current_search_client)
        scopes = tuple(directory.resolve(list(community_ids)))
    request = AggregationRequest(
        aggregations=canonical_order(aggregations),
        community_ids=scopes,
        options=RunOptions(
            start_date=_day(start_date),
            end_date=_day(end_date),
            update_bookmark=update_bookmark,
            ignore_bookmark=ignore_bookmark,
        ),
        catch_up=catch_up,
    )
    return AggregationRun().run(request).as_dict()
