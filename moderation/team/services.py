"""What an administrator does to the team: add or invite a moderator, change a role, deactivate, reset a password."""
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from ..extensions import db
from ..models import AuditEvent, Moderator, ModeratorSession, utcnow
from ..review import services as review

log = logging.getLogger(__name__)
# API tokens act as moderators named `token:NAME` (api/tokens.py): identities, not people.
TOKEN_PREFIX = "token:"
WELCOME_SALT = "moderation.team.welcome"
WELCOME_HOURS = 72
RECENT_DAYS = 30
# Password hashes no password matches (argon2 refuses them as malformed), until the person chooses one.
# The random tail makes each new link's fingerprint differ, so a newer link kills the older ones.
INVITED, RESET = "!invited:", "!reset:"


class TeamRefused(Exception):
    """A team change the rules do not allow; `field` names the form field the message belongs beside."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message, self.field = message, field


class NoSuchPerson(TeamRefused):
    """No person (an API token's identity is not one) has that id."""


class LinkRefused(Exception):
    """A welcome link that is forged, expired, already used or for a deactivated account."""


@dataclass(frozen=True)
class Member:
    """One person on the team page, with how many things they did to comments."""

    moderator: Moderator
    recent: int
    total: int

    @property
    def invited(self):
        return self.moderator.password_hash.startswith(INVITED)

    @property
    def awaiting_reset(self):
        return self.moderator.password_hash.startswith(RESET)


def _people():
    return sa.func.substr(Moderator.username, 1, len(TOKEN_PREFIX)) != TOKEN_PREFIX


def team():
    """Every person, by username, with their decisions in the last 30 days and in all: one grouped query."""
    since = utcnow() - timedelta(days=RECENT_DAYS)
    counts = (sa.select(AuditEvent.moderator_id, sa.func.count().label("total"),
                        sa.func.sum(sa.case((AuditEvent.created_at >= since, 1), else_=0)).label("recent"))
              .where(AuditEvent.moderator_id.is_not(None)).group_by(AuditEvent.moderator_id).subquery())
    query = (sa.select(Moderator, sa.func.coalesce(counts.c.recent, 0), sa.func.coalesce(counts.c.total, 0))
             .outerjoin(counts, counts.c.moderator_id == Moderator.id)
             .options(defer(Moderator.email)).where(_people()).order_by(Moderator.username, Moderator.id))
    return [Member(moderator, int(recent), int(total)) for moderator, recent, total in db.session.execute(query)]


def add_moderator(username, is_admin, password=None):
    """A new moderator with the password the administrator typed, or invited (no password yet).

    Returns the moderator and, for an invitation, the welcome link's token to send them.
    """
    _check_name(username)
    try:
        if password is not None:
            return _with_password(username, is_admin, password), None
        moderator = Moderator(username=username, password_hash=_unusable(INVITED), is_admin=is_admin)
        db.session.add(moderator)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise TeamRefused(_taken(username), "username") from None
    log.info("moderator %r invited", moderator.username)
    return moderator, welcome_token(moderator)


def _with_password(username, is_admin, password):
    try:
        moderator = review.create_moderator(username, password, is_admin=is_admin)
    except ValueError as refused:
        raise TeamRefused(str(refused), "password") from None
    log.info("moderator %r added with a password", moderator.username)
    return moderator


def _check_name(username):
    """Unique regardless of case ("Alice" and "alice" would be one person to a reader of the history)."""
    if username.casefold().startswith(TOKEN_PREFIX):
        raise TeamRefused(f"A username cannot start with {TOKEN_PREFIX!r}: those name API tokens.", "username")
    taken = db.session.scalars(sa.select(Moderator.username)).all()
    if username.casefold() in {name.casefold() for name in taken}:
        raise TeamRefused(_taken(username), "username")


def _taken(username):
    return f"The username {username!r} is taken (usernames are unique regardless of case)."


def _unusable(kind):
    return kind + secrets.token_urlsafe(24)


def person(moderator_id):
    """The person with that id, or NoSuchPerson (an API token's identity included)."""
    moderator = db.session.get(Moderator, moderator_id)
    if moderator is None or moderator.username.startswith(TOKEN_PREFIX):
        raise NoSuchPerson("There is no such moderator.")
    return moderator


def change_role(admin, moderator_id, make_admin):
    """Promote to administrator or make a plain moderator; never the last active administrator."""
    moderator = person(moderator_id)
    if moderator.is_admin == make_admin:
        raise TeamRefused(f"{moderator.username} is already {'an administrator' if make_admin else 'a moderator'}.")
    if not make_admin:
        _keep_an_administrator(moderator, "made a moderator")
    moderator.is_admin = make_admin
    db.session.commit()
    log.info("%r made %r %s", admin.username, moderator.username, "an administrator" if make_admin else "a moderator")
    return moderator


def deactivate(admin, moderator_id):
    """Stops a person signing in; every browser signed in as them is signed out at once."""
    moderator = person(moderator_id)
    if moderator.id == admin.id:
        raise TeamRefused("You cannot deactivate yourself: ask another administrator.")
    if not moderator.active:
        raise TeamRefused(f"{moderator.username} is already deactivated.")
    _keep_an_administrator(moderator, "deactivated")
    moderator.active = False
    _end_sessions(moderator)
    db.session.commit()
    log.info("%r deactivated %r", admin.username, moderator.username)
    return moderator


def reactivate(admin, moderator_id):
    """Lets a deactivated person sign in again, with the password they had."""
    moderator = person(moderator_id)
    if moderator.active:
        raise TeamRefused(f"{moderator.username} is already active.")
    moderator.active = True
    db.session.commit()
    log.info("%r reactivated %r", admin.username, moderator.username)
    return moderator


def reset_password(admin, moderator_id):
    """The old password stops working and every session ends; returns the moderator and a new welcome link's token."""
    moderator = person(moderator_id)
    if moderator.id == admin.id:
        raise TeamRefused("Change your own password on the Password page.")
    was_invited = moderator.password_hash.startswith(INVITED)
    moderator.password_hash = _unusable(INVITED if was_invited else RESET)
    _end_sessions(moderator)
    db.session.commit()
    log.info("%r reset the password of %r", admin.username, moderator.username)
    return moderator, welcome_token(moderator)


def _keep_an_administrator(moderator, change):
    """Refuses the change when it would leave no active administrator; the rows stay locked until the commit
    (PostgreSQL), so two administrators demoting each other at once cannot both succeed."""
    if not (moderator.is_admin and moderator.active):
        return
    admins = db.session.scalars(sa.select(Moderator.id).where(Moderator.is_admin, Moderator.active, _people())
                                .with_for_update()).all()
    if set(admins) <= {moderator.id}:
        raise TeamRefused(f"{moderator.username} is the last active administrator and cannot be {change}: "
                          "make someone else an administrator first.")


def _end_sessions(moderator):
    db.session.execute(sa.delete(ModeratorSession).where(ModeratorSession.moderator_id == moderator.id))


# --- Welcome links -------------------------------------------------------------------------------------------------

def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt=WELCOME_SALT)


