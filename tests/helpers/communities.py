"""Community factories through the real communities service (09 §8.4)."""

from datetime import UTC
from uuid import UUID

from invenio_access.permissions import system_identity
from invenio_communities.proxies import current_communities
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from .users import TestUser


def as_identity(who):
    """Return the identity of a :class:`TestUser`, or ``who`` itself (an identity)."""
    return who.identity if isinstance(who, TestUser) else who


def community_id(community):
    """Return the community UUID (str) of an item, dict, record, UUID or slug."""
    if hasattr(community, "id") and not isinstance(community, (str, UUID, dict)):
        return str(community.id)
    if isinstance(community, dict):
        return str(community["id"])
    if isinstance(community, UUID):
        return str(community)
    try:
        return str(UUID(str(community)))
    except ValueError:
        record = current_communities.service.record_cls.pid.resolve(community)
        return str(record.id)


def make_community(
    owner,
    slug,
    *,
    visibility="public",
    title=None,
    description=None,
    record_policy="open",
    review_policy="open",
    member_policy="open",
    record_submission_policy=None,
    members_visibility="public",
    community_type=None,
    custom_fields=None,
    metadata=None,
    access=None,
    refresh=True,
):
    """Create a community owned by ``owner`` (identity or :class:`TestUser`).

    ``visibility`` is ``"public"`` or ``"restricted"``. ``review_policy="open"`` lets
    curators (the owner) include records directly; ``"closed"`` forces every inclusion
    through an accepted request. ``community_type`` is a ``communitytypes`` id,
    ``custom_fields`` e.g. ``{"stats:dashboard_enabled": True}``; ``metadata`` and
    ``access`` entries override the built ones. Returns the service's result item
    (``.id`` is the UUID, ``.data`` the dump).
    """
    meta = {"title": title or f"Community {slug}"}
    if description:
        meta["description"] = description
    if community_type:
        meta["type"] = {"id": community_type}
    meta.update(metadata or {})
    acc = {
        "visibility": visibility,
        "members_visibility": members_visibility,
        "member_policy": member_policy,
        "record_policy": record_policy,
        "review_policy": review_policy,
    }
    if record_submission_policy is not None:
        acc["record_submission_policy"] = record_submission_policy
    acc.update(access or {})
    data = {"slug": slug, "metadata": meta, "access": acc}
    if custom_fields:
        data["custom_fields"] = dict(custom_fields)
    item = current_communities.service.create(as_identity(owner), data)
    if refresh:
        refresh_communities_index()
    return item


def add_member(community, user, role="reader", *, visible=True):
    """Add ``user`` (a :class:`TestUser` or a user id) to ``community`` with ``role``.

    Uses the members service with the system identity (the default policy lets only
    groups be added by other identities).
    """
    user_id = user.id if isinstance(user, TestUser) else str(user)
    current_communities.service.members.add(
        system_identity,
        community_id(community),
        data={
            "members": [{"type": "user", "id": user_id}],
            "role": role,
            "visible": visible,
        },
    )


def read_community(community, identity=system_identity):
    """Read a community through the service."""
    return current_communities.service.read(identity, community_id(community))


def refresh_communities_index():
    """Refresh the communities index of this search prefix."""
    current_search_client.indices.refresh(index=prefix_index("communities*"))


def backdate_community(community, created):
    """Set a community's ``created`` (naive UTC or aware datetime) and reindex it."""

    from invenio_db import db

    if created.tzinfo is not None:
        created = created.astimezone(UTC).replace(tzinfo=None)
    service = current_communities.service
    record = service.record_cls.pid.resolve(community_id(community))
    record.model.created = created
    db.session.add(record.model)
    db.session.commit()
    service.indexer.index(service.record_cls.pid.resolve(community_id(community)))
    refresh_communities_index()
    return read_community(community)
