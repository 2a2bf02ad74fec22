"""Security headers on every response: a strict Content-Security-Policy, and a console nobody caches."""
import time

from flask import current_app, g, request

# Nothing is inline (styles in static/app.css, script in static/review.js), so neither needs 'unsafe-inline'.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
GRAVATAR = "https://gravatar.com"
HSTS = "max-age=31536000; includeSubDomains"
CONSOLE_PREFIXES = ("/moderation", "/api/v1/moderation")


def is_console(path):
    """The moderators' pages and JSON, which show commenters' email addresses and IPs."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in CONSOLE_PREFIXES)


def _policy():
    if current_app.config["MODERATION_GRAVATAR"]:
        return CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", f"img-src 'self' data: {GRAVATAR}")
    return CONTENT_SECURITY_POLICY


def add_headers(response):
    """Fill in what a view left unset; on the console, no-store wins so no shared cache keeps personal data."""
    headers = response.headers
    console = is_console(request.path)
    headers.setdefault("Content-Security-Policy", _policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # A console address (a comment id, a queue filter) is nobody else's business, not even the linked site's.
    headers.setdefault("Referrer-Policy", "no-referrer" if console else "strict-origin-when-cross-origin")
    if console:
        headers["Cache-Control"] = "no-store"
        if "request_started" in g:
            # How long the console took to answer, for the browser's tools and the benchmarks (Server-Timing).
            headers["Server-Timing"] = f"app;dur={(time.perf_counter() - g.request_started) * 1000:.1f}"
    if current_app.config["MODERATION_HSTS"]:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _started():
    g.request_started = time.perf_counter()


def register(app):
    app.before_request(_started)
    app.after_request(add_headers)
