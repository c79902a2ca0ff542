"""Explicit index-creation bodies of the two bookmark indices."""
