"""``python -m invenio_stats_dashboard.cli``: how background jobs run a command.

The supervisor starts foreground commands with the running interpreter and this
module, never through a PATH lookup of ``invenio`` (06 §8.2).
"""

from . import main

main()
