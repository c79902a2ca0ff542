"""Index template for record snapshots, published basis (reserved)."""
