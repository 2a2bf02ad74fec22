"""The author token: how a reader on another site's page is known as the author of their own comments.

Browsers block a third-party service's cookies, so the widget keeps this signed token in the host page's
own storage and sends it back as `X-Author-Token`. It carries only the reader's random key (the same
kind the service's own pages keep in their session), so it names nobody and proves only "the same
browser as before".
"""
import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..comments.reader import reader_hash

HEADER = "X-Author-Token"
MAX_AGE_DAYS = 90


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="author-token")


def token_for(key):
    return _serializer().dumps({"reader": key})


def key_from(token):
    """The reader key in a good token; None for a missing, forged, expired or malformed one."""
    if not token or len(token) > 1_000:
        return None
    try:
        value = _serializer().loads(token, max_age=MAX_AGE_DAYS * 24 * 3600)
    except BadSignature:
        return None
    key = value.get("reader") if isinstance(value, dict) else None
    return key if isinstance(key, str) and key else None


def sent_key():
    return key_from(request.headers.get(HEADER))


def sent_hash():
    key = sent_key()
    return reader_hash(key) if key else None


def key_or_new():
    return sent_key() or secrets.token_urlsafe(18)
