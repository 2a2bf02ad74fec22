"""What the reader's browser keeps: their own comments awaiting moderation and, if asked, their details."""
from flask import current_app, request, session
from itsdangerous import BadSignature, URLSafeSerializer

OWN_COMMENTS_KEPT = 50
DETAILS_COOKIE = "comment_author"
DETAILS_MAX_AGE = 365 * 24 * 3600


def own_comment_ids():
    return set(session.get("own_comments", []))


def remember_own_comment(comment_id):
    session["own_comments"] = (session.get("own_comments", []) + [comment_id])[-OWN_COMMENTS_KEPT:]


def _serializer():
    return URLSafeSerializer(current_app.secret_key, salt="comment-author-details")


def saved_details():
    raw = request.cookies.get(DETAILS_COOKIE)
    if not raw:
        return {}
    try:
        details = _serializer().loads(raw)
    except BadSignature:
        return {}
    return details if isinstance(details, dict) else {}


def keep_details(response, form):
    """Set the cookie only when the reader ticked the box; unticking forgets what was saved."""
    if form.remember.data:
        details = {"author_name": form.author_name.data, "author_email": form.author_email.data, "author_url": form.author_url.data or ""}
        response.set_cookie(
            DETAILS_COOKIE, _serializer().dumps(details), max_age=DETAILS_MAX_AGE,
            httponly=True, samesite="Lax", secure=request.is_secure,
        )
    elif DETAILS_COOKIE in request.cookies:
        response.delete_cookie(DETAILS_COOKIE)
    return response
