"""Where the test services are, from the environment of ``scripts/services.sh env``."""

import os
from urllib.parse import urlparse, urlunparse


def redis_url(db: int) -> str:
    """Return the test Redis URL with database ``db``."""
    base = urlparse(os.environ.get("CACHE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urlunparse(base._replace(path=f"/{db}"))
