"""What the reader's browser keeps: their own comments awaiting moderation, a random key, and, if asked, their details."""
import hashlib
import json
import secrets

from flask import current_app, request, session

from ..privacy.crypto import DataKeyError, keyring

OWN_COMMENTS_KEPT = 50
DETAILS_COOKIE = "comment_author"
DETAILS_MAX_AGE = 365 * 24 * 3600
DETAILS_PURPOSE = "saved details cookie"
SAVED_FIELDS = ("author_name", "author_email", "author_url")
# Browsers keep cookies up to 4,096 bytes with their attributes; name, email and key always fit under this.
COOKIE_VALUE_MAX = 3_600


def own_comment_ids():
    return set(session.get("own_comments", []))


def remember_own_comment(comment_id):
    session["own_comments"] = (session.get("own_comments", []) + [comment_id])[-OWN_COMMENTS_KEPT:]


def reader_key():
    """This browser's random key (from its saved details, else its session); it proves "the same browser"."""
    key = saved_details().get("reader") or session.get("reader") or secrets.token_urlsafe(18)
    session["reader"] = key
    return key


def reader_hash(key):
    return hashlib.sha256(key.encode()).hexdigest()


def saved_details():
    """The details this browser asked us to remember; the cookie is encrypted, so it shows nobody the email."""
    raw = request.cookies.get(DETAILS_COOKIE)
    if not raw:
        return {}
    try:
        details = json.loads(keyring().decrypt(raw, DETAILS_PURPOSE))
    except (DataKeyError, ValueError):
        return {}
    return details if isinstance(details, dict) else {}


def prefilled(details):
    return {name: details[name] for name in SAVED_FIELDS if isinstance(details.get(name), str)}


def _sealed(details):
    """The cookie's value; a website too long for a browser to keep a cookie of is left out."""
    value = keyring().encrypt(json.dumps(details, ensure_ascii=False), DETAILS_PURPOSE)
    if len(value) > COOKIE_VALUE_MAX and details.get("author_url"):
        return _sealed({**details, "author_url": ""})
    return value


def keep_details(response, form):
    """Set the cookie only when the reader ticked the box; unticking forgets what was saved."""
    if form.remember.data:
        details = {"author_name": form.author_name.data, "author_email": form.author_email.data,
                   "author_url": form.author_url.data or "", "reader": session.get("reader")}
        response.set_cookie(
            DETAILS_COOKIE, _sealed(details), max_age=DETAILS_MAX_AGE, httponly=True, samesite="Lax",
            secure=request.is_secure or current_app.config["SESSION_COOKIE_SECURE"],
        )
    elif DETAILS_COOKIE in request.cookies:
        response.delete_cookie(DETAILS_COOKIE)
    return response
