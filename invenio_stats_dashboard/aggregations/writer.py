"""Bulk writing of one pass's daily documents with adaptive chunks (04 §10).

Documents stream in day order. A chunk that the cluster refuses as too large (HTTP
413) or that times out is retried from its own buffer with a smaller size; after a
success the size grows again. A document the cluster rejects stops the pass: every
day before the first failed one is final, and the bookmark stops there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from opensearchpy.exceptions import ConnectionTimeout, TransportError

from ..search_indices.bulk import bulk_write, item_reason, item_result
from .names import document_id, yearly_index

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkPolicy:
    """How many documents a bulk request carries, and how that adapts."""

    initial: int = 50
    minimum: int = 1
    maximum: int = 100
    reduction: float = 0.7
    growth: float = 1.05
    timeout: float = 300

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ChunkPolicy:
        """Read the ``COMMUNITY_STATS_*_CHUNK_*`` variables (07 §2.9)."""
        return cls(
            initial=config["COMMUNITY_STATS_INITIAL_CHUNK_SIZE"],
            minimum=config["COMMUNITY_STATS_MIN_CHUNK_SIZE"],
            maximum=config["COMMUNITY_STATS_MAX_CHUNK_SIZE"],
            reduction=config["COMMUNITY_STATS_CHUNK_REDUCTION_FACTOR"],
            growth=config["COMMUNITY_STATS_CHUNK_GROWTH_FACTOR"],
            timeout=config["COMMUNITY_STATS_BULK_INDEX_TIMEOUT"],
        )

    def grown(self, size: int) -> int:
        """Return the size after a successful chunk."""
        return min(self.maximum, max(size + 1, int(size * self.growth)))

    def reduced(self, size: int) -> int:
        """Return the size after a refused chunk."""
        return max(self.minimum, int(size * self.reduction))


@dataclass
class WriteResult:
    """What a pass wrote."""

    first_day: date | None = None
    last_written_day: date | None = None
    """Last day of the unbroken run of written days from the first one."""
    written: int = 0
    error: str | None = None
    indices: set[str] = field(default_factory=set)
    years: set[int] = field(default_factory=set)
    interrupted: bool = False


class PassStopped(Exception):
    """Raised by a document producer that must stop the pass (memory budget)."""


class DayDocumentWriter:
    """Write one aggregator's documents of one scope, one document per day."""

    def __init__(
        self,
        client,
        alias: str,
        policy: ChunkPolicy,
        should_stop: Callable[[], bool] = lambda: False,
    ):
        """Write to ``<alias>-<YYYY>`` indices with the chunk ``policy``.

        ``should_stop`` is asked after each chunk: a stop requested by a signal
        ends the pass there, with every day written so far final.
        """
        self.client = client
        self.alias = alias
        self.policy = policy
        self.should_stop = should_stop
        self.size = policy.initial

    def write(
        self, scope: str, documents: Iterable[tuple[date, dict[str, Any]]]
    ) -> WriteResult:
        """Write ``documents`` in day order; stop at the first failed day.

        A producer that raises :class:`PassStopped` ends the pass like a stop
        request: the days produced before it are written and final.
        """
        result = WriteResult()
        buffer: list[tuple[date, dict[str, Any]]] = []
        try:
            for day, document in documents:
                if result.first_day is None:
                    result.first_day = day
                buffer.append((day, self._action(scope, day, document)))
                if len(buffer) >= self.size and not self._flush(buffer, result):
                    buffer.clear()
                    break
                if self.should_stop():
                    result.interrupted = True
                    break
        except PassStopped:
            result.interrupted = True
        while buffer and self._flush(buffer, result):
            pass
        if result.indices:
            self.client.indices.refresh(index=",".join(sorted(result.indices)))
        return result

    def _action(self, scope: str, day: date, document: dict[str, Any]):
        return {
            "_op_type": "index",
            "_index": yearly_index(self.alias, day),
            "_id": document_id(scope, day),
            "_source": document,
        }

    def _flush(self, buffer: list, result: WriteResult) -> bool:
        """Send the buffer's first chunk; False when the pass must stop."""
        chunk = buffer[: self.size]
        failed: list[dict[str, Any]] = []
        try:
            bulk_write(
                self.client,
                [action for _, action in chunk],
                chunk_size=len(chunk),
                failed_items=failed,
                timeout=self.policy.timeout,
            )
        except (TransportError, ConnectionTimeout) as error:
            if not _is_too_large(error):
                raise
            if self.size <= self.policy.minimum:
                result.error = f"bulk chunk of {self.size} refused: {error}"
                return False
            self.size = self.policy.reduced(min(self.size, len(chunk)))
            logger.warning(
                "bulk chunk refused (%s); retrying with %s", error, self.size
            )
            return True
        del buffer[: len(chunk)]
        failed_ids = {item_result(item).get("_id") for item in failed}
        for day, action in chunk:
            if action["_id"] in failed_ids:
                reason = next(
                    item_reason(i)
                    for i in failed
                    if item_result(i).get("_id") == action["_id"]
                )
                result.error = f"{action['_id']}: {reason}"
                return False
            result.written += 1
            result.indices.add(action["_index"])
            result.years.add(day.year)
            if (
                result.last_written_day is None
                or day == result.last_written_day + timedelta(days=1)
            ):
                result.last_written_day = day
        self.size = self.policy.grown(self.size)
        return True


def _is_too_large(error: Exception) -> bool:
    """Return True for the errors a smaller chunk may cure: 413 and timeouts."""
    if isinstance(error, ConnectionTimeout):
        return True
    return getattr(error, "status_code", None) == 413
