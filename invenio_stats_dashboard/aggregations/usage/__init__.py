"""Usage aggregation: daily view and download deltas per scope (04 §5)."""
