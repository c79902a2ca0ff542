"""Celery tasks of the usage-event migration (03 §1, §4.1, §6).

``reindex_usage_events_with_metadata`` takes every option of ``usage-events migrate``
(``--async`` forwards them all); ``get_reindexing_progress`` returns the service's
progress unchanged. Neither is ever scheduled: the migration only starts by hand.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from ..errors import TaskLockAcquisitionError
from ..proxies import current_event_reindexing_service


@shared_task(ignore_result=False)
def reindex_usage_events_with_metadata(
    event_types: list[str] | None = None,
    max_batches: int | None = None,
    batch_size: int | None = None,
    max_memory_percent: int | None = None,
    delete_old_indices: bool = False,
    fresh_start: bool = False,
    month_filter: list[str] | None = None,
    reenrich: bool = False,
) -> dict[str, Any]:
    """Run ``reindex_events`` with the given options; return its results as a dict."""
    try:
        results = current_event_reindexing_service.reindex_events(
            event_types=event_types,
            max_batches=max_batches,
            delete_old_indices=delete_old_indices,
            fresh_start=fresh_start,
            month_filter=month_filter,
            batch_size=batch_size,
            max_memory_percent=max_memory_percent,
            reenrich=reenrich,
        )
    except TaskLockAcquisitionError as error:
        return {"completed": False, "refused": True, "error": f"refused: {error}"}
    return results.to_dict()


@shared_task(ignore_result=False)
def get_reindexing_progress() -> dict[str, Any]:
    """Return ``{counts, health}`` of the migration (03 §6)."""
    return current_event_reindexing_service.get_reindexing_progress()
