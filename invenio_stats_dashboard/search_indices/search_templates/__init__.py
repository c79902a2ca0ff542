"""Composable OpenSearch index templates, one package per template."""
