"""Every community of the instance, read once from the communities index.

Commands resolve references (UUID, slug or ``global``) and writers need each
community's ``created``; one paginated scan serves both, with no 1,000-community cap.
"""

from dataclasses import dataclass
from datetime import datetime

from invenio_search.utils import prefix_index

from .search_indices.paging import iter_hits
from .timeutils import parse_utc

GLOBAL_SCOPE = "global"
COMMUNITIES_ALIAS = "communities"


@dataclass(frozen=True)
class CommunityRef:
    """One community as the extension needs it."""

    id: str
    slug: str
    created: datetime | None
    parent_id: str | None = None


class UnknownCommunityError(ValueError):
    """A community reference matches no community."""

    def __init__(self, references: list[str]):
        """Name every unknown reference."""
        super().__init__(f"unknown community: {', '.join(references)}")
        self.references = references


class CommunityDirectory:
    """Id, slug and creation time of every community."""

    def __init__(self, communities: list[CommunityRef]):
        """Index the communities by id and slug."""
        self.by_id = {c.id: c for c in communities}
        self.by_slug = {c.slug: c for c in communities}

    @classmethod
    def load(cls, client, ids: list[str] | None = None) -> "CommunityDirectory":
        """Scan the communities index (deleted ones included), or only ``ids``."""
        query = {"terms": {"id": ids}} if ids is not None else {"match_all": {}}
        communities = [
            CommunityRef(
                id=source["id"],
                slug=source.get("slug") or source["id"],
                created=parse_utc(source.get("created")),
                parent_id=(source.get("parent") or {}).get("id"),
            )
            for source in (
                hit["_source"]
                for hit in iter_hits(
                    client,
                    index=prefix_index(COMMUNITIES_ALIAS),
                    body={
                        "query": query,
                        "_source": ["id", "slug", "created", "parent.id"],
                    },
                    sort=[{"id": "asc"}],
                )
            )
        ]
        return cls(communities)

    def created_times(self) -> dict[str, datetime]:
        """Return each community's ``created``, by id."""
        return {c.id: c.created for c in self.by_id.values() if c.created}

    def resolve(self, references: list[str], allow_global: bool = True) -> list[str]:
        """Map UUIDs, slugs and ``global`` to ids; raise naming every unknown one."""
        resolved: list[str] = []
        unknown: list[str] = []
        for reference in references:
            if reference == GLOBAL_SCOPE and allow_global:
                scope = GLOBAL_SCOPE
            elif reference in self.by_id:
                scope = reference
            elif reference in self.by_slug:
                scope = self.by_slug[reference].id
            else:
                unknown.append(reference)
                continue
            if scope not in resolved:
                resolved.append(scope)
        if unknown:
            raise UnknownCommunityError(unknown)
        return resolved
