"""Default extraction of enriched usage-event fields from a record ``_source``.

The live events indexer and the usage-event migration call the same functions
(01 §7), always on the record's full ``_source`` as indexed in
``{prefix}rdmrecords-records`` (vocabulary relations resolved). Every function is
pure: it reads the given mappings and returns new values, projected onto the
sub-fields that the event templates map (01 §5.1), so an unexpected key in a
record can never make an event fail to index.

Applying the public-metadata rule (01 §5.9) is the caller's job: these
functions extract whatever the record holds.
"""

from __future__ import annotations

import importlib
import mimetypes
import os
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

KEYWORD = "keyword"
"""Shape marker: a keyword field (a scalar, or a list of scalars)."""

DYNAMIC = "dynamic"
"""Shape marker: a dynamic object such as a language-keyed ``title``."""

_IDENTIFIERS = {"identifier": KEYWORD, "scheme": KEYWORD}
_ORGANISATION = {
    "@v": KEYWORD,
    "id": KEYWORD,
    "name": KEYWORD,
    "identifiers": _IDENTIFIERS,
}

EVENT_FIELD_SHAPES: dict[str, Any] = {
    "resource_type": {
        "@v": KEYWORD,
        "id": KEYWORD,
        "title": DYNAMIC,
        "props": {"type": KEYWORD, "subtype": KEYWORD},
    },
    "access_status": KEYWORD,
    "publisher": KEYWORD,
    "languages": {"@v": KEYWORD, "id": KEYWORD, "title": DYNAMIC},
    "subjects": {"@v": KEYWORD, "id": KEYWORD, "subject": KEYWORD, "scheme": KEYWORD},
    "rights": {
        "@v": KEYWORD,
        "id": KEYWORD,
        "title": DYNAMIC,
        "description": DYNAMIC,
        "props": {"url": KEYWORD, "scheme": KEYWORD},
        "link": KEYWORD,
        "icon": KEYWORD,
    },
    "affiliations": _ORGANISATION,
    "funders": _ORGANISATION,
    "journal_title": KEYWORD,
    "file_types": KEYWORD,
}
"""Mapped shape of every enrichment field of the event templates (01 §5.1)."""

LIST_EVENT_FIELDS = frozenset(
    {"languages", "subjects", "rights", "affiliations", "funders", "file_types"}
)
"""Enrichment fields that hold a list of values."""

MAPPED_EVENT_FIELDS = frozenset(EVENT_FIELD_SHAPES)
"""Names a subcount's ``event_field`` may use without an ``event_field_mapping``."""

_SCALARS = (str, int, float, bool)
_OCTET_STREAM = "application/octet-stream"
# Content-encoding to MIME type, as invenio-files-rest maps it for object versions.
_ENCODING_MIMETYPES = {
    "gzip": "application/gzip",
    "compress": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}


def get_path(data: Any, path: str) -> Any:
    """Return the value at a dotted ``path`` of ``data``, or None.

    Lists met on the way are walked item by item and the found values are
    collected (flattened) into one list, e.g. ``metadata.funding.funder``.
    """
    parts = path.split(".")
    current = data
    for index, part in enumerate(parts):
        if isinstance(current, list):
            rest = ".".join(parts[index:])
            found: list[Any] = []
            for item in current:
                value = get_path(item, rest)
                if isinstance(value, list):
                    found.extend(value)
                elif value is not None:
                    found.append(value)
            return found or None
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
        if current is None:
            return None
    return current


def project(shape: Any, value: Any) -> Any:
    """Cut ``value`` down to ``shape``; return None when nothing mapped is left."""
    if value is None:
        return None
    if isinstance(value, list):
        items = [project(shape, item) for item in value]
        items = [item for item in items if item is not None]
        return items or None
    if shape == KEYWORD:
        return value if isinstance(value, _SCALARS) else None
    if shape == DYNAMIC:
        if not _is_mapping(value):
            return None
        kept = {str(k): v for k, v in value.items() if isinstance(v, _SCALARS)}
        return kept or None
    if not _is_mapping(value):
        return None
    projected = {}
    for key, sub_shape in shape.items():
        sub_value = project(sub_shape, value.get(key))
        if sub_value is not None:
            projected[key] = sub_value
    return projected or None


