"""Error pages: JSON under /api and /isso (whose callers are scripts), a readable page elsewhere, never a bare stack
trace."""
import logging

from flask import current_app, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError

from .extensions import db

log = logging.getLogger(__name__)
# Where the caller is a script that reads JSON: our API, and Isso's client (even on an address no route matches).
JSON_PREFIXES = ("/api/", "/isso/")
UNAVAILABLE = _l("The service cannot reach its database just now, so nothing was changed. "
                 "Please try again in a minute.")
RETRY_AFTER_SECONDS = 60

MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Please sign in first."),
    403: _l("You may not do that."),
    404: _l("There is nothing at this address."),
    405: _l("That method is not allowed here."),
    413: _l("That was more than can be sent at once, so nothing was changed. Go back and send less."),
    429: _l("Too many requests: please wait a moment and try again."),
    500: _l("Something went wrong on our side. It has been logged."),
}


def _respond(error):
    code = getattr(error, "code", 500) or 500
    message = str(MESSAGES.get(code, getattr(error, "description", MESSAGES[500])))
    if request.path.startswith(JSON_PREFIXES):
        return jsonify(error=message), code
    return render_template("error.html", code=code, message=message), code


def database_unreachable(error):
    """The database is down or refusing (a restart, a full disk, a lock that timed out): a 503 that says to
    try again, never a 500. Logged by kind only: the error's text may quote the statement."""
    forget_failed_transaction()
    # Who is signed in cannot be read either: the page is drawn for an anonymous visitor, not asked again.
    g._login_user = current_app.login_manager.anonymous_user()
    log.warning("database unreachable during %s %s: %s", request.method, request.path,
                type(getattr(error, "orig", error)).__name__)
    if request.path.startswith(JSON_PREFIXES):
        response = jsonify(error=str(UNAVAILABLE))
    else:
        response = render_template("error.html", code=503, message=UNAVAILABLE)
    return response, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def forget_failed_transaction():
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone too; the session is discarded either way
        db.session.remove()


def register(app):
    for code in MESSAGES:
        app.register_error_handler(code, _respond)
    app.register_error_handler(OperationalError, database_unreachable)
