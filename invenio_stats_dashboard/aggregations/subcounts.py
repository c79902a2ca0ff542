"""The subcount keys one side of an aggregation produces (04 §3, §4.3, §5.3, §6).

``COMMUNITY_STATS_SUBCOUNTS`` is validated at startup (07 §3.1); here each enabled
side becomes a :class:`SubcountSpec` the aggregators read, with the label rule of
04 §6 in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Side = Literal["records", "usage_events"]

OBJECT_LABEL_KEYS = frozenset({"resource_types", "languages", "rights"})
"""Keys whose ``label`` is mapped as a language-keyed object (01 §5.7)."""


@dataclass(frozen=True)
class SourceField:
    """One field an item id is read from, and where its label sits."""

    field: str
    label_field: str | None = None


@dataclass(frozen=True)
class SubcountSpec:
    """One subcount key of one side."""

    key: str
    fields: tuple[SourceField, ...]
    snapshot_type: str = "all"
    name_field: str | None = None
    """``combine_subfields``' name field: counted only where no id is present."""

    def fallback_label(self, item_id: str) -> Any:
        """Return the label of an item whose source carries none (04 §6).

        Keys mapped with an object label get ``{"en": id}`` (a string would not
        fit their mapping); every other key shows its id.
        """
        if self.key in OBJECT_LABEL_KEYS:
            return {"en": item_id}
        return item_id

    def label(self, item_id: str, found: Any) -> Any:
        """Return the stored label: the one found, else the fallback."""
        return self.fallback_label(item_id) if found in (None, "", {}) else found


def subcount_specs(subcounts: Mapping[str, Any], side: Side) -> list[SubcountSpec]:
    """Return the keys whose ``side`` has ``source_fields``, in configured order."""
    specs = []
    for key, sides in subcounts.items():
        config = (sides or {}).get(side) or {}
        sources = config.get("source_fields") or []
        if not sources:
            continue
        fields = tuple(
            SourceField(source["field"], source.get("label_field"))
            for source in sources
        )
        ids = {field.field for field in fields}
        names = [
            name
            for source in sources
            for name in source.get("combine_subfields") or []
            if name not in ids
        ]
        specs.append(
            SubcountSpec(
                key=key,
                fields=fields,
                snapshot_type=config.get("snapshot_type", "all"),
                name_field=names[0] if names else None,
            )
        )
    return specs
