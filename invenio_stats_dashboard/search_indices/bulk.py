"""The one bulk writer every extension writer uses.

It sends all actions in as few requests as the chunk size allows, refreshes at most
once (through the last request's ``refresh`` parameter) and raises with the failed
items instead of logging and continuing, so callers can retry or report.
"""

import json
from collections.abc import Iterable
from typing import Any

_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the standard library is the fallback
    _orjson = None

CHUNK_SIZE = 1000


class BulkWriteError(Exception):
    """Some bulk items failed; ``errors`` holds them (at most 10 are kept)."""

    def __init__(self, failed: int, errors: list[dict[str, Any]]):
        """Keep the count and a sample of the failed items."""
        super().__init__(f"{failed} bulk item(s) failed; first: {errors[:1]}")
        self.failed = failed
        self.errors = errors


def bulk_write(
    client,
    actions: Iterable[dict[str, Any]],
    *,
    refresh: bool | str = False,
    chunk_size: int = CHUNK_SIZE,
    failed_items: list[dict[str, Any]] | None = None,
    timeout: float | None = None,
) -> int:
    """Write ``actions`` and return how many succeeded.

    Failed items raise :class:`BulkWriteError`, unless ``failed_items`` is given: then
    every failed item is appended to it and the caller decides. With ``refresh`` set,
    only the final chunk asks for it, so a run refreshes once. Bodies are serialised
    here in one pass and responses carry only what the caller reads, because a
    migration writes millions of documents through this function. ``timeout`` is
    each request's timeout in seconds.
    """
    pending = list(actions)
    if not pending:
        return 0
    written = failed = 0
    errors: list[dict[str, Any]] = []
    for start in range(0, len(pending), chunk_size):
        chunk = pending[start : start + chunk_size]
        last = start + chunk_size >= len(pending)
        params: dict[str, Any] = {"filter_path": RESPONSE_FIELDS}
        if timeout is not None:
            params["request_timeout"] = timeout
        if refresh and last:
            params["refresh"] = _refresh_value(refresh)
        response = client.bulk(body=_ndjson(chunk), params=params)
        for item in response.get("items", []):
            if 200 <= item_result(item).get("status", 500) < 300:
                written += 1
                continue
            failed += 1
            if failed_items is not None:
                failed_items.append(item)
            elif len(errors) < 10:
                errors.append(item)
    if failed and failed_items is None:
        raise BulkWriteError(failed, errors)
    return written


RESPONSE_FIELDS = "items.*._id,items.*._index,items.*.status,items.*.error"
"""The parts of a bulk response callers read (``filter_path``)."""

ACTION_KEYS = ("_index", "_id", "if_seq_no", "if_primary_term", "routing")


def _ndjson(actions: list[dict[str, Any]]) -> bytes:
    """Serialise bulk actions (``_op_type``, metadata, ``_source``/``doc``)."""
    lines = []
    for action in actions:
        op_type = action.get("_op_type", "index")
        meta = {k: action[k] for k in ACTION_KEYS if k in action}
        lines.append(_dumps({op_type: meta}))
        if op_type == "update":
            body = {k: action[k] for k in ("doc", "script", "upsert") if k in action}
            lines.append(_dumps(body))
        elif op_type != "delete":
            lines.append(_dumps(action["_source"]))
    return b"\n".join(lines) + b"\n"


def _dumps(value: Any) -> bytes:
    """Serialise one bulk line (orjson when installed: it comes with InvenioRDM)."""
    if _orjson is not None:
        return _orjson.dumps(value)
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def item_result(item: dict[str, Any]) -> dict[str, Any]:
    """Return the result of one bulk response item (``{"index": {...}}`` → ``{...}``)."""
    result: dict[str, Any] = next(iter(item.values()), {})
    return result


def item_reason(item: dict[str, Any]) -> str:
    """Return why one bulk item failed, in one line."""
    result = item_result(item)
    error = result.get("error")
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("type") or error)
    return str(error) if error else f"status {result.get('status')}"


def _refresh_value(refresh: bool | str) -> str:
    return "wait_for" if refresh == "wait_for" else "true"
