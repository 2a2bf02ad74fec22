"""GET /avatars/<token>.svg: identicons served by the app itself, so no third party learns who reads what."""
import re

from flask import Blueprint, Response, abort

from .addresses import masked_email
from .avatars import PLACEHOLDER, TOKEN_CHARS, avatar_url, identicon_svg

bp = Blueprint("avatars", __name__, url_prefix="/avatars")
TOKEN = re.compile(f"[0-9a-f]{{{TOKEN_CHARS}}}|{PLACEHOLDER}")


@bp.get("/<token>.svg")
def avatar(token):
    if not TOKEN.fullmatch(token):
        abort(404)
    response = Response(identicon_svg(token), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def register(app):
    """What templates need: a comment's avatar address, an email as moderators see it by default."""
    app.add_template_global(avatar_url, "avatar_url")
    app.add_template_filter(masked_email, "masked")
