"""Health and memory guard checked before every batch and before the pause (03 §4.8)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

HEALTH_TIMEOUT = 5
RETRY_DELAYS = (10, 30, 90)
"""Seconds to wait before each re-check of an unhealthy cluster."""


@dataclass
class HealthCheckResult:
    """The outcome of one check; ``reason`` is ``OK`` when healthy."""

    is_healthy: bool
    reason: str
    memory_usage: float | None = None
    opensearch_heap_percent: float | None = None
    cluster_status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict."""
        return asdict(self)


def local_memory_percent() -> float:
    """Return the memory use of the machine running the migration, in percent."""
    try:
        import psutil

        return float(psutil.virtual_memory().percent)
    except ImportError:  # pragma: no cover - psutil comes with InvenioRDM
        info = {}
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                key, value = line.split(":", 1)
                info[key] = int(value.split()[0])
        available = info.get("MemAvailable", info.get("MemFree", 0))
        return round(100.0 * (1 - available / info["MemTotal"]), 1)


def opensearch_heap_percent(client) -> float | None:
    """Return the highest JVM heap use across the data nodes, in percent."""
    stats = client.nodes.stats(metric="jvm", request_timeout=HEALTH_TIMEOUT)
    values = []
    for node in (stats.get("nodes") or {}).values():
        roles = node.get("roles") or ["data"]
        if "data" not in roles:
            continue
        heap = ((node.get("jvm") or {}).get("mem") or {}).get("heap_used_percent")
        if heap is not None:
            values.append(float(heap))
    return max(values) if values else None


def check_health(
    client,
    max_memory_percent: int,
    *,
    local_memory: Callable[[], float] = local_memory_percent,
) -> HealthCheckResult:
    """Check reachability, cluster status, OpenSearch heap and local memory."""
    try:
        health = client.cluster.health(request_timeout=HEALTH_TIMEOUT)
        heap = opensearch_heap_percent(client)
    except Exception as error:
        return HealthCheckResult(False, f"OpenSearch not responsive: {error}")
    status = health.get("status")
    memory = local_memory()
    result = HealthCheckResult(True, "OK", memory, heap, status)
    if status == "red":
        result.is_healthy, result.reason = False, "Cluster status red"
    elif heap is not None and heap > max_memory_percent:
        result.is_healthy = False
        result.reason = f"OpenSearch heap too high: {heap:g}%"
    elif memory > max_memory_percent:
        result.is_healthy = False
        result.reason = f"Memory usage too high: {memory:g}%"
    return result


def wait_until_healthy(
    check: Callable[[], HealthCheckResult],
    delays: Sequence[float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> HealthCheckResult:
    """Check, and re-check after each delay while unhealthy; return the last result.

    ``delays`` defaults to :data:`RETRY_DELAYS`, read at call time.
    """
    delays = RETRY_DELAYS if delays is None else delays
    sleep = time.sleep if sleep is None else sleep
    result = check()
    for delay in delays:
        if result.is_healthy:
            break
        sleep(delay)
        result = check()
    return result
