"""The cookies Isso's client relies on: the author's right to edit or delete, and the reader's own comments.

Isso's contract: posting answers a signed cookie for the new comment, good for 15 minutes (its `max-age`), which
the browser sends back to edit or delete it, plus an `X-Set-Cookie` header the client copies into the page's own
`document.cookie` as `isso-<id>`, only to know when to show the Edit and Delete links. We keep that contract with
our own signing (the app's SECRET_KEY through itsdangerous). The edit cookie names the comment and a digest of its
text, so it stops working once the text changes, and its 15 minutes count from the comment's creation: an edit
does not open a new window.

A second cookie carries the reader's random key as the widget's signed author token does (api/authors.py): a
reload shows the reader their own comments awaiting moderation. Both are cookies of the service's site, sent by
a page of another origin: same-site pages (blog.example.org and comments.example.org) always send them; over
HTTPS they are `SameSite=None; Secure; Partitioned`, so that Chrome and Firefox also send them from another site
(partitioned by that site), where third-party cookies are otherwise blocked.
"""
import hashlib
import secrets
from datetime import timedelta

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.http import dump_cookie

from ..api import authors
from ..comments.reader import reader_hash as hash_of_reader
from ..models import utcnow

READER_COOKIE = "isso-reader"
EDIT_COOKIE = "isso-edit-{}"
CLIENT_COOKIE = "isso-{}"  # the page's own cookie, set by Isso's client from X-Set-Cookie
TOKEN_MAX = 1_000


def edit_seconds():
    return current_app.config["MODERATION_ISSO_EDIT_SECONDS"]


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="isso-edit")


def _digest(text):
    return hashlib.sha256(text.encode(errors="replace")).hexdigest()[:32]


def _seconds_left(comment):
    return int(edit_seconds() - (utcnow() - comment.created_at).total_seconds())


def may_edit(comment):
    """Whether this request carries the edit cookie of this comment, as it reads now, within its window."""
    token = request.cookies.get(EDIT_COOKIE.format(comment.id), "")
    if not token or len(token) > TOKEN_MAX or _seconds_left(comment) <= 0:
        return False
    try:
        value = _serializer().loads(token, max_age=edit_seconds())
    except BadSignature:
        return False
    return isinstance(value, dict) and value.get("id") == comment.id and value.get("text") == _digest(comment.body)


def _options():
    """Secure, cross-site and partitioned over HTTPS; Lax over plain HTTP, where browsers refuse SameSite=None."""
    secure = request.is_secure or current_app.config["SESSION_COOKIE_SECURE"]
    return {"secure": secure, "samesite": "None" if secure else "Lax", "partitioned": secure, "httponly": True,
            "path": f"{request.script_root}/isso"}


def give_edit_rights(response, comment):
    """The cookie that lets this browser edit or delete the comment for what is left of its window."""
    seconds = max(_seconds_left(comment), 0)
    token = _serializer().dumps({"id": comment.id, "text": _digest(comment.body)})
    response.set_cookie(EDIT_COOKIE.format(comment.id), token, max_age=seconds, **_options())
    # Only read by the client's script on the page, to show the links; we never read it, so it carries no right.
    response.headers["X-Set-Cookie"] = dump_cookie(CLIENT_COOKIE.format(comment.id), "1", max_age=seconds, path="/",
                                                   samesite="Lax")
    return response


def take_edit_rights(response, comment_id):
    options = _options()
    response.delete_cookie(EDIT_COOKIE.format(comment_id), path=options["path"], secure=options["secure"],
                           samesite=options["samesite"], httponly=True, partitioned=options["partitioned"])
    response.headers["X-Set-Cookie"] = dump_cookie(CLIENT_COOKIE.format(comment_id), "", max_age=0, path="/",
                                                   samesite="Lax")
    return response


def reader_key():
    """This browser's random key from its reader cookie; None when it has none (or a forged one)."""
    return authors.key_from(request.cookies.get(READER_COOKIE))


def reader_key_or_new():
    return reader_key() or secrets.token_urlsafe(18)


def reader_hash():
    key = reader_key()
    return hash_of_reader(key) if key else None


def keep_reader(response, key):
    response.set_cookie(READER_COOKIE, authors.token_for(key), max_age=timedelta(days=authors.MAX_AGE_DAYS),
                        **_options())
    return response
