"""Index template for record deltas, added basis."""
