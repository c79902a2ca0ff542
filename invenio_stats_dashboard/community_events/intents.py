"""What a service hook wants the log to record, captured at the moment of the change.

Intents carry the operation time and a snapshot of each version, so a write retried
later by Celery records exactly what happened, not what the database says by then.
"""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ..timeutils import format_utc, parse_utc
from .documents import VersionInfo

ADD = "add"
REMOVE = "remove"
DELETE = "delete"


@dataclass(frozen=True)
class Intent:
    """Open (``add``), close (``remove``) or flag as deleted (``delete``) memberships.

    ``scope`` is a community id or ``global``; a ``delete`` has none because it
    closes every open membership of the version.
    """

    kind: str
    version: VersionInfo
    at: datetime
    scope: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the retry task."""
        version = asdict(self.version)
        version["created"] = format_utc(self.version.created)
        if self.version.deleted_date is not None:
            version["deleted_date"] = format_utc(self.version.deleted_date)
        version["community_ids"] = list(self.version.community_ids)
        return {
            "kind": self.kind,
            "scope": self.scope,
            "at": format_utc(self.at),
            "version": version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Intent":
        """Inverse of :meth:`to_dict`."""
        version = dict(data["version"])
        version["created"] = parse_utc(version["created"])
        version["deleted_date"] = parse_utc(version.get("deleted_date"))
        version["community_ids"] = tuple(version.get("community_ids") or ())
        at = parse_utc(data["at"])
        assert at is not None  # noqa: S101 - always written by to_dict
        return cls(
            kind=data["kind"],
            version=VersionInfo(**version),
            at=at,
            scope=data.get("scope"),
        )
