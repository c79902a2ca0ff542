"""Redis state shared by the events indexer and the migration (01 §9.3, 03 §3.3, §4.6).

- the pause flag ``<prefix>-state:usage_events_indexing_paused`` (with a TTL, so a
  killed migration can never stop live indexing for longer than the timeout);
- the indexing lock ``<prefix>-lock:community_stats_usage_events_indexing``, held by
  an indexer run, which the migration waits on after setting the pause;
- ``<prefix>-state:usage_indexer_fingerprints``: enrichment fingerprint → the last
  time an indexer ran with it, so re-enrichment can refuse while old workers run.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import redis
from flask import current_app

from .. import config as defaults
from ..locks import LeaseLock, cache_redis_url, lock_key
from ..timeutils import format_utc, parse_utc, utc_now

INDEXING_LOCK_NAME = "community_stats_usage_events_indexing"
INDEXING_LOCK_LEASE = 300
PAUSE_KEY = "usage_events_indexing_paused"
FINGERPRINTS_KEY = "usage_indexer_fingerprints"


def _config(config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return current_app.config if config is None else config


def state_key(config: Mapping[str, Any], name: str) -> str:
    """Return ``<STATS_CACHE_PREFIX>-state:<name>``."""
    prefix = config.get("STATS_CACHE_PREFIX") or defaults.STATS_CACHE_PREFIX
    return f"{prefix}-state:{name}"


def redis_client(config: Mapping[str, Any] | None = None) -> redis.Redis:
    """Return a redis-py client on the invenio-cache Redis."""
    return redis.Redis.from_url(cache_redis_url(_config(config)))


def indexing_lock(
    client: redis.Redis, config: Mapping[str, Any] | None = None
) -> LeaseLock:
    """Return the lease the events indexer holds while it runs."""
    config = _config(config)
    prefix = config.get("STATS_CACHE_PREFIX") or defaults.STATS_CACHE_PREFIX
    return LeaseLock(
        client,
        lock_key(prefix, INDEXING_LOCK_NAME),
        INDEXING_LOCK_LEASE,
        name=INDEXING_LOCK_NAME,
    )


def indexing_lock_held(
    client: redis.Redis, config: Mapping[str, Any] | None = None
) -> bool:
    """Whether an indexer run holds its lock now."""
    config = _config(config)
    prefix = config.get("STATS_CACHE_PREFIX") or defaults.STATS_CACHE_PREFIX
    return bool(client.exists(lock_key(prefix, INDEXING_LOCK_NAME)))


def is_paused(client: redis.Redis, config: Mapping[str, Any] | None = None) -> bool:
    """Whether the migration asked live indexing to pause."""
    return bool(client.exists(state_key(_config(config), PAUSE_KEY)))


class IndexingPause:
    """The pause flag of the month switch, renewed by the caller while it works."""

    def __init__(
        self,
        client: redis.Redis,
        timeout: int,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.timeout = int(timeout)
        self.key = state_key(_config(config), PAUSE_KEY)
        self.config = _config(config)
        self.token = f"{socket.gethostname()}:{time.time_ns()}"

    def set(self) -> None:
        """Set (or take over) the flag with its full TTL."""
        self.client.set(self.key, self.token, ex=self.timeout)

    def renew(self) -> bool:
        """Reset the TTL; False when the flag expired or another run replaced it."""
        if self._current() != self.token:
            return False
        return bool(self.client.expire(self.key, self.timeout))

    @property
    def held(self) -> bool:
        """Whether the flag is still ours."""
        return self._current() == self.token

    def _current(self) -> str | None:
        """Return the token the flag holds now, if any."""
        value = self.client.get(self.key)
        return _text(value) if value is not None else None

    def release(self) -> None:
        """Remove the flag when it is still ours."""
        if self.held:
            self.client.delete(self.key)

    def wait_for_indexer(self, poll: float = 0.2) -> bool:
        """Wait until no indexer run holds its lock, at most the timeout."""
        deadline = time.monotonic() + self.timeout
        while indexing_lock_held(self.client, self.config):
            if time.monotonic() > deadline or not self.renew():
                return False
            time.sleep(poll)
        return True


def record_fingerprint(
    client: redis.Redis, fingerprint: str, config: Mapping[str, Any] | None = None
) -> None:
    """Note that an indexer ran with ``fingerprint`` now."""
    client.hset(
        state_key(_config(config), FINGERPRINTS_KEY), fingerprint, format_utc(utc_now())
    )


def recent_fingerprints(
    client: redis.Redis,
    within: timedelta = timedelta(minutes=60),
    config: Mapping[str, Any] | None = None,
) -> dict[str, datetime]:
    """Return the fingerprints indexers reported in the last ``within``."""
    raw = client.hgetall(state_key(_config(config), FINGERPRINTS_KEY))
    since = utc_now() - within
    recent = {}
    for key, value in raw.items():
        seen = parse_utc(_text(value))
        if seen is not None and seen >= since:
            recent[_text(key)] = seen
    return recent


def _text(value: bytes | str) -> str:
    """Decode a Redis reply (bytes unless the client decodes responses)."""
    return value.decode() if isinstance(value, bytes) else value
