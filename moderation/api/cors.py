"""Cross-origin use of the public API: only the sites an operator lists in MODERATION_ALLOWED_ORIGINS.

A browser says where a request comes from in `Origin`. A listed site's pages may read the public
answers and post comments; any other site is told, in JSON, which setting would let it. Requests
without `Origin` (scripts, servers, the service's own pages) are not cross-origin and pass.
"""
from flask import current_app, jsonify, request

from ..security import is_console

PREFLIGHT_MAX_AGE = 600
ALLOWED_METHODS = "GET, POST"
ALLOWED_HEADERS = "Content-Type, Authorization, X-Author-Token"


def _origin():
    return request.headers.get("Origin")


def _own_origin():
    return request.host_url.rstrip("/")


def _listed(origin):
    return origin in current_app.config["MODERATION_ALLOWED_ORIGINS"]


def refuse_other_origins():
    origin = _origin()
    if origin is None or origin == _own_origin():
        return None
    if not _listed(origin) or is_console(request.path):
        message = (f"Pages of {origin} may not use this API. The service's operator allows a site by adding its "
                   "origin to MODERATION_ALLOWED_ORIGINS.")
        return jsonify(error=message), 403
    if request.method == "OPTIONS":
        response = current_app.make_default_options_response()
        response.status_code = 204
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return response
    return None


def allow_listed_origins(response):
    """Name the listed origin that asked, and tell caches the answer depends on who asked."""
    response.vary.add("Origin")
    origin = _origin()
    if origin and _listed(origin) and not is_console(request.path):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "ETag, Retry-After"
    return response
