"""Index template for daily usage deltas."""
