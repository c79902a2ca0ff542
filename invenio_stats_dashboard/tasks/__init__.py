"""Celery tasks: thin entry points that call the capability services."""
