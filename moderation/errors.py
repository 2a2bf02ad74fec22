"""Error pages: JSON under /api, a readable page elsewhere, never a bare stack trace."""
from flask import jsonify, render_template, request

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please sign in first.",
    403: "You may not do that.",
    404: "There is nothing at this address.",
    405: "That method is not allowed here.",
    413: "That was more than can be sent at once, so nothing was changed. Go back and send less.",
    429: "Too many requests: please wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged.",
}


def _respond(error):
    code = getattr(error, "code", 500) or 500
    message = MESSAGES.get(code, getattr(error, "description", MESSAGES[500]))
    if request.path.startswith("/api/"):
        return jsonify(error=message), code
    return render_template("error.html", code=code, message=message), code


def register(app):
    for code in MESSAGES:
        app.register_error_handler(code, _respond)