def _is_mapping(value: Any) -> bool:
    """Return whether ``value`` is a mapping, checking the common ``dict`` first."""
    return type(value) is dict or isinstance(value, Mapping)


def project_event_field(event_field: str, value: Any) -> Any:
    """Project an extracted value onto the mapping of ``event_field``.

    List fields always give a list (possibly empty); other fields give the
    projected value or None. Unknown fields are returned unchanged, because
    their mapping comes from the subcount's ``event_field_mapping``.
    """
    shape = EVENT_FIELD_SHAPES.get(event_field)
    if shape is None:
        return value
    projected = project(shape, value)
    if event_field in LIST_EVENT_FIELDS:
        if projected is None:
            return []
        return projected if isinstance(projected, list) else [projected]
    return projected


def _org_key(item: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return the de-duplication key of an organisation: its id, else its name."""
    for key in ("id", "name"):
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return key, value
    return None


def _unique_organisations(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Project organisations and keep the first one of each id (or name)."""
    seen: set[tuple[str, str]] = set()
    result: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        projected = project(_ORGANISATION, item)
        key = _org_key(projected) if projected else None
        if key is None or key in seen:
            continue
        seen.add(key)
        result.append(projected)
    return result


def _as_list(value: Any) -> list[Any]:
    """Return ``value`` as a list (a single mapping becomes one item)."""
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return [value]
    return []


def extract_funders(source: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the funders of a record: each ``metadata.funding[].funder``.

    Funders are projected onto ``@v``, ``id``, ``name`` and ``identifiers``
    and de-duplicated by id, or by name when they have no id.
    """
    funding = _as_list(get_path(source, "metadata.funding"))
    return _unique_organisations(
        entry.get("funder") for entry in funding if isinstance(entry, Mapping)
    )


def extract_affiliations(source: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the affiliations of the creators, then of the contributors.

    Affiliations are projected like funders and de-duplicated by id, or by
    name when they have no id; the first occurrence wins.
    """
    items: list[Any] = []
    for role in ("creators", "contributors"):
        for person in _as_list(get_path(source, f"metadata.{role}")):
            if isinstance(person, Mapping):
                items.extend(_as_list(person.get("affiliations")))
    return _unique_organisations(items)


def file_extension(key: str | None, mimetype: str | None = None) -> str | None:
    """Return the extension of a file as invenio-records-resources' ``File.ext`` does.

    The extension guessed from the MIME type comes first (so ``.jpeg`` gives
    ``jpg``), then a key suffix of at most four characters, then any guess.
    """
    if not mimetype:
        if not key:
            return None
        mimetype, encoding = mimetypes.guess_type(key)
        if encoding:
            mimetype = _ENCODING_MIMETYPES.get(encoding)
        mimetype = mimetype or _OCTET_STREAM
    guessed = mimetypes.guess_extension(mimetype)
    if guessed is not None and mimetype != _OCTET_STREAM:
        return guessed[1:]
    suffix = os.path.splitext(key or "")[1]
    if suffix and len(suffix) <= 5:
        return suffix[1:].lower()
    return guessed[1:] if guessed else None


def _file_entries(source: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return ``files.entries`` as a list, whether it is a list or a key map."""
    entries = get_path(source, "files.entries")
    if isinstance(entries, Mapping):
        entries = [
            {"key": key, **entry} if isinstance(entry, Mapping) else entry
            for key, entry in entries.items()
        ]
    return [entry for entry in _as_list(entries) if isinstance(entry, Mapping)]


def _entry_extension(entry: Mapping[str, Any]) -> str | None:
    """Return the extension of one file entry: its ``ext``, else from its key."""
    ext = entry.get("ext")
    if isinstance(ext, str) and ext:
        return ext
    key = entry.get("key")
    mimetype = entry.get("mimetype")
    return file_extension(
        key if isinstance(key, str) else None,
        mimetype if isinstance(mimetype, str) else None,
    )


def _unique_lower(values: Iterable[Any]) -> list[str]:
    """Lower-case strings and drop empty values and duplicates, keeping order."""
    result: list[str] = []
    for value in values:
        if isinstance(value, str) and value and value.lower() not in result:
            result.append(value.lower())
    return result


def _download_file_type(
    source: Mapping[str, Any], event: Mapping[str, Any]
) -> list[str] | None:
    """Return the extension of the file a download event fetched."""
    file_id, file_key = event.get("file_id"), event.get("file_key")
    for entry in _file_entries(source):
        same_id = file_id and file_id in (entry.get("file_id"), entry.get("id"))
        if same_id or (file_key and entry.get("key") == file_key):
            return _unique_lower([_entry_extension(entry)]) or None
    if isinstance(file_key, str):
        return _unique_lower([file_extension(file_key)]) or None
    return None


def extract_file_types(
    source: Mapping[str, Any], event: Mapping[str, Any] | None = None
) -> list[str] | None:
    """Return the lower-case file extensions of a record, or None without files.

    For a view (no ``event``, or one without ``file_id``/``file_key``) these are
    ``files.types`` when non-empty, else the ``ext`` of every entry of
    ``files.entries``. For a download event only the downloaded file counts: its
    entry's ``ext``, else the extension derived from ``file_key``.
    """
    if event and (event.get("file_id") or event.get("file_key")):
        return _download_file_type(source, event)
    types = _unique_lower(_as_list(get_path(source, "files.types")) or [])
    if not types:
        types = _unique_lower(_entry_extension(e) for e in _file_entries(source))
    return types or None


extract_funders.source_paths = ("metadata.funding.funder",)  # type: ignore[attr-defined]
extract_affiliations.source_paths = (  # type: ignore[attr-defined]
    "metadata.creators.affiliations",
    "metadata.contributors.affiliations",
)
extract_file_types.source_paths = (  # type: ignore[attr-defined]
    "files.enabled",
    "files.types",
    "files.entries",
)


def source_paths(extractor: Callable[..., Any]) -> tuple[str, ...] | None:
    """Return the record ``_source`` paths an extractor reads, or None if unknown.

    A dotted path reads itself; a callable declares its paths in a
    ``source_paths`` attribute. The migration fetches only these paths of each
    record, and the whole record when any extractor does not say.
    """
    if isinstance(extractor, partial) and extractor.func is _extract_path:
        return (extractor.keywords["path"],)
    paths = getattr(extractor, "source_paths", None)
    return tuple(paths) if paths is not None else None


def _import_callable(spec: str) -> Callable[..., Any] | None:
    """Import ``module:attribute``; return None when the module does not exist."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        return None
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            return None
        raise
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"{spec!r}: module {module_name!r} has no {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"{spec!r} is not callable")
    return target


def resolve_extractor(spec: Any) -> Callable[..., Any]:
    """Turn an ``extraction_path_for_event`` value into a callable on ``_source``.

    A callable is returned as is. A string ``module:function`` whose module
    exists is imported (it must name a callable). Any other string is a dotted
    ``_source`` path such as ``metadata.resource_type`` or
    ``custom_fields.journal:journal.title``.
    """
    if callable(spec):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"expected a dotted path or a callable, got {spec!r}")
    imported = _import_callable(spec) if ":" in spec else None
    if imported is not None:
        return imported
    return partial(_extract_path, path=spec)


def _extract_path(source: Mapping[str, Any], path: str) -> Any:
    """Return the value at ``path`` of ``source`` (callable form of a dotted path)."""
    return get_path(source, path)
