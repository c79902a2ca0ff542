"""Reading item ids and labels out of documents (04 §4.3, §6).

Paths are dotted; lists are walked at any level; a trailing ``.keyword`` segment
is ignored. The label of an item is read from the same entry as its id (also one
level down, ``funding[].funder``), so a multi-valued field pairs each id with its
own label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def split_path(path: str) -> list[str]:
    """Split a dotted path, ignoring a trailing ``.keyword`` segment (04 §6)."""
    parts = path.split(".")
    return parts[:-1] if parts and parts[-1] == "keyword" else parts


def container_path(field: str, label_field: str) -> str:
    """Return the path of the entries that hold both the id and the label."""
    common = []
    for id_part, label_part in zip(
        split_path(field), split_path(label_field), strict=False
    ):
        if id_part != label_part:
            break
        common.append(id_part)
    return ".".join(common[: len(split_path(field)) - 1])


def entry_label(source: Mapping[str, Any], field: str, label_field: str, item_id: str):
    """Return the label of the entry whose id is ``item_id``, or None.

    The entries are the values at the path ``field`` and ``label_field`` share,
    lists walked (``funders`` for ``funders.id`` / ``funders.name``); the id and
    the label are read below each entry, one level down too (``funder.id``).
    """
    container = container_path(field, label_field)
    depth = len(container.split(".")) if container else 0
    id_rest, label_rest = split_path(field)[depth:], split_path(label_field)[depth:]
    for entry in values_at(source, container.split(".") if container else []):
        found = values_at(entry, id_rest)
        if any(str(value) == item_id for value in found):
            labels = values_at(entry, label_rest)
            return labels[0] if labels else None
    return None


def values_at(value: Any, parts: list[str]) -> list[Any]:
    """Return the values at ``parts`` below ``value``, walking lists."""
    if isinstance(value, list):
        return [found for item in value for found in values_at(item, parts)]
    if not parts:
        return [] if value is None else [value]
    if not isinstance(value, Mapping):
        return []
    return values_at(value.get(parts[0]), parts[1:])
