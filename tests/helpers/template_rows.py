"""The template rows of 01 §2.1, written once for the static and the cluster tests."""

OWN_TEMPLATES = {
    "record-view-v2.0.0": ("record_view", "events-stats-record-view", 110, 2, True),
    "file-download-v2.0.0": (
        "file_download",
        "events-stats-file-download",
        110,
        2,
        True,
    ),
    "stats-community-events-v1.0.0": (
        "stats_community_events",
        "stats-community-events",
        100,
        1,
        None,
    ),
}
"""stem -> (python package, index/alias base name, priority, version, enriched marker)
(01 §2.1 rows 1-11); enriched is None when the template carries no such marker."""

for _kind in ("delta", "snapshot"):
    for _basis in ("added", "created", "published"):
        _base = f"stats-community-records-{_kind}-{_basis}"
        OWN_TEMPLATES[f"{_base}-v1.0.0"] = (
            _base.replace("-", "_"),
            _base,
            100,
            1,
            None,
        )
for _kind in ("delta", "snapshot"):
    _base = f"stats-community-usage-{_kind}"
    OWN_TEMPLATES[f"{_base}-v1.0.0"] = (_base.replace("-", "_"), _base, 100, 1, None)

RESERVED_BASES = ("created", "published")
"""Date bases whose templates ship but are not registered (01 §2.1 rows 8-11)."""

REGISTERED_TEMPLATES = {
    stem: row
    for stem, row in OWN_TEMPLATES.items()
    if not any(f"-{basis}-" in stem for basis in RESERVED_BASES)
}
"""The seven templates the extension puts into the cluster (01 §2.1 rows 1-7)."""
