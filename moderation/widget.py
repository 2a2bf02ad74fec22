"""GET /embed.js and /embed.css: the widget a site puts under its articles with one script tag."""
from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("widget", __name__)
# Browsers and CDNs may keep the widget an hour; a release is picked up within that time.
MAX_AGE = 3600


def _served(name, mimetype):
    response = send_from_directory(current_app.static_folder, name, mimetype=mimetype, max_age=MAX_AGE,
                                   conditional=True)
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    # Loaded by pages of other sites: a script or stylesheet may be fetched from anywhere (it holds no data).
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@bp.get("/embed.js")
def script():
    return _served("embed.js", "text/javascript")


@bp.get("/embed.css")
def stylesheet():
    return _served("embed.css", "text/css")
