"""Webpack bundle of the extension (09 §5).

For now it carries the community-settings widget of ``stats:dashboard_enabled``; the
dashboard entries join it with the dashboards (08).
"""

from invenio_assets.webpack import WebpackThemeBundle

theme = WebpackThemeBundle(
    __name__,
    "assets",
    default="semantic-ui",
    themes={"semantic-ui": {"entry": {}, "dependencies": {}, "aliases": {}}},
)
