"""Access to the two apps InvenioRDM's factory builds (UI app, API app at ``/api``)."""


def api_app_of(ui_app):
    """Return the API app mounted under ``/api`` of ``ui_app``."""
    wsgi = ui_app.wsgi_app
    while not hasattr(wsgi, "mounts"):  # unwrap ProxyFix and friends
        wsgi = wsgi.app
    return wsgi.mounts["/api"]
