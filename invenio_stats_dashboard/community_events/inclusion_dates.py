"""When a membership that predates the log began: the backfill date rule (02 §4.1).

A community membership found without events is dated at the latest of the version's
``created``, the community's ``created`` and the time the accepted inclusion or
submission request for that community and any version of the parent was accepted.
The accept time is the ``created`` of the request's ``accepted`` log event, else the
request's ``updated``. Each lookup is one paginated search for a whole chunk.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from invenio_search.utils import prefix_index

from ..communities import GLOBAL_SCOPE
from ..search_indices.paging import RECORDS_ALIAS, batched, iter_hits
from ..timeutils import parse_utc
from .documents import VersionInfo

MEMBERSHIP_REQUEST_TYPES = ("community-inclusion", "community-submission")
REQUESTS_ALIAS = "requests"
REQUEST_EVENTS_ALIAS = "requestevents"
LOG_EVENT_TYPE = "L"


def sibling_record_ids(client, parent_ids: Iterable[str]) -> dict[str, list[str]]:
    """Every version id (deleted ones included) of each parent, from the records index."""
    siblings: dict[str, list[str]] = {}
    for batch in batched(sorted(set(parent_ids))):
        for hit in iter_hits(
            client,
            index=prefix_index(RECORDS_ALIAS),
            body={
                "query": {"terms": {"parent.id": batch}},
                "_source": ["id", "parent.id"],
            },
            sort=[{"id": "asc"}],
        ):
            source = hit["_source"]
            siblings.setdefault(source["parent"]["id"], []).append(source["id"])
    return siblings


def accepted_times(
    client, record_ids: Iterable[str], community_ids: Iterable[str]
) -> dict[tuple[str, str], datetime]:
    """Latest accept time per (record id, community id) among accepted requests."""
    record_ids = sorted(set(record_ids))
    community_ids = sorted(set(community_ids) - {GLOBAL_SCOPE})
    if not record_ids or not community_ids:
        return {}
    requests: dict[str, dict[str, Any]] = {}
    for batch in batched(record_ids):
        for hit in iter_hits(
            client,
            index=prefix_index(REQUESTS_ALIAS),
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"terms": {"type": list(MEMBERSHIP_REQUEST_TYPES)}},
                            {"term": {"status": "accepted"}},
                            {"terms": {"topic.record": batch}},
                            {"terms": {"receiver.community": community_ids}},
                        ]
                    }
                },
                "_source": ["uuid", "topic", "receiver", "updated"],
            },
            sort=[{"uuid": "asc"}],
        ):
            requests[hit["_source"]["uuid"]] = hit["_source"]
    if not requests:
        return {}
    accepted_at = _accept_log_times(client, list(requests))
    result: dict[tuple[str, str], datetime] = {}
    for request_id, request in requests.items():
        when = accepted_at.get(request_id) or parse_utc(request.get("updated"))
        if when is None:
            continue
        key = (request["topic"]["record"], request["receiver"]["community"])
        if key not in result or when > result[key]:
            result[key] = when
    return result


def _accept_log_times(client, request_ids: list[str]) -> dict[str, datetime]:
    """Return when each request's ``accepted`` log event was created."""
    times: dict[str, datetime] = {}
    for batch in batched(request_ids):
        for hit in iter_hits(
            client,
            index=prefix_index(REQUEST_EVENTS_ALIAS),
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"terms": {"request_id": batch}},
                            {"term": {"type": LOG_EVENT_TYPE}},
                        ]
                    }
                },
                "_source": ["request_id", "payload", "created"],
            },
            sort=[{"created": "asc"}, {"uuid": "asc"}],
        ):
            source = hit["_source"]
            if (source.get("payload") or {}).get("event") != "accepted":
                continue
            created = parse_utc(source.get("created"))
            if created is not None:
                times[source["request_id"]] = created
    return times


class InclusionDates:
    """Backfill dates for the versions of one chunk (02 §4.1)."""

    def __init__(
        self,
        community_created: dict[str, datetime],
        accepted: dict[tuple[str, str], datetime],
        siblings: dict[str, list[str]],
    ):
        """Keep the lookups made for the chunk."""
        self.community_created = community_created
        self.accepted = accepted
        self.siblings = siblings

    @classmethod
    def for_versions(
        cls,
        client,
        versions: Iterable[VersionInfo],
        community_created: dict[str, datetime],
    ) -> "InclusionDates":
        """Look up siblings and accept times for ``versions`` in two searches."""
        versions = list(versions)
        siblings = sibling_record_ids(client, {v.parent_id for v in versions})
        for version in versions:
            family = siblings.setdefault(version.parent_id, [])
            if version.record_id not in family:
                family.append(version.record_id)
        all_ids = [rid for family in siblings.values() for rid in family]
        communities = {c for v in versions for c in v.community_ids}
        return cls(
            community_created, accepted_times(client, all_ids, communities), siblings
        )

    def event_date(self, version: VersionInfo, scope: str) -> datetime:
        """Return the backfill ``event_date`` of ``version``'s membership in ``scope``."""
        if scope == GLOBAL_SCOPE:
            return version.created
        candidates = [version.created]
        if scope in self.community_created:
            candidates.append(self.community_created[scope])
        for record_id in self.siblings.get(version.parent_id, [version.record_id]):
            accepted = self.accepted.get((record_id, scope))
            if accepted is not None:
                candidates.append(accepted)
        return max(candidates)
