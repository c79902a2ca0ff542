"""Read and reset the community membership log; synthetic versions for big runs.

Shared by the backfill tests (02 §4–§6). Everything is read straight from the search
cluster with no size cap, independently of the package's own readers.
"""

import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from flask import current_app
from invenio_search import current_search_client
from invenio_search.utils import prefix_index
from opensearchpy.helpers import bulk, scan

from invenio_stats_dashboard.community_events.components import (
    CommunityAcceptedEventComponent,
    RecordCommunityEventComponent,
    RecordCommunityEventTrackingComponent,
)

GLOBAL = "global"
ADDED = "added"
REMOVED = "removed"
MARKER_ID = "community-events-indexing_global"
RECORDS_ALIAS = "rdmrecords-records"

OUR_COMPONENTS = {
    "RDM_RECORDS_SERVICE_COMPONENTS": RecordCommunityEventComponent,
    "RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS": RecordCommunityEventTrackingComponent,
    "REQUESTS_EVENTS_SERVICE_COMPONENTS": CommunityAcceptedEventComponent,
}
"""Each config list and the live writer (service component) the extension adds."""


# ----------------------------------------------------------------------- ids


def uid():
    """A short random suffix for slugs and emails."""
    return uuid.uuid4().hex[:8]


def cid(community):
    """A community's UUID as the log stores it."""
    return str(community.id)


def rid(record):
    """A record's PID value (a string is taken as one already)."""
    return record if isinstance(record, str) else record.id


# --------------------------------------------------------------------- dates


def fmt(value):
    """Format like the log: ``YYYY-MM-DDTHH:MM:SS.mmm``, UTC, no offset."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def to_utc(value):
    """An ISO string (offset, ``Z`` or none = UTC) as aware UTC, whole milliseconds."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@contextmanager
def window():
    """``{"start", "end"}``: the time span of the block, as the log can record it."""
    span = {"start": to_utc(datetime.now(UTC))}
    yield span
    span["end"] = datetime.now(UTC)


def within(value, span):
    return span["start"] <= to_utc(value) <= span["end"]


# ----------------------------------------------------------------------- log


def alias():
    """``{P}stats-community-events``."""
    return prefix_index("stats-community-events")


def bookmarks_index():
    return prefix_index("stats-bookmarks-community")


def refresh_log():
    current_search_client.indices.refresh(
        index=alias(), ignore_unavailable=True, allow_no_indices=True
    )


def log_count():
    refresh_log()
    return current_search_client.count(
        index=alias(), ignore_unavailable=True, allow_no_indices=True
    )["count"]


