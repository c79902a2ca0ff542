"""Migration of historical usage events into enriched ``-v2.0.0`` indices (03 §4–§5).

- :mod:`.months` finds the monthly indices and what state each month is in;
- :mod:`.bookmarks` reads and writes the resumable per-month bookmarks;
- :mod:`.health` is the cluster and memory guard checked before every batch;
- :mod:`.copier` copies (and enriches) a month batch by batch from its cursor;
- :mod:`.verification` holds the id-level delta passes and the spot check;
- :mod:`.switch` moves aliases, and switches the months that still receive writes;
- :mod:`.month_run` runs the per-month sequence, :mod:`.reenrich` the in-place
  re-enrichment, :mod:`.progress` the status counts; the service ties them together.
"""
