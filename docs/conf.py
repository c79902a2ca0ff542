"""Sphinx configuration for the invenio-stats-dashboard documentation."""

from importlib import metadata

project = "invenio-stats-dashboard"
author = "invenio-stats-dashboard contributors"
copyright = "invenio-stats-dashboard contributors"


def _read_version():
    """Return the package version, or "0.1.0" when the package is not importable."""
    try:
        from invenio_stats_dashboard import __version__

        return __version__
    except Exception:
        pass
    try:
        return metadata.version("invenio-stats-dashboard")
    except metadata.PackageNotFoundError:
        return "0.1.0"


release = _read_version()
version = release

extensions = ["myst_parser"]
myst_enable_extensions = ["colon_fence", "deflist"]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
suppress_warnings = []

html_theme = "furo"
html_title = f"{project} {release}"