def clear_log():
    """Delete every document of the log; the indices stay."""
    current_search_client.delete_by_query(
        index=alias(),
        body={"query": {"match_all": {}}},
        refresh=True,
        conflicts="proceed",
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    assert log_count() == 0


def log_hits(records=None):
    """Every log document (of ``records``: ids or result items), with no size cap."""
    refresh_log()
    query = (
        {"terms": {"record_id": [getattr(r, "id", r) for r in records]}}
        if records is not None
        else {"match_all": {}}
    )
    return list(
        scan(
            current_search_client,
            index=alias(),
            query={"query": query},
            ignore_unavailable=True,
            allow_no_indices=True,
        )
    )


def triples(hits):
    """Counter of (record_id, community_id, event_type)."""
    return Counter(
        (
            h["_source"]["record_id"],
            h["_source"]["community_id"],
            h["_source"]["event_type"],
        )
        for h in hits
    )


def marker():
    """The completion marker's ``_source``, or None."""
    response = current_search_client.get(
        index=bookmarks_index(), id=MARKER_ID, ignore=404
    )
    return response["_source"] if response.get("found") else None


def delete_marker():
    current_search_client.delete(
        index=bookmarks_index(), id=MARKER_ID, refresh=True, ignore=404
    )
    assert marker() is None


def prefixed_indices():
    """Names of every index of this session's prefix."""
    return sorted(
        current_search_client.indices.get(
            index=prefix_index("*"), expand_wildcards="all", allow_no_indices=True
        )
    )


# ------------------------------------------------------------- live writers


class LiveWriters:
    """Switch the live writers (the extension's service components) off and on.

    Off while a test builds its records: the backfill is tested on an empty log, as
    on an instance where the extension was just installed, and no live write waits
    for the log's refresh (``refresh=wait_for``, refresh interval 5 s).
    """

    def __init__(self, set_config):
        self.set_config = set_config
        self.originals = {key: list(current_app.config[key]) for key in OUR_COMPONENTS}
        for key, component in OUR_COMPONENTS.items():
            assert self.originals[key].count(component) == 1, key

    def off(self, *keys):
        self.set_config(
            **{
                key: [c for c in self.originals[key] if c is not OUR_COMPONENTS[key]]
                for key in keys or OUR_COMPONENTS
            }
        )

    def on(self):
        self.set_config(**self.originals)


def create_fast_refresh_indices():
    """Create this year's and next year's log index with a 100 ms refresh interval.

    Live writes use ``refresh=wait_for``, which in eager Celery mode makes each
    service call wait for the next refresh (the template says 5 s). Mapping and
    alias still come from the template.
    """
    from invenio_stats_dashboard.proxies import current_community_stats

    current_community_stats.ensure_search_setup()
    year = datetime.now(UTC).year
    for name in (
        f"stats-community-events-{year}",
        f"stats-community-events-{year + 1}",
    ):
        current_search_client.indices.create(
            index=prefix_index(name),
            body={"settings": {"index": {"refresh_interval": "100ms"}}},
            ignore=400,
        )
    assert current_search_client.indices.exists_alias(name=alias())


# ------------------------------------------------------------------- records


def clear_records_index():
    """Empty ``{P}rdmrecords-records`` (the database rows stay), so an unfiltered
    backfill examines only the versions a test creates afterwards."""
    from helpers.records import refresh_records_index

    refresh_records_index()
    current_search_client.delete_by_query(
        index=prefix_index(RECORDS_ALIAS),
        body={"query": {"match_all": {}}},
        refresh=True,
        conflicts="proceed",
    )


def records_write_index():
    """The index InvenioRDM's indexer writes record versions to."""
    from invenio_rdm_records.records.api import RDMRecord

    return prefix_index(RDMRecord.index._name)


def index_synthetic_versions(count, community_ids, *, start=None, prefix=None):
    """Put ``count`` published versions (one per parent) into the records index.

    Only the fields the backfill reads are set (``id``, ``created``, ``parent.id``,
    ``parent.communities.ids``, ``metadata.publication_date``, ``deletion_status``),
    which the strict records mapping accepts. Creating thousands of versions through
    the services would take many minutes; the backfill reads nothing else. Returns
    ``{record_id: created}``.
    """
    prefix = prefix or f"syn{uuid.uuid4().hex[:6]}-"
    start = start or datetime(2022, 3, 1, tzinfo=UTC)
    index = records_write_index()
    created = {}
    actions = []
    for number in range(count):
        record_id = f"{prefix}{number:06d}"
        when = start + timedelta(seconds=number)
        created[record_id] = when
        actions.append(
            {
                "_op_type": "index",
                "_index": index,
                "_id": str(uuid.uuid4()),
                "_source": {
                    "id": record_id,
                    "created": when.isoformat(),
                    "parent": {
                        "id": f"{prefix}parent-{number:06d}",
                        "communities": {"ids": list(community_ids)},
                    },
                    "metadata": {"publication_date": "2021-06"},
                    "deletion_status": "P",
                    "is_deleted": False,
                },
            }
        )
    written, errors = bulk(
        current_search_client, actions, chunk_size=2000, raise_on_error=True
    )
    assert written == count and not errors
    current_search_client.indices.refresh(index=prefix_index(RECORDS_ALIAS))
    return created


def delete_synthetic_versions(prefix):
    current_search_client.delete_by_query(
        index=prefix_index(RECORDS_ALIAS),
        body={"query": {"prefix": {"id": prefix}}},
        refresh=True,
        conflicts="proceed",
    )
