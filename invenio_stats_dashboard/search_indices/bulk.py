"""The one bulk writer every extension writer uses.

It sends all actions in as few requests as the chunk size allows, refreshes at most
once (through the last request's ``refresh`` parameter) and raises with the failed
items instead of logging and continuing, so callers can retry or report.
"""

from collections.abc import Iterable
from typing import Any

from opensearchpy.helpers import streaming_bulk

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
) -> int:
    """Write ``actions`` and return how many succeeded.

    Failed items raise :class:`BulkWriteError`, unless ``failed_items`` is given: then
    every failed item is appended to it and the caller decides. With ``refresh`` set,
    only the final chunk asks for it, so a run refreshes once.
    """
    pending = list(actions)
    if not pending:
        return 0
    written = failed = 0
    errors: list[dict[str, Any]] = []
    for start in range(0, len(pending), chunk_size):
        chunk = pending[start : start + chunk_size]
        last = start + chunk_size >= len(pending)
        params: dict[str, Any] = (
            {"refresh": _refresh_value(refresh)} if refresh and last else {}
        )
        for ok, item in streaming_bulk(
            client,
            chunk,
            chunk_size=chunk_size,
            raise_on_error=False,
            raise_on_exception=True,
            max_retries=0,
            **params,
        ):
            if ok:
                written += 1
            else:
                failed += 1
                if failed_items is not None:
                    failed_items.append(item)
                elif len(errors) < 10:
                    errors.append(item)
    if failed and failed_items is None:
        raise BulkWriteError(failed, errors)
    return written


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
