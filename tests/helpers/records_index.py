"""Minimal record versions and membership events written straight to the indices.

The records aggregators read ``rdmrecords-records`` and ``stats-community-events``;
tests of their arithmetic index oracle :class:`~helpers.oracle.records.Version` and
:class:`~helpers.oracle.membership.MembershipEvent` values directly (04 §13 test 7
allows minimal record documents), so thousands of versions cost one bulk request.
"""

import uuid
from datetime import UTC

from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from helpers.community_event_log import fmt, records_write_index
from invenio_stats_dashboard.search_indices.bulk import bulk_write
from invenio_stats_dashboard.search_indices.paging import RECORDS_ALIAS

LABELS = {
    "resource_types": {
        "dataset": {"en": "Dataset"},
        "image": {"en": "Image"},
        "software": None,  # no title: the label falls back to {"en": id}
    },
    "languages": {"eng": {"en": "English"}, "fra": {"en": "French"}},
    "affiliations": {"o1": "Org One", "o2": "Org Two", "o3": "Org Three"},
    "funders": {"f1": "Funder One", "f2": "Funder Two"},
    "subjects": {"physics": "Physics", "biology": "Biology"},
}
"""The label every version gives an item (fixed, so the oracle's label is known)."""


def expected_label(key, item_id):
    """The stored label of an item (04 §6): its label, else the fallback."""
    label = LABELS.get(key, {}).get(item_id)
    if label is not None:
        return label
    if key in ("resource_types", "languages", "rights"):
        return {"en": item_id}
    return item_id


def _ext(name):
    parts = name.rsplit(".", 1)
    return parts[1].lower() if len(parts) == 2 else ""


def record_document(version, extra_funder_names=(), updated="2025-01-01T00:00:00"):
    """Return the index document of an oracle version.

    ``version.values`` gives item ids per key; a funder id without a label is a
    name-only funder. ``extra_funder_names`` adds name-only entries that merge into
    an id funder of the same version (04 §4.3), so they add no item.
    """
    values = version.values
    metadata = {}
    if "resource_types" in values:
        (kind,) = values["resource_types"]
        title = LABELS["resource_types"].get(kind)
        metadata["resource_type"] = {"id": kind, **({"title": title} if title else {})}
    if "languages" in values:
        metadata["languages"] = [
            {"id": code, "title": LABELS["languages"][code]}
            for code in values["languages"]
        ]
    if "affiliations" in values:
        metadata["creators"] = [
            {
                "person_or_org": {"type": "personal", "name": "A"},
                "affiliations": [
                    {"id": aid, "name": LABELS["affiliations"][aid]}
                    if aid in LABELS["affiliations"]
                    else {"id": aid}  # no name: the label falls back to the id
                    for aid in values["affiliations"]
                ],
            }
        ]
    funders = [
        {"funder": {"id": f, "name": LABELS["funders"][f]}}
        if f in LABELS["funders"]
        else {"funder": {"name": f}}  # a name-only funder: its name is its id
        for f in values.get("funders", ())
    ]
    funders += [{"funder": {"name": name}} for name in extra_funder_names]
    if funders:
        metadata["funding"] = funders
    if "publishers" in values:
        (metadata["publisher"],) = values["publishers"]
    if "subjects" in values:
        metadata["subjects"] = [
            {"id": s, "subject": LABELS["subjects"][s]} for s in values["subjects"]
        ]
    access = {"record": "public" if version.public else "restricted", "files": "public"}
    for status in values.get("access_statuses", ()):
        access["status"] = status
    enabled = (
        bool(version.files)
        if version.files_enabled is None
        else (version.files_enabled)
    )
    return {
        "id": version.record_id,
        "uuid": str(uuid.uuid4()),
        "parent": {
            "id": version.parent_id,
            "access": {"owned_by": {"user": version.owner}} if version.owner else {},
        },
        "files": {
            "enabled": enabled,
            "entries": [
                {"key": name, "ext": _ext(name), "size": size}
                for name, size in version.files
            ],
        },
        "access": access,
        "metadata": metadata,
        "updated": updated,
        "is_published": True,
    }


def index_versions(versions, extra_funder_names=None):
    """Index the versions' documents; return their ids (to delete afterwards)."""
    extra_funder_names = extra_funder_names or {}
    index = records_write_index()
    bulk_write(
        current_search_client,
        [
            {
                "_op_type": "index",
                "_index": index,
                "_id": v.record_id,
                "_source": record_document(v, extra_funder_names.get(v.record_id, ())),
            }
            for v in versions.values()
        ],
    )
    current_search_client.indices.refresh(index=prefix_index(RECORDS_ALIAS))
    return [v.record_id for v in versions.values()]


def delete_versions(record_ids):
    """Delete the test's version documents from the records index."""
    current_search_client.delete_by_query(
        index=prefix_index(RECORDS_ALIAS),
        body={"query": {"terms": {"id": list(record_ids)}}},
        refresh=True,
        conflicts="proceed",
    )


def event_document(event):
    """Return the membership-log document of an oracle event."""
    document = {
        "record_id": event.record_id,
        "community_id": event.scope,
        "event_type": event.event_type,
        "event_date": fmt(event.event_date),
        "is_deleted": event.deleted_date is not None,
        "timestamp": fmt(event.timestamp),
        "updated_timestamp": fmt(event.timestamp),
    }
    if event.deleted_date is not None:
        document["deleted_date"] = fmt(event.deleted_date)
    return document


def event_id(event):
    """The log's deterministic id of an event."""
    moment = event.event_date.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{event.scope}_{event.record_id}_{event.event_type}_{moment}"


def index_events(events):
    """Index membership events into their yearly log indices."""
    bulk_write(
        current_search_client,
        [
            {
                "_op_type": "index",
                "_index": prefix_index(
                    f"stats-community-events-{event.event_date.astimezone(UTC).year}"
                ),
                "_id": event_id(event),
                "_source": event_document(event),
            }
            for event in events
        ],
    )
    current_search_client.indices.refresh(index=prefix_index("stats-community-events"))
