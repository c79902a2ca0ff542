"""Service components that record membership changes as they happen (02 §3).

Each hook only captures intents (operation time, version snapshots) and hands them
to the unit of work's post-commit operation; nothing is written before the commit.
The method names are the ones InvenioRDM 13 calls; ``add``/``add_community`` are
deliberately absent because they run before any membership exists.
"""

from invenio_communities.proxies import current_communities
from invenio_drafts_resources.services.records.components import (
    ServiceComponent as DraftServiceComponent,
)
from invenio_rdm_records.records.api import RDMRecord
from invenio_records_resources.services.records.components import ServiceComponent
from invenio_requests.records.api import Request

from ..communities import GLOBAL_SCOPE
from ..timeutils import parse_utc, utc_now
from .documents import VersionInfo
from .inclusion_dates import MEMBERSHIP_REQUEST_TYPES
from .intents import ADD, DELETE, REMOVE, Intent
from .unit_of_work import register_intents

ACCEPTED = "accepted"


def version_info(record) -> VersionInfo:
    """Snapshot of a version and its parent's communities, as the log needs them."""
    deletion = getattr(record, "deletion_status", None)
    is_deleted = bool(deletion is not None and deletion.is_deleted)
    tombstone = getattr(record, "tombstone", None) if is_deleted else None
    removal = getattr(tombstone, "removal_date", None) if tombstone else None
    created = parse_utc(record.created)
    assert created is not None  # noqa: S101 - a published version has one
    return VersionInfo(
        record_id=record.pid.pid_value,
        parent_id=str(record.parent.pid.pid_value),
        created=created,
        publication_date=(record.get("metadata") or {}).get("publication_date"),
        is_deleted=is_deleted,
        deleted_date=parse_utc(removal) if is_deleted else None,
        community_ids=tuple(str(i) for i in record.parent.communities.ids),
    )


def published_versions(record) -> list[VersionInfo]:
    """Every published, not deleted version of ``record``'s parent, from the database."""
    versions = {
        v.pid.pid_value: v
        for v in RDMRecord.get_records_by_parent(record.parent, with_deleted=False)
        if not v.deletion_status.is_deleted
    }
    if not record.deletion_status.is_deleted:
        versions.setdefault(record.pid.pid_value, record)
    return [version_info(v) for v in versions.values()]


def _scope_with_parent(community_id: str, parent_ids: set[str]) -> list[str]:
    """Return the community, plus its parent when the record's parent holds it."""
    community = current_communities.service.record_cls.pid.resolve(community_id)
    scopes = [str(community.id)]
    parent = getattr(community, "parent", None)
    if parent is not None and str(parent.id) in parent_ids:
        scopes.append(str(parent.id))
    return scopes


class RecordCommunityEventComponent(DraftServiceComponent):
    """``RDM_RECORDS_SERVICE_COMPONENTS``: publish, delete and restore."""

    def publish(self, identity, draft=None, record=None, **kwargs):
        """Open ``global`` and every parent community for the published version."""
        now = utc_now()
        version = version_info(record)
        scopes = [GLOBAL_SCOPE, *version.community_ids]
        register_intents(
            self.uow, [Intent(ADD, version, now, scope) for scope in scopes]
        )

    def delete_record(self, identity, data=None, record=None, **kwargs):
        """Flag the version's open memberships as closed by its deletion."""
        version = version_info(record)
        register_intents(
            self.uow, [Intent(DELETE, version, version.deleted_date or utc_now())]
        )

    def restore_record(self, identity, record=None, **kwargs):
        """Re-open ``global`` and the parent's communities at the restore."""
        now = utc_now()
        version = version_info(record)
        scopes = [GLOBAL_SCOPE, *version.community_ids]
        register_intents(
            self.uow, [Intent(ADD, version, now, scope) for scope in scopes]
        )


class RecordCommunityEventTrackingComponent(ServiceComponent):
    """``RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS``: direct inclusion and removal."""

    def bulk_add(self, identity, community_id=None, record_ids=None, **kwargs):
        """Open the community (and its parent) for records not yet included."""
        now = utc_now()
        community = current_communities.service.record_cls.pid.resolve(community_id)
        parent = getattr(community, "parent", None)
        intents = []
        for record_id in record_ids or ():
            record = RDMRecord.pid.resolve(record_id)
            held = {str(i) for i in record.parent.communities.ids}
            if str(community.id) in held:
                continue
            scopes = [str(community.id)]
            if parent is not None and str(parent.id) not in held:
                scopes.append(str(parent.id))
            for version in published_versions(record):
                intents.extend(Intent(ADD, version, now, s) for s in scopes)
        register_intents(self.uow, intents)

    def remove_community(self, identity, record=None, community=None, **kwargs):
        """Close the community for every published version of the record."""
        now = utc_now()
        scope = str(community["id"])
        register_intents(
            self.uow,
            [Intent(REMOVE, v, now, scope) for v in published_versions(record)],
        )


class CommunityAcceptedEventComponent(ServiceComponent):
    """``REQUESTS_EVENTS_SERVICE_COMPONENTS``: accepted inclusions and submissions."""

    def create(self, identity, data=None, event=None, **kwargs):
        """On an ``accepted`` log event of a membership request, open the community."""
        payload = (data or {}).get("payload") or {}
        if payload.get("event") != ACCEPTED or event is None:
            return
        request = Request.get_record(event.request_id)
        if request.type.type_id not in MEMBERSHIP_REQUEST_TYPES:
            return
        record_id = (request.get("topic") or {}).get("record")
        community_id = (request.get("receiver") or {}).get("community")
        if not record_id or not community_id:
            return
        now = utc_now()
        record = RDMRecord.pid.resolve(record_id)
        held = {str(i) for i in record.parent.communities.ids}
        scopes = _scope_with_parent(community_id, held)
        register_intents(
            self.uow,
            [
                Intent(ADD, version, now, scope)
                for version in published_versions(record)
                for scope in scopes
            ],
        )


def _default_records_components() -> list:
    from invenio_rdm_records.services.components import DefaultRecordsComponents

    return list(DefaultRecordsComponents)


SERVICE_COMPONENTS = (
    (
        "RDM_RECORDS_SERVICE_COMPONENTS",
        RecordCommunityEventComponent,
        _default_records_components,
    ),
    (
        "RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS",
        RecordCommunityEventTrackingComponent,
        list,
    ),
    ("REQUESTS_EVENTS_SERVICE_COMPONENTS", CommunityAcceptedEventComponent, list),
)
"""Config list, our component, upstream default when the instance sets none (09 §3)."""


def merged_component_lists(config) -> dict[str, list]:
    """Return a new list per key with our component appended once (by class)."""
    merged = {}
    for key, component, default in SERVICE_COMPONENTS:
        current = config.get(key)
        components = list(current) if current is not None else default()
        if component not in components:
            components.append(component)
        merged[key] = components
    return merged


def missing_components(config) -> list[str]:
    """Config keys whose list lacks our component (live tracking is then off)."""
    return [
        key
        for key, component, _ in SERVICE_COMPONENTS
        if component not in (config.get(key) or ())
    ]
