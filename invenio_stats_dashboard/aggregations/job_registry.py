"""The job registry keys an aggregation run sets (01 §9.2, 05 §9.6, 04 §8).

While a scope is aggregated ``<scope>_agg`` holds the start time (TTL 7200 s,
refreshed); ``<scope>_first_run`` becomes ``in_progress`` when absent (the cache
capability sets ``completed``); after the run ``<scope>_agg_updated_<year>`` marks
every past year in which documents were written, so cached responses of that year
are regenerated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import redis

from ..redis_urls import agg_registry_redis_url
from ..timeutils import format_utc, utc_now

AGG_TTL = 7200
UPDATED_TTL = 7 * 86_400
FIRST_RUN_IN_PROGRESS = "in_progress"


class JobRegistry:
    """The registry keys of aggregation, in ``STATS_AGG_REGISTRY_REDIS_DB``."""

    def __init__(self, config: Mapping[str, Any], client: redis.Redis | None = None):
        """Connect to the registry database of ``config`` (or use ``client``)."""
        self.prefix = str(
            config.get("STATS_AGG_REGISTRY_PREFIX") or "stats_agg_registry"
        )
        self.client = client or redis.Redis.from_url(agg_registry_redis_url(config))

    def key(self, scope: str, operation: str) -> str:
        """Return ``<prefix>:<scope>_<operation>``."""
        return f"{self.prefix}:{scope}_{operation}"

    @contextmanager
    def aggregating(self, scope: str) -> Iterator[None]:
        """Mark ``scope`` as being aggregated for the duration of the block."""
        self.client.set(self.key(scope, "agg"), format_utc(utc_now()), ex=AGG_TTL)
        self.client.set(self.key(scope, "first_run"), FIRST_RUN_IN_PROGRESS, nx=True)
        try:
            yield
        finally:
            self.client.delete(self.key(scope, "agg"))

    def refresh(self, scope: str) -> None:
        """Extend the in-progress mark of a long run."""
        self.client.expire(self.key(scope, "agg"), AGG_TTL)

    def mark_updated_years(
        self, scope: str, years: Iterable[int], current: int
    ) -> None:
        """Flag every past year written, so its cached responses are rebuilt."""
        stamp = format_utc(utc_now())
        for year in sorted(set(years)):
            if year < current:
                self.client.set(
                    self.key(scope, f"agg_updated_{year}"), stamp, ex=UPDATED_TTL
                )

    def close(self) -> None:
        """Close the connection."""
        self.client.close()
