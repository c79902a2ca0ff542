"""Renewable lease locks: one run at a time of each long operation (07 §2.10).

A lock is the key ``<STATS_CACHE_PREFIX>-lock:<lock name>`` on the invenio-cache Redis
(01 §9.3), held through redis-py's :class:`redis.lock.Lock`:

- acquire is ``SET NX PX`` with a holder token, a JSON text naming a random token, the
  host, the pid and the start time, so a refused run can say who holds the lock;
- a heartbeat thread renews the lease every ``lease / 3`` seconds, independently of
  the work, so a live run is never cut off while a dead holder's lock expires after
  one lease;
- release is an atomic compare-and-delete: it never removes another holder's key.

invenio-cache's ``CachedMutex`` cannot do this (no token, blind delete), hence the
direct redis-py client. When the process runs as a background job the token is also
recorded in the job's status file, so ``processes cancel`` can release exactly it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import redis
from flask import current_app
from redis.exceptions import LockError, LockNotOwnedError

from . import config as defaults
from .errors import TaskLockAcquisitionError
from .jobs.status import forget_lock_token, record_lock_token, utc_timestamp

LOCK_KEY_INFIX = "-lock:"
DEFAULT_CACHE_REDIS_URL = "redis://localhost:6379/0"
"""invenio-cache's default when ``CACHE_REDIS_URL`` is not set."""

logger = logging.getLogger(__name__)


def lock_key(prefix: str, lock_name: str) -> str:
    """Return ``<prefix>-lock:<lock_name>``."""
    return f"{prefix}{LOCK_KEY_INFIX}{lock_name}"


def cache_redis_url(config: Mapping[str, Any]) -> str:
    """Return the invenio-cache Redis URL, where task locks live."""
    return str(config.get("CACHE_REDIS_URL") or DEFAULT_CACHE_REDIS_URL)


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as written in its holder token."""

    token: str
    host: str
    pid: str
    since: str

    @classmethod
    def from_value(cls, value: bytes | str) -> LockHolder:
        """Parse a stored token; a foreign value gives an ``unknown`` holder."""
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return cls(text, "unknown", "unknown", "unknown")
        return cls(
            text,
            str(data.get("host", "unknown")),
            str(data.get("pid", "unknown")),
            str(data.get("since", "unknown")),
        )


def lock_holder(client: redis.Redis, key: str) -> LockHolder | None:
    """Return the current holder of ``key``, or None when the lock is free."""
    value = client.get(key)
    return None if value is None else LockHolder.from_value(value)


def new_holder_token() -> str:
    """Return a holder token: random, plus host, pid and start time for messages."""
    return json.dumps(
        {
            "token": secrets.token_hex(16),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": utc_timestamp(),
        },
        sort_keys=True,
    )


def release_lock_token(redis_url: str, key: str, token: str) -> bool:
    """Delete ``key`` only if ``token`` still holds it; no app needed.

    Used by ``processes cancel`` with the entries of a job's ``lock_tokens``.
    Returns False when the key is gone or held by another token.
    """
    client = redis.Redis.from_url(redis_url)
    try:
        client.lock(key, thread_local=False).do_release(token.encode())
    except LockNotOwnedError:
        return False
    finally:
        client.close()
    return True


class LeaseLock:
    """A held-while-working lease on one Redis key, renewed by a heartbeat thread.

    ``lost`` becomes True if a renewal finds the key gone or taken over (e.g. after a
    Redis failover); long loops may check it to stop early.
    """

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        lease: float,
        *,
        name: str | None = None,
        redis_url: str | None = None,
    ) -> None:
        self.client = client
        self.key = key
        self.lease = lease
        self.name = name or key
        self.redis_url = redis_url
        self.token: str | None = None
        self.lost = False
        self._lock = client.lock(key, timeout=lease, thread_local=False)
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock or raise TaskLockAcquisitionError naming the holder."""
        token = new_holder_token()
        for _attempt in range(2):  # the holder may expire between SET and GET
            if self._lock.acquire(blocking=False, token=token):
                self._held(token)
                return
            holder = lock_holder(self.client, self.key)
            if holder is not None:
                raise TaskLockAcquisitionError(
                    self.name, holder.host, holder.pid, holder.since
                )
        raise TaskLockAcquisitionError(self.name, "unknown", "unknown", "unknown")

    def _held(self, token: str) -> None:
        self.token = token
        self.lost = False
        self._stop.clear()
        self._heartbeat = threading.Thread(
            target=self._renew, name=f"lease-{self.name}", daemon=True
        )
        self._heartbeat.start()
        if self.redis_url:
            record_lock_token(
                {"key": self.key, "token": token, "redis_url": self.redis_url}
            )

    def _renew(self) -> None:
        """Reset the lease to its full length every lease/3 seconds until released."""
        while not self._stop.wait(self.lease / 3):
            try:
                self._lock.reacquire()
            except LockNotOwnedError:
                self.lost = True
                logger.error("lock %s was lost: its key expired or changed", self.name)
                return
            except (LockError, redis.RedisError) as error:
                logger.warning("renewing lock %s failed: %s", self.name, error)

    def release(self) -> bool:
        """Stop renewing and delete the key if this holder still owns it."""
        if self.token is None:
            return False
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=self.lease)
        token, self.token = self.token, None
        try:
            self._lock.release()
        except LockNotOwnedError:
            logger.warning("lock %s was no longer ours; left it alone", self.name)
            return False
        finally:
            if self.redis_url:
                forget_lock_token(token)
        return True

    def __enter__(self) -> LeaseLock:
        """Acquire on entry."""
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Release on exit, however the block ended."""
        self.release()


def lock_settings(section: str, config: Mapping[str, Any]) -> tuple[str, int] | None:
    """Return (lock name, lease) of ``section``, or None when it takes no lock."""
    settings: Mapping[str, Any] = (
        config.get("STATS_DASHBOARD_LOCK_CONFIG")
        or defaults.STATS_DASHBOARD_LOCK_CONFIG
    )
    if section not in settings or not isinstance(settings[section], Mapping):
        raise ValueError(f"STATS_DASHBOARD_LOCK_CONFIG has no section {section!r}")
    entry = settings[section]
    if not settings.get("enabled", True) or not entry.get("enabled", True):
        return None
    return str(entry["lock_name"]), int(entry["lock_timeout"])


@contextmanager
def task_lock(
    section: str,
    *,
    config: Mapping[str, Any] | None = None,
    client: redis.Redis | None = None,
) -> Iterator[LeaseLock | None]:
    """Hold the lock of ``section`` of ``STATS_DASHBOARD_LOCK_CONFIG`` for a block.

    Yields the held :class:`LeaseLock`, or None when the top-level or the section's
    ``enabled`` is false. Raises TaskLockAcquisitionError when another run holds it.
    ``config`` defaults to the current app's.
    """
    config = current_app.config if config is None else config
    settings = lock_settings(section, config)
    if settings is None:
        yield None
        return
    lock_name, lease = settings
    url = cache_redis_url(config)
    own_client = client is None
    redis_client = redis.Redis.from_url(url) if client is None else client
    prefix = config.get("STATS_CACHE_PREFIX") or defaults.STATS_CACHE_PREFIX
    lease_lock = LeaseLock(
        redis_client, lock_key(prefix, lock_name), lease, name=lock_name, redis_url=url
    )
    try:
        with lease_lock:
            yield lease_lock
    finally:
        if own_client:
            redis_client.close()
