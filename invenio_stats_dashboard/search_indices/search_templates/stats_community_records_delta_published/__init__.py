"""Index template for record deltas, published basis (reserved)."""
