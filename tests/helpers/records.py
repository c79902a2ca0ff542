"""Record factories through the real RDM services (09 §8.4).

Drafts are created with the draft service, files uploaded through the draft files
service from in-memory bytes of known size, and records published by the service or,
when a community is given, by accepting the community-submission request. Community
membership changes go through the paths that fire the service hooks: submission
review, inclusion request (record-communities ``add``), record-communities
``remove``, ``bulk_add`` and the moderation ``delete_record`` / ``restore_record``.
"""

import copy
from datetime import UTC
from io import BytesIO

from invenio_access.permissions import system_identity
from invenio_rdm_records.proxies import (
    current_rdm_records_service,
    current_record_communities_service,
)
from invenio_requests.proxies import current_requests_service
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from .communities import as_identity, community_id

DEFAULT_PUBLICATION_DATE = "2024-01-15"
DEFAULT_CREATOR = {
    "person_or_org": {
        "type": "personal",
        "given_name": "Ada",
        "family_name": "Lovelace",
    },
}
SUBMISSION_REQUEST_TYPE = "community-submission"


class FactoryError(AssertionError):
    """A service call of a factory reported errors (e.g. a refused inclusion)."""


# --------------------------------------------------------------------------- helpers


def record_id(record):
    """Return the record PID value of a result item, dict, API record or string."""
    if isinstance(record, str):
        return record
    if isinstance(record, dict):
        return record["id"]
    if hasattr(record, "pid") and hasattr(record.pid, "pid_value"):
        return record.pid.pid_value
    return record.id


