"""Webpack manifest for page tests without a JavaScript build.

InvenioRDM's templates ask the webpack manifest for their bundles; without a build
there is no ``manifest.json``. This loader answers every entry with an empty one, so
the real Jinja pages render server-side. (The dashboard's own bundle gets a real test
build once the dashboards exist, 09 §8.7.)
"""

from flask_webpackext.manifest import JinjaManifestEntry
from markupsafe import Markup


class _EmptyEntry(JinjaManifestEntry):
    def __html__(self):
        return Markup("")


class _EmptyManifest:
    def __getitem__(self, key):
        return _EmptyEntry(key, [])

    def __getattr__(self, name):
        return _EmptyEntry(name, [])


class EmptyManifestLoader:
    """``WEBPACKEXT_MANIFEST_LOADER`` returning an empty entry for every bundle."""

    def load(self, filepath):
        """Ignore ``filepath``: there is no build."""
        return _EmptyManifest()
