"""API tokens: created once and shown once, kept as a hash, scoped, revocable."""
import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from ..cleaning import is_plain
from ..extensions import db
from ..models import ApiToken, Moderator, utcnow
from ..review.services import create_moderator

# Each scope includes the ones before it.
SCOPES = ("read", "moderate", "admin")
PREFIX = "mod_"
NAME_MAX = 60
# A token's last use is written at most this often, so that a busy script does not write on every request.
LAST_USED_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """The token cannot be created or revoked; the message says why."""


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def allows(scope, needed):
    return SCOPES.index(scope) >= SCOPES.index(needed)


def create_token(name, scope):
    """Returns (the token, shown this once, and its row). Its identity is a moderator named `token:NAME`."""
    name = (name or "").strip()
    if scope not in SCOPES:
        raise TokenError(f"The scope must be one of {', '.join(SCOPES)}.")
    if not is_plain(name, NAME_MAX) or " " in name:
        raise TokenError(f"A token's name is 1 to {NAME_MAX} characters without spaces, e.g. ci-exporter.")
    token = PREFIX + secrets.token_urlsafe(32)
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == name))
    if row is not None and row.revoked_at is None:
        raise TokenError(f"A token named {name!r} already exists; revoke it or choose another name.")
    if row is not None:
        # A new token under a revoked name: the same identity (and history) with a new secret.
        row.token_hash, row.scope, row.created_at, row.last_used_at, row.revoked_at = _hash(token), scope, utcnow(), None, None
        row.moderator.active, row.moderator.is_admin = True, scope == "admin"
    else:
        # A password nobody is told: the identity decides through the API only, never through the sign-in form.
        moderator = create_moderator(f"token:{name}", secrets.token_urlsafe(48), is_admin=scope == "admin")
        row = ApiToken(name=name, scope=scope, token_hash=_hash(token), moderator=moderator)
        db.session.add(row)
    db.session.commit()
    return token, row


def find_token(token):
    """The live (not revoked) token row for a token sent, or None."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        row.last_used_at = now
        db.session.commit()
    return row


def list_tokens():
    return db.session.scalars(sa.select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)).all()


def revoke_token(name):
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)))
    if row is None:
        raise TokenError(f"No live token is named {name!r}.")
    row.revoked_at = utcnow()
    moderator = db.session.get(Moderator, row.moderator_id)
    moderator.active = False
    db.session.commit()
    return row
