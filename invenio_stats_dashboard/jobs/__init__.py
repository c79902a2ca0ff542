"""Background jobs: pid/status/log files, the supervisor, progress and interruption.

Written once and used by every ``*-background`` command (06 §8). The modules import
nothing of the package above the foundation layer, so the ``processes`` commands work
without the app, OpenSearch or Redis.
"""
