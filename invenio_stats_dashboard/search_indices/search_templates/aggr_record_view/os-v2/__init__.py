"""OpenSearch 2 version of the template."""