def file_content(size_or_bytes, seed=0):
    """Return deterministic bytes of exactly ``size`` bytes (or the given bytes)."""
    if isinstance(size_or_bytes, (bytes, bytearray)):
        return bytes(size_or_bytes)
    size = int(size_or_bytes)
    block = bytes((i * 7 + seed) % 251 for i in range(251))
    return (block * (size // len(block) + 1))[:size]


def _vocab_list(values):
    return [v if isinstance(v, dict) else {"id": v} for v in values]


def _person(value, default_affiliations=()):
    if isinstance(value, dict):
        return copy.deepcopy(value)
    family, _, given = value.partition(",")
    person = {"type": "personal", "family_name": family.strip()}
    if given.strip():
        person["given_name"] = given.strip()
    entry = {"person_or_org": person}
    if default_affiliations:
        entry["affiliations"] = _vocab_list(default_affiliations)
    return entry


def _funding(values):
    result = []
    for value in values:
        if isinstance(value, dict):
            result.append(value)
        elif isinstance(value, (tuple, list)):
            funder, award = value
            result.append({"funder": {"id": funder}, "award": {"id": award}})
        else:
            result.append({"funder": {"id": value}})
    return result


def build_record_data(
    *,
    title="A test record",
    resource_type="dataset",
    publication_date=DEFAULT_PUBLICATION_DATE,
    creators=None,
    affiliations=None,
    contributors=None,
    languages=None,
    rights=None,
    subjects=None,
    funding=None,
    publisher=None,
    description=None,
    version=None,
    access=None,
    embargo=None,
    files_enabled=True,
    custom_fields=None,
    metadata=None,
):
    """Return the service input of a draft.

    Shorthands: ``resource_type`` an id; ``languages``, ``rights``, ``subjects``
    lists of ids or full dicts; ``funding`` funder ids, ``(funder, award)`` pairs or
    dicts; ``creators``/``contributors`` ``"Family, Given"`` strings or full dicts,
    the strings getting ``affiliations`` (affiliation ids); contributors default to
    role ``other``. ``access`` ``{"record": "public"|"restricted", "files": ...}``
    (default both public); ``embargo`` an until-date string or
    ``{"until", "reason"}`` (made active).
    ``metadata`` entries are applied last and win.
    """
    meta = {
        "resource_type": {"id": resource_type},
        "title": title,
        "publication_date": publication_date,
    }
    if creators is None:
        creators = [copy.deepcopy(DEFAULT_CREATOR)]
        if affiliations:
            creators[0]["affiliations"] = _vocab_list(affiliations)
    else:
        creators = [_person(c, affiliations or ()) for c in creators]
    meta["creators"] = creators
    if contributors:
        contribs = []
        for c in contributors:
            entry = _person(c, affiliations or ())
            entry.setdefault("role", {"id": "other"})
            contribs.append(entry)
        meta["contributors"] = contribs
    if languages:
        meta["languages"] = _vocab_list(languages)
    if rights:
        meta["rights"] = _vocab_list(rights)
    if subjects:
        meta["subjects"] = _vocab_list(subjects)
    if funding:
        meta["funding"] = _funding(funding)
    if publisher is not None:
        meta["publisher"] = publisher
    if description is not None:
        meta["description"] = description
    if version is not None:
        meta["version"] = version
    meta.update(copy.deepcopy(metadata or {}))

    acc = {"record": "public", "files": "public"}
    acc.update(access or {})
    if embargo:
        emb = {"until": embargo} if isinstance(embargo, str) else dict(embargo)
        emb.setdefault("active", True)
        acc["embargo"] = emb

    data = {
        "metadata": meta,
        "access": acc,
        "files": {"enabled": bool(files_enabled)},
        "pids": {},
    }
    if custom_fields:
        data["custom_fields"] = copy.deepcopy(custom_fields)
    return data


# --------------------------------------------------------------------------- drafts


def add_files(identity, draft_id, files, seed=0):
    """Upload ``files`` (``{key: size_in_bytes | bytes}``) to a draft, commit them."""
    identity = as_identity(identity)
    files_service = current_rdm_records_service.draft_files
    files_service.init_files(identity, draft_id, data=[{"key": key} for key in files])
    for n, (key, content) in enumerate(files.items()):
        payload = file_content(content, seed=seed + n)
        files_service.set_file_content(
            identity, draft_id, key, BytesIO(payload), content_length=len(payload)
        )
        result = files_service.commit_file(identity, draft_id, key)
        assert result.data["size"] == len(payload), result.data


def make_draft(identity, *, files=None, **data_kwargs):
    """Create a draft (not published) with ``files`` (``{key: size | bytes}``) uploaded.

    ``data_kwargs`` are those of :func:`build_record_data`. No files means a
    metadata-only draft (``files.enabled`` false). Returns the draft item.
    """
    identity = as_identity(identity)
    data = build_record_data(files_enabled=bool(files), **data_kwargs)
    draft = current_rdm_records_service.create(identity, data)
    if files:
        add_files(identity, draft.id, files)
    return current_rdm_records_service.read_draft(identity, draft.id)


def publish(identity, draft_id):
    """Publish a draft; return the published record item."""
    return current_rdm_records_service.publish(as_identity(identity), draft_id)


def read_record(record, identity=system_identity):
    """Read a published record (including deleted ones) through the service."""
    return current_rdm_records_service.read(
        as_identity(identity), record_id(record), include_deleted=True
    )


def make_record(
    identity,
    *,
    communities=(),
    files=None,
    publish=True,
    curator_identity=None,
    **data_kwargs,
):
    """Create a record with ``files`` and, unless ``publish=False``, publish it.

    ``communities``: the first one receives a community-submission request for the draft
    which is then accepted (the accept publishes the record); each further one gets an
    inclusion request on the published record, also accepted. Requests are accepted by
    ``curator_identity`` (default: the system identity). Only members may submit to a
    restricted community, and a public record cannot enter one through requests (the
    accept raises ``InvalidAccessRestrictions``); use a restricted record or
    :func:`bulk_add` for that. ``data_kwargs``: see :func:`build_record_data`.

    Returns the published record item re-read after all inclusions (or the draft item
    when ``publish=False``; then ``communities`` must be empty).
    """
    identity = as_identity(identity)
    draft = make_draft(identity, files=files, **data_kwargs)
    if not publish:
        assert not communities, "communities need a published record"
        return draft
    communities = list(communities)
    accepter = as_identity(curator_identity) if curator_identity else system_identity
    if communities:
        request = submit_to_community(identity, draft.id, communities[0])
        accept_request(accepter, request.id)
        for community in communities[1:]:
            include_in_community(
                identity, draft.id, community, accept_identity=accepter
            )
    else:
        current_rdm_records_service.publish(identity, draft.id)
    refresh_records_index()
    return read_record(draft.id)


def new_version(
    identity,
    record,
    *,
    files=None,
    import_files=None,
    publish=True,
    publication_date=None,
    metadata=None,
    access=None,
):
    """Create (and by default publish) a new version of ``record``.

    ``files`` uploads new files; with ``files=None`` the previous version's files are
    imported when it had any (``import_files`` forces either way). ``publication_date``
    defaults to the previous one (the new-version draft drops it). ``metadata`` entries
    override the copied metadata, ``access`` the copied access. Returns the published
    item (or the draft item when ``publish=False``).
    """
    identity = as_identity(identity)
    service = current_rdm_records_service
    previous = service.read(identity, record_id(record))
    draft = service.new_version(identity, previous.id)
    data = copy.deepcopy(draft.data)
    data["metadata"]["publication_date"] = (
        publication_date or previous.data["metadata"]["publication_date"]
    )
    data["metadata"].update(copy.deepcopy(metadata or {}))
    if access:
        data["access"].update(access)
    had_files = bool(previous.data.get("files", {}).get("enabled"))
    if import_files is None:
        import_files = files is None and had_files
    data["files"] = {"enabled": bool(files) or import_files}
    service.update_draft(identity, draft.id, data)
    if import_files:
        service.import_files(identity, draft.id)
    if files:
        add_files(identity, draft.id, files)
    if not publish:
        return service.read_draft(identity, draft.id)
    service.publish(identity, draft.id)
    refresh_records_index()
    return read_record(draft.id)


def update_record(identity, record, *, metadata=None, access=None, publish=True):
    """Edit a published record: merge ``metadata``/``access`` into it and re-publish."""
    identity = as_identity(identity)
    service = current_rdm_records_service
    draft = service.edit(identity, record_id(record))
    data = copy.deepcopy(draft.data)
    data["metadata"].update(copy.deepcopy(metadata or {}))
    if access:
        data["access"].update(access)
    service.update_draft(identity, draft.id, data)
    if not publish:
        return service.read_draft(identity, draft.id)
    service.publish(identity, draft.id)
    refresh_records_index()
    return read_record(draft.id)


# ------------------------------------------------------------------------ communities


def submit_to_community(
    identity, draft_id, community, *, require_review=True, comment=None
):
    """Attach a community-submission review to a draft and submit it.

    With ``require_review=True`` (default) the request stays open whatever the
    community's review policy, for :func:`accept_request`. With ``False`` InvenioRDM
    accepts it at once when the submitter may include directly (a curator of a
    community whose ``review_policy`` is ``open``). Returns the request item.
    """
    identity = as_identity(identity)
    review = current_rdm_records_service.review
    review.update(
        identity,
        record_id(draft_id),
        {
            "receiver": {"community": community_id(community)},
            "type": SUBMISSION_REQUEST_TYPE,
        },
    )
    data = {"payload": {"content": comment, "format": "html"}} if comment else None
    return review.submit(
        identity, record_id(draft_id), data=data, require_review=require_review
    )


def accept_request(identity, request_id, comment=None, send_notification=None):
    """Accept a request (``execute_action(identity, id, "accept")``); return its item.

    ``send_notification`` defaults to false for the system identity (as InvenioRDM's own
    direct include does: a notification "accepted by system" cannot resolve its user)
    and true otherwise.
    """
    identity = as_identity(identity)
    if send_notification is None:
        send_notification = identity is not system_identity
    data = {"payload": {"content": comment, "format": "html"}} if comment else None
    return current_requests_service.execute_action(
        identity,
        str(request_id),
        "accept",
        data=data,
        send_notification=send_notification,
    )


def decline_request(identity, request_id, comment=None):
    """Decline a request; return its item."""
    data = {"payload": {"content": comment, "format": "html"}} if comment else None
    return current_requests_service.execute_action(
        as_identity(identity), str(request_id), "decline", data=data
    )


def include_in_community(
    identity,
    record,
    community,
    *,
    require_review=True,
    accept=True,
    accept_identity=None,
    comment=None,
):
    """Request inclusion of a published record in a community (``add``).

    With ``accept=True`` the open request is then accepted by ``accept_identity``
    (default the system identity). Raises :class:`FactoryError` when the service
    reports an error (e.g. not a member of a restricted community, already included,
    an open request exists). A public record and a restricted community pass the
    ``add`` but the accept raises ``InvalidAccessRestrictions`` (the request stays
    open). Returns the request item (after the accept, if any).
    """
    entry = {"id": community_id(community), "require_review": require_review}
    if comment:
        entry["comment"] = {"payload": {"content": comment, "format": "html"}}
    processed, errors = current_record_communities_service.add(
        as_identity(identity), record_id(record), {"communities": [entry]}
    )
    if errors:
        raise FactoryError(f"inclusion refused: {errors}")
    request_id = processed[0]["request_id"]
    if accept and processed[0]["request"]["status"] == "submitted":
        accept_request(accept_identity or system_identity, request_id)
    refresh_records_index()
    return current_requests_service.read(system_identity, request_id)


def remove_from_community(identity, record, community):
    """Remove a record from a community (record-communities ``remove``)."""
    processed, errors = current_record_communities_service.remove(
        as_identity(identity),
        record_id(record),
        {"communities": [{"id": community_id(community)}]},
    )
    if errors:
        raise FactoryError(f"removal refused: {errors}")
    refresh_records_index()
    return processed


def bulk_add(community, record_ids, *, set_default=False):
    """Add records to a community with ``bulk_add`` (system identity only)."""
    errors = current_record_communities_service.bulk_add(
        system_identity,
        community_id(community),
        [record_id(r) for r in record_ids],
        set_default=set_default,
    )
    if errors:
        raise FactoryError(f"bulk_add errors: {errors}")
    refresh_records_index()
    return errors


def delete_record(record, *, reason="spam", note=None, is_visible=True):
    """Moderation (soft) delete of a published record with the system identity."""
    data = {"removal_reason": {"id": reason}, "is_visible": is_visible}
    if note:
        data["note"] = note
    item = current_rdm_records_service.delete_record(
        system_identity, record_id(record), data
    )
    refresh_records_index()
    return item


def restore_record(record):
    """Restore a moderation-deleted record with the system identity."""
    item = current_rdm_records_service.restore_record(
        system_identity, record_id(record)
    )
    refresh_records_index()
    return item


# --------------------------------------------------------------------------- search


def process_indexer_queues():
    """Run the bulk-indexing queues of the RDM record and draft indexers.

    Many membership paths (``bulk_add``, submission accept, ``remove``, parent commits)
    index the parent's other versions only through the bulk queue, which InvenioRDM's
    beat task ``manage_indexer_queues`` drains in production; tests drain it here.
    """
    current_rdm_records_service.indexer.process_bulk_queue()
    current_rdm_records_service.draft_indexer.process_bulk_queue()


def refresh_records_index(process_queues=True):
    """Drain the bulk-indexing queues, then refresh the records, requests and
    communities indices of this search prefix."""
    if process_queues:
        process_indexer_queues()
    current_search_client.indices.refresh(
        index=",".join(
            prefix_index(name) + "*"
            for name in ("rdmrecords", "requests", "communities")
        ),
        ignore_unavailable=True,
        allow_no_indices=True,
    )


def get_indexed_record(record):
    """Return the ``_source`` of a record in ``{P}rdmrecords-records`` (refreshed)."""
    refresh_records_index()
    result = current_search_client.search(
        index=prefix_index("rdmrecords-records"),
        body={"query": {"term": {"id": record_id(record)}}},
    )
    hits = result["hits"]["hits"]
    assert len(hits) == 1, f"{len(hits)} indexed documents for {record_id(record)}"
    return hits[0]["_source"]


def backdate_record(record, created):
    """Set a published record's ``created`` (naive UTC or aware datetime) and reindex.

    Updates the database model directly, as sample data does for history (09 §8.4);
    ``updated`` moves to now as usual.
    """

    from invenio_db import db
    from invenio_rdm_records.records.api import RDMRecord

    if created.tzinfo is not None:
        created = created.astimezone(UTC).replace(tzinfo=None)
    api_record = RDMRecord.pid.resolve(record_id(record))
    api_record.model.created = created
    db.session.add(api_record.model)
    db.session.commit()
    current_rdm_records_service.indexer.index(RDMRecord.pid.resolve(record_id(record)))
    refresh_records_index(process_queues=False)
    return read_record(record)
