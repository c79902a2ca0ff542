"""Index template for record deltas, created basis (reserved)."""
