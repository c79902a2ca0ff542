"""Blueprints of the extension (09 §5)."""
