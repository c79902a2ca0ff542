"""The records aggregators: membership deltas and snapshots, added basis (04 §4)."""
