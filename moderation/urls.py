"""Absolute addresses of this service, for what is read away from its pages: emails, feeds, webhooks."""
from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for


def external(endpoint, **values):
    """The endpoint's absolute address: under MODERATION_BASE_URL when it is set (it may carry a path: the service
    under /comments), else the address the request came in on; None outside a request without it (a worker)."""
    values = {name: value for name, value in values.items() if value is not None}
    base = current_app.config["MODERATION_BASE_URL"]
    if not base:
        return url_for(endpoint, _external=True, **values) if has_request_context() else None
    parts = urlsplit(base)
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)
