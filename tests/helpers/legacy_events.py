"""Usage events as a pre-installation instance holds them (03 §4.4).

Legacy monthly indices get InvenioRDM 13's own v1 event mapping (no ``_meta``
marker) and the read alias, created while the extension's v2 templates are out of
the way, exactly as an instance that ran before installation has them. Events carry
the base fields of 01 §5.1 and invenio-stats' id scheme.
"""

import hashlib
import json
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources

from flask import current_app
from invenio_search import current_search_client
from invenio_search.utils import prefix_index
from opensearchpy.helpers import bulk

from invenio_stats_dashboard.usage_events.event_mappings import (
    EVENT_TEMPLATE_FILES,
    ensure_event_templates,
)
from invenio_stats_dashboard.usage_events.fields import configured_fields
from invenio_stats_dashboard.usage_events.names import EVENT_TYPES, month_index

RDM_TEMPLATES = "invenio_rdm_records.records.stats.templates.events"
BASE_FIELDS = (
    "timestamp",
    "recid",
    "parent_recid",
    "referrer",
    "country",
    "visitor_id",
    "unique_session_id",
    "unique_id",
    "is_robot",
    "is_machine",
    "via_api",
)
FILE_FIELDS = ("bucket_id", "file_id", "file_key", "size")


def v1_mappings(event_type):
    """InvenioRDM 13's v1 mapping of an event type (``view``/``download``)."""
    stats_type = EVENT_TYPES[event_type]
    package = f"{RDM_TEMPLATES}.{stats_type.replace('-', '_')}"
    text = (
        resources.files(package)
        .joinpath("os-v2", f"{stats_type}-v1.0.0.json")
        .read_text()
    )
    return json.loads(text.replace("__SEARCH_INDEX_PREFIX__", prefix_index("")))[
        "mappings"
    ]


@contextmanager
def without_event_templates():
    """Remove the v2 event templates for the block, then put them back."""
    prefix = prefix_index("")
    for template in EVENT_TEMPLATE_FILES.values():
        current_search_client.indices.delete_index_template(
            name=f"{prefix}{template.stem}", ignore=404
        )
    try:
        yield
    finally:
        ensure_event_templates(
            current_search_client, prefix, configured_fields(current_app.config)
        )


def create_legacy_month(event_type, month):
    """Create ``{P}events-stats-{type}-{month}`` as before installation."""
    name = month_index(event_type, month)
    with without_event_templates():
        current_search_client.indices.create(
            index=name,
            body={
                "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
                "mappings": v1_mappings(event_type),
                "aliases": {
                    prefix_index(f"events-stats-{EVENT_TYPES[event_type]}"): {}
                },
            },
        )
    return name


def legacy_event(
    event_type, recid, timestamp, visitor, *, parent_recid=None, file=None
):
    """Return ``(_id, _source)`` of one event with invenio-stats' id scheme."""
    if isinstance(timestamp, str):
        timestamp = datetime.fromisoformat(timestamp)
    ts = timestamp.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    source = {
        "timestamp": ts.isoformat(),
        "recid": recid,
        "parent_recid": parent_recid or f"{recid}-parent",
        "referrer": None,
        "country": "CH",
        "visitor_id": visitor,
        "unique_session_id": hashlib.sha224(visitor.encode()).hexdigest(),
        "is_robot": False,
        "is_machine": False,
        "via_api": False,
        "updated_timestamp": ts.isoformat(),
    }
    if event_type == "download":
        file = file or {
            "bucket_id": f"bucket-{recid}",
            "file_id": f"file-{recid}",
            "file_key": "data.csv",
            "size": 1024,
        }
        source.update(file)
        source["unique_id"] = f"{file['bucket_id']}_{file['file_id']}"
    else:
        source["unique_id"] = f"ui_{recid}"
    window = ts.replace(second=ts.second // 10 * 10)
    digest = hashlib.sha1((source["unique_id"] + visitor).encode("utf-8")).hexdigest()
    return f"{window.isoformat()}-{digest}", source


def index_legacy_events(event_type, events, *, create=True):
    """Write ``[(id, source)]`` into their legacy monthly indices; return per month."""
    per_month = {}
    for event_id, source in events:
        per_month.setdefault(source["timestamp"][:7], []).append((event_id, source))
    for month, items in per_month.items():
        name = month_index(event_type, month)
        if create and not current_search_client.indices.exists(index=name):
            create_legacy_month(event_type, month)
        actions = [
            {"_op_type": "index", "_index": name, "_id": i, "_source": s}
            for i, s in items
        ]
        bulk(current_search_client, actions, chunk_size=2000, raise_on_error=True)
        current_search_client.indices.refresh(index=name)
    return {month: len(items) for month, items in per_month.items()}


def all_events(index):
    """``{_id: _source}`` of every document behind ``index`` (alias or index)."""
    from invenio_stats_dashboard.search_indices.paging import iter_hits

    current_search_client.indices.refresh(index=index, ignore_unavailable=True)
    found = {}
    for hit in iter_hits(
        current_search_client,
        index=index,
        body={"query": {"match_all": {}}},
        sort=[{"_id": "asc"}],
    ):
        assert hit["_id"] not in found, f"{hit['_id']} is visible twice"
        found[hit["_id"]] = hit["_source"]
    return found


def base_checksum(source, event_type):
    """A checksum of the original (base) fields of an event."""
    names = BASE_FIELDS + (FILE_FIELDS if event_type == "download" else ())
    material = json.dumps({n: source.get(n) for n in names}, sort_keys=True)
    return hashlib.sha1(material.encode()).hexdigest()


def aliases_of(name):
    """Names of the aliases of a concrete index."""
    found = current_search_client.indices.get_alias(index=name, ignore=404)
    return set((found.get(name) or {}).get("aliases") or {})


def read_alias_indices(event_type):
    """Concrete indices behind an event type's read alias."""
    alias = prefix_index(f"events-stats-{EVENT_TYPES[event_type]}")
    found = current_search_client.indices.get_alias(name=alias, ignore=404)
    return set(found) if "error" not in found and "status" not in found else set()


def migratable_instance(tag, start, membership=None):
    """Build what a migration needs before any event: versions and their log.

    Three synthetic versions in the records index (ids ``{tag}xxxxxx-00000n``), a
    ``global`` addition for each and, with ``membership=(community, joined,
    left)``, the first version joining and leaving that community; then the
    backfill's completion marker. Returns the record ids.
    """
    from helpers.community_event_log import index_synthetic_versions, uid
    from invenio_stats_dashboard.community_events.documents import (
        VersionInfo,
        build_event,
    )
    from invenio_stats_dashboard.community_events.marker import write_marker
    from invenio_stats_dashboard.community_events.membership import ADDED, REMOVED
    from invenio_stats_dashboard.search_indices.bulk import bulk_write
    from invenio_stats_dashboard.timeutils import utc_now

    created = index_synthetic_versions(3, [], start=start, prefix=f"{tag}{uid()[:6]}-")
    versions = [
        VersionInfo(record_id=r, parent_id=f"{r}-parent", created=c)
        for r, c in created.items()
    ]
    actions = [build_event(v, "global", ADDED, v.created) for v in versions]
    if membership:
        community, joined, left = membership
        actions.append(build_event(versions[0], community, ADDED, joined))
        actions.append(build_event(versions[0], community, REMOVED, left))
    bulk_write(current_search_client, actions, refresh=True)
    write_marker(current_search_client, utc_now())
    return [v.record_id for v in versions]
