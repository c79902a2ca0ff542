"""Search index templates and explicit mappings of the stats dashboard."""
