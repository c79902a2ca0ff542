"""Counting the search-cluster requests of a pass (04 §14: the run report)."""

from __future__ import annotations

from typing import Any

SEARCHES = frozenset({"search", "count"})


class CountingClient:
    """Delegate to a search client and count what a pass sends through it."""

    def __init__(self, client, counter: CountingClient | None = None):
        """Wrap ``client``; a namespace (``indices``) shares its parent's counts."""
        self._client = client
        self._counter = counter or self
        self.requests = 0
        self.searches = 0

    def __getattr__(self, name: str) -> Any:
        """Return the client's attribute, counting calls of its methods."""
        attribute = getattr(self._client, name)
        if name == "indices":
            return CountingClient(attribute, self._counter)
        if not callable(attribute) or name.startswith("_"):
            return attribute
        counter = self._counter

        def counted(*args: Any, **kwargs: Any) -> Any:
            counter.requests += 1
            if name in SEARCHES:
                counter.searches += 1
            return attribute(*args, **kwargs)

        return counted
