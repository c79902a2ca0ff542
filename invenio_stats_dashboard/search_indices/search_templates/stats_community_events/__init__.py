"""Index template for community membership events."""
