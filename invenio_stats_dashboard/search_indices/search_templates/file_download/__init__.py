"""Index template for enriched file-download events."""
