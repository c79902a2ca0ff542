"""Public helpers of the original ``services.components`` module (02 §3, 09 §6).

The service components themselves live in
:mod:`invenio_stats_dashboard.community_events.components`; they are re-exported here
under their historical import path. The two helpers write through the same writer and
rules as the live hooks, for fixtures and scripts.
"""

from collections.abc import Iterable
from datetime import datetime

from invenio_search.proxies import current_search_client

from ..community_events.components import (
    CommunityAcceptedEventComponent,
    RecordCommunityEventComponent,
    RecordCommunityEventTrackingComponent,
)
from ..community_events.documents import VersionInfo, alias_name
from ..community_events.intents import ADD, REMOVE, Intent
from ..community_events.membership import ADDED
from ..community_events.writer import apply_intents
from ..proxies import current_community_stats
from ..timeutils import format_utc, parse_utc, utc_now

__all__ = (
    "CommunityAcceptedEventComponent",
    "RecordCommunityEventComponent",
    "RecordCommunityEventTrackingComponent",
    "update_community_events_created_date",
    "update_community_events_index",
)


def update_community_events_index(
    record_id: str,
    community_ids_to_add: Iterable[str] | None = None,
    community_ids_to_remove: Iterable[str] | None = None,
    timestamp: datetime | str | None = None,
    record_created_date: datetime | str | None = None,
    record_published_date: str | None = None,
    is_deleted: bool = False,
    deleted_date: datetime | str | None = None,
    client=None,
) -> None:
    """Record additions and removals of one version, by the live writers' rules."""
    client = client or current_search_client
    current_community_stats.ensure_search_setup()
    at = parse_utc(timestamp) or utc_now()
    version = VersionInfo(
        record_id=record_id,
        parent_id="",
        created=parse_utc(record_created_date) or at,
        publication_date=record_published_date,
        is_deleted=is_deleted,
        deleted_date=parse_utc(deleted_date),
    )
    intents = [Intent(ADD, version, at, c) for c in community_ids_to_add or ()]
    intents += [Intent(REMOVE, version, at, c) for c in community_ids_to_remove or ()]
    apply_intents(client, intents)


def update_community_events_created_date(
    record_id: str, new_created_date: datetime | str, update_event_date: bool = True
) -> int:
    """Rewrite ``record_created_date`` (and ``event_date``) of every ``added``.

    One update-by-query over the alias, so no document count caps it. Returns the
    number of documents updated.
    """
    created = parse_utc(new_created_date)
    assert created is not None  # noqa: S101 - a date is required
    source = "ctx._source.record_created_date = params.created;"
    if update_event_date:
        source += " ctx._source.event_date = params.created;"
    source += " ctx._source.updated_timestamp = params.now;"
    response = current_search_client.update_by_query(
        index=alias_name(),
        body={
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"record_id": record_id}},
                        {"term": {"event_type": ADDED}},
                    ]
                }
            },
            "script": {
                "lang": "painless",
                "source": source,
                "params": {
                    "created": format_utc(created),
                    "now": format_utc(utc_now()),
                },
            },
        },
        conflicts="proceed",
        refresh=True,
        ignore_unavailable=True,
    )
    return int(response.get("updated", 0))
