"""Index template for record snapshots, added basis."""
