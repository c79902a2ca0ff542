"""The memory budget of an aggregation pass (04 §10).

Passes stream, so their memory is bounded by the range and the scope's distinct
items, not by the history. The budget is the guard for the rest: when the process's
resident memory goes over it, the pass's scan pages shrink towards
``COMMUNITY_STATS_SCAN_PAGE_SIZE_MIN``; still over at the minimum, the pass stops at
its last written day and reports ``memory budget`` instead of being killed.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping
from typing import Any

from .writer import PassStopped


def process_rss() -> int:
    """Return the resident memory of this process in bytes."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - systems without procfs
        import psutil

        return int(psutil.Process().memory_info().rss)


def total_memory() -> int:
    """Return the machine's total memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_budget(config: Mapping[str, Any]) -> int:
    """Return ``COMMUNITY_STATS_MEM_BUDGET_BYTES``, else RAM × the high-water fraction."""
    explicit = config.get("COMMUNITY_STATS_MEM_BUDGET_BYTES")
    if explicit:
        return int(explicit)
    fraction = float(config.get("COMMUNITY_STATS_MEM_HIGH_WATER_PERCENT", 0.75))
    return int(total_memory() * fraction)


class PageBudget:
    """The scan page size of one pass, shrinking while memory is over budget.

    Scans ask :meth:`next_size` before each page, the writer asks
    :meth:`over_budget` after each produced day; both stop the pass once the
    minimum page is over budget too.
    """

    def __init__(
        self,
        size: int,
        minimum: int,
        budget: int,
        measure: Callable[[], int] = process_rss,
    ):
        """Start at ``size`` (at least ``minimum``) under a ``budget`` in bytes."""
        self.minimum = max(1, int(minimum))
        self.size = self.initial = max(self.minimum, int(size))
        self.budget = budget
        self.measure = measure
        self.exhausted = False
        self.last_rss = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PageBudget:
        """Read the page bounds and the budget (07 §2.9)."""
        size = int(config["COMMUNITY_STATS_SCAN_PAGE_SIZE"])
        maximum = int(config.get("COMMUNITY_STATS_SCAN_PAGE_SIZE_MAX") or size)
        return cls(
            min(size, maximum),
            int(config.get("COMMUNITY_STATS_SCAN_PAGE_SIZE_MIN") or 1),
            memory_budget(config),
        )

    def over_budget(self) -> bool:
        """Shrink the page while over budget; return True when even the minimum is."""
        if self.exhausted:
            return True
        self.last_rss = self.measure()
        if self.last_rss <= self.budget:
            return False
        gc.collect()
        self.last_rss = self.measure()
        if self.last_rss <= self.budget:
            return False
        if self.size > self.minimum:
            self.size = max(self.minimum, self.size // 2)
            return False
        self.exhausted = True
        return True

    def next_size(self, configured: int | None = None) -> int:
        """Return the next page's size; raise :class:`PassStopped` when over budget.

        With ``configured`` (a scan with a page size of its own, like the delta
        buffer), return it shrunk in the proportion the page has shrunk.
        """
        if self.over_budget():
            raise PassStopped(self.reason())
        if configured is None:
            return self.size
        return max(1, configured * self.size // self.initial)

    def reason(self) -> str:
        """Return the report's one-line reason for a stop."""
        return (
            f"memory budget: resident memory {self.last_rss // 2**20} MiB over "
            f"{self.budget // 2**20} MiB at the minimum page size {self.minimum}"
        )