def _fingerprint(password_hash):
    """Binds a link to the password it replaces: once a password is set (or reset again), the link is dead."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def welcome_token(moderator):
    return _serializer().dumps({"id": moderator.id, "fp": _fingerprint(moderator.password_hash)})


def welcome_moderator(token):
    """The moderator a welcome link is for, or LinkRefused saying why the link no longer works."""
    try:
        data = _serializer().loads(token, max_age=WELCOME_HOURS * 3600)
    except SignatureExpired:
        raise LinkRefused(f"This link has expired (links work for {WELCOME_HOURS} hours). "
                          "Ask an administrator for a new one.") from None
    except BadSignature:
        raise LinkRefused("This link could not be verified. Check that it was copied whole, "
                          "or ask an administrator for a new one.") from None
    moderator = db.session.get(Moderator, data["id"])
    if moderator is None or not secrets.compare_digest(data["fp"], _fingerprint(moderator.password_hash)):
        raise LinkRefused("This link has already been used, or a newer one has been made. "
                          "Sign in with your password, or ask an administrator for a new link.")
    if not moderator.active:
        raise LinkRefused("This account has been deactivated. Ask an administrator.")
    return moderator


def accept_welcome(token, password):
    """The person behind a welcome link chooses their password; the link dies with it."""
    moderator = welcome_moderator(token)
    # Guarded on the hash we read: of two submissions of one link at once, only one gets through.
    claimed = db.session.execute(
        sa.update(Moderator).where(Moderator.id == moderator.id, Moderator.password_hash == moderator.password_hash)
        .values(password_hash=moderator.password_hash).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        db.session.rollback()
        raise LinkRefused("This link has already been used. Sign in with your password.")
    try:
        review.change_password(moderator, password)
    except ValueError as refused:
        db.session.rollback()
        raise TeamRefused(str(refused), "new") from None
    log.info("moderator %r set a password from a welcome link", moderator.username)
    return moderator
