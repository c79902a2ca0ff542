"""Index template for daily usage snapshots."""
