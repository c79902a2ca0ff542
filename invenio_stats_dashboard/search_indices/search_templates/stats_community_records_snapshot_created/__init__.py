"""Index template for record snapshots, created basis (reserved)."""
