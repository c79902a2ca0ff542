"""Redis URLs of the response cache and the job registry (07 §2.9).

Rules:

- ``STATS_CACHE_REDIS_URL`` unset (``None``, empty, or the text ``None``) means
  ``CACHE_REDIS_URL`` (``redis://localhost:6379`` when that is unset too) with its
  database replaced by ``STATS_CACHE_REDIS_DB``;
- a ``STATS_CACHE_REDIS_URL`` without a database gets ``STATS_CACHE_REDIS_DB``
  appended; one with a database is used as given;
- the job registry uses the cache URL with its database replaced by
  ``STATS_AGG_REGISTRY_REDIS_DB``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_REDIS_URL = "redis://localhost:6379"
"""Base URL when neither ``STATS_CACHE_REDIS_URL`` nor ``CACHE_REDIS_URL`` is set."""

DEFAULT_REDIS_PORT = 6379
REDIS_SCHEMES = ("redis", "rediss", "unix")


def is_unset(value: Any) -> bool:
    """Return True for ``None``, an empty string or the strings ``None``/``null``."""
    if value is None:
        return True
    return isinstance(value, str) and value.strip().lower() in ("", "none", "null")


def _split(url: str) -> Any:
    """Split a Redis URL, raising ValueError for anything but a Redis scheme."""
    if not isinstance(url, str):
        raise ValueError(f"expected a Redis URL string, got {url!r}")
    parts = urlsplit(url.strip())
    if parts.scheme not in REDIS_SCHEMES:
        raise ValueError(
            f"URL scheme must be one of redis://, rediss://, unix://, got {url!r}"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(f"Redis URL has no host: {url!r}")
    return parts


def redis_url_db(url: str) -> int | None:
    """Return the database number of a Redis URL, or None when it names none.

    As in redis-py, a ``db`` query parameter wins over the path.
    """
    parts = _split(url)
    query = dict(parse_qsl(parts.query))
    raw = query.get("db")
    if raw is None and parts.scheme != "unix":
        raw = parts.path.strip("/") or None
    if raw is None:
        return None
    try:
        db = int(raw)
    except ValueError:
        raise ValueError(f"Redis database must be an integer, got {raw!r}") from None
    if db < 0:
        raise ValueError(f"Redis database must be >= 0, got {db}")
    return db


def redis_url_with_db(url: str, db: int) -> str:
    """Return ``url`` with its database set to ``db`` (path, or ``db=`` for unix)."""
    parts = _split(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"]
    path = parts.path
    if parts.scheme == "unix":
        query.append(("db", str(db)))
    else:
        path = f"/{db}"
    if parts.scheme == "unix":
        # urlunsplit would drop the "//" of a scheme it does not know.
        return f"unix://{parts.netloc}{path}?{urlencode(query)}"
    return urlunsplit(
        (parts.scheme, parts.netloc, path, urlencode(query), parts.fragment)
    )


def redis_location(url: str) -> tuple[str, ...]:
    """Return what identifies the Redis server of ``url``: host and port, or socket."""
    parts = _split(url)
    if parts.scheme == "unix":
        return ("unix", parts.path)
    return ("tcp", parts.hostname.lower(), str(parts.port or DEFAULT_REDIS_PORT))


def stats_cache_redis_url(config: Mapping[str, Any]) -> str:
    """Return the URL of the response-cache Redis for an app config."""
    db = config.get("STATS_CACHE_REDIS_DB", 7)
    url = config.get("STATS_CACHE_REDIS_URL")
    if is_unset(url):
        base = config.get("CACHE_REDIS_URL")
        return redis_url_with_db(DEFAULT_REDIS_URL if is_unset(base) else str(base), db)
    url = str(url).strip()
    if redis_url_db(url) is None:
        return redis_url_with_db(url, db)
    return url


def agg_registry_redis_url(config: Mapping[str, Any]) -> str:
    """Return the URL of the job-registry Redis: the cache host with its own DB."""
    db = config.get("STATS_AGG_REGISTRY_REDIS_DB", 8)
    return redis_url_with_db(stats_cache_redis_url(config), db)
