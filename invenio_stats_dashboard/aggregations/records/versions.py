"""What the records aggregators read of a version (04 §4.1–§4.3, §11).

Split, files, owner, parent and subcount items come from the version's document
in ``rdmrecords-records`` (deleted versions included) as indexed when the pass
runs; files that the index hides (public record, restricted files) come from the
database. Items follow the public-metadata rule (01 §5.9): only ``access_statuses``
is taken from a version with restricted metadata, and restricted files give no
``file_types`` item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from invenio_search.utils import prefix_index

from ...record_files import database_file_entries, hides_file_entries
from ...search_indices.paging import RECORDS_ALIAS, batched, iter_hits
from ..labels import container_path, split_path, values_at
from ..subcounts import SubcountSpec

FILE_TYPES = "file_types"
ACCESS_STATUSES = "access_statuses"
BASE_FIELDS = [
    "id",
    "uuid",
    "parent.id",
    "parent.access.owned_by.user",
    "files.enabled",
    "files.entries.key",
    "files.entries.ext",
    "files.entries.size",
    "access.record",
    "access.files",
    "updated",
]


@dataclass(frozen=True)
class VersionFacts:
    """One version as the records aggregators count it."""

    record_id: str
    parent_id: str
    owner: str | None
    with_files: bool
    files: tuple[tuple[str, int], ...]
    """``(lower-cased extension, size)`` of each file."""
    updated: str = ""
    items: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Subcount key → {item id: label or None}."""

    @property
    def split(self) -> str:
        """Return ``with_files`` or ``metadata_only``."""
        return "with_files" if self.with_files else "metadata_only"

    def item_files(self, key: str, item_id: str) -> list[tuple[str, int]]:
        """Return the files an item counts: its own extension for ``file_types``."""
        if key == FILE_TYPES:
            return [entry for entry in self.files if entry[0] == item_id]
        return list(self.files)


def source_fields(specs: Sequence[SubcountSpec]) -> list[str]:
    """Return the ``_source`` paths a pass needs for ``specs``."""
    paths = set(BASE_FIELDS)
    for spec in specs:
        for source in spec.fields:
            paths.add(".".join(split_path(source.field)))
            if source.label_field:
                paths.add(".".join(split_path(source.label_field)))
        if spec.name_field:
            paths.add(".".join(split_path(spec.name_field)))
    return sorted(paths)


def _items(source: Mapping[str, Any], spec: SubcountSpec) -> dict[str, Any]:
    """Return ``{item id: label}`` of one key, each item once (04 §4.3)."""
    found: dict[str, Any] = {}
    for source_field in spec.fields:
        id_path = source_field.field
        if source_field.label_field:
            container = container_path(id_path, source_field.label_field)
            depth = len(container.split(".")) if container else 0
            id_rest = split_path(id_path)[depth:]
            label_rest = split_path(source_field.label_field)[depth:]
            entries = values_at(source, container.split(".") if container else [])
            for entry in entries:
                labels = values_at(entry, label_rest)
                for value in values_at(entry, id_rest):
                    found.setdefault(str(value), labels[0] if labels else None)
        else:
            for value in values_at(source, split_path(id_path)):
                item_id = str(value).lower() if spec.key == FILE_TYPES else str(value)
                found.setdefault(item_id, None)
    if spec.name_field:
        _add_names(source, spec, found)
    return found


def _add_names(source: Mapping[str, Any], spec: SubcountSpec, found: dict) -> None:
    """Add entries with only a name (``combine_subfields``, 04 §4.3).

    A name equal (case-insensitively) to the label of an id item of the same
    version merges into it; any other name is an item of its own.
    """
    assert spec.name_field is not None  # noqa: S101 - checked by the caller
    id_path = spec.fields[0].field
    container = container_path(id_path, spec.name_field)
    depth = len(container.split(".")) if container else 0
    id_rest = split_path(id_path)[depth:]
    name_rest = split_path(spec.name_field)[depth:]
    labels = {str(label).lower() for label in found.values() if isinstance(label, str)}
    for entry in values_at(source, container.split(".") if container else []):
        if values_at(entry, id_rest):
            continue
        for name in values_at(entry, name_rest):
            if str(name).lower() not in labels:
                found.setdefault(str(name), None)


def facts_of(
    source: Mapping[str, Any],
    specs: Sequence[SubcountSpec],
    database_files: Mapping[str, list[dict]] | None = None,
) -> VersionFacts:
    """Return the facts of one indexed version."""
    access = source.get("access") or {}
    public = access.get("record") == "public"
    files_public = access.get("files", "public") == "public"
    files_section = source.get("files") or {}
    if hides_file_entries(source) and database_files is not None:
        entries = database_files.get(str(source.get("uuid")), [])
    else:
        entries = files_section.get("entries") or []
        if isinstance(entries, Mapping):
            entries = list(entries.values())
    files = tuple(
        (str(entry.get("ext") or "").lower(), int(entry.get("size") or 0))
        for entry in entries
    )
    items: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if spec.key == FILE_TYPES:
            chosen = public and files_public
        else:
            chosen = public or spec.key == ACCESS_STATUSES
        items[spec.key] = _items(source, spec) if chosen else {}
    parent = source.get("parent") or {}
    owner = ((parent.get("access") or {}).get("owned_by") or {}).get("user")
    return VersionFacts(
        record_id=str(source["id"]),
        parent_id=str(parent.get("id") or source["id"]),
        owner=str(owner) if owner is not None else None,
        with_files=bool(files_section.get("enabled")),
        files=files,
        updated=str(source.get("updated") or ""),
        items=items,
    )


def _sources(
    client,
    field_name: str,
    values: Iterable[str],
    includes: list[str],
    page: int | Callable[[], int],
) -> Iterator[dict[str, Any]]:
    for batch in batched(sorted(set(values))):
        for hit in iter_hits(
            client,
            index=prefix_index(RECORDS_ALIAS),
            body={
                "query": {"terms": {field_name: batch}},
                "_source": {"includes": includes},
            },
            sort=[{"id": "asc"}],
            page_size=page,
        ):
            yield hit["_source"]


def load_versions(
    client,
    specs: Sequence[SubcountSpec],
    *,
    record_ids: Iterable[str] = (),
    parent_ids: Iterable[str] = (),
    owners: Iterable[str] = (),
    page_size: int | Callable[[], int] = 200,
) -> dict[str, VersionFacts]:
    """Return the facts of the named versions, parents' and owners' versions.

    Each selector is searched in pages with no size cap.
    """
    includes = source_fields(specs)
    selectors = (
        ("id", record_ids),
        ("parent.id", parent_ids),
        ("parent.access.owned_by.user", owners),
    )
    sources = {
        str(source["id"]): source
        for field_name, values in selectors
        for source in _sources(client, field_name, values, includes, page_size)
    }
    hidden = [
        str(source.get("uuid"))
        for source in sources.values()
        if hides_file_entries(source)
    ]
    database_files = database_file_entries(hidden) if hidden else {}
    return {
        record_id: facts_of(source, specs, database_files)
        for record_id, source in sources.items()
    }
