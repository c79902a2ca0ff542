"""Index template for enriched record-view events."""
