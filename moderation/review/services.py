"""What a moderator can do: sign in and out, and approve, reject, mark as spam or not spam, one or many."""
import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload, undefer, undefer_group
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..audit import record
from ..cleaning import is_plain
from ..comments.services import THREAD_KEY_MAX
from ..extensions import db
from ..models import AuditEvent, Comment, Moderator, ModeratorSession, Thread, utcnow
from ..privacy.addresses import truncated_ip
from ..queue import send_decision_followups
from ..spam import learning

ACTIONS = {
    # action: (new state, states it may come from)
    "approve": ("approved", {"pending", "held", "rejected", "spam"}),
    "reject": ("rejected", {"pending", "held", "approved", "spam"}),
    "spam": ("spam", {"pending", "held", "approved", "rejected"}),
    "not-spam": ("held", {"spam"}),
}
# The queue's tabs, in the order a moderator works through them.
QUEUE_STATES = ("held", "pending", "spam", "approved", "rejected")
PAST_TENSE = {"approve": "approved", "reject": "rejected", "spam": "marked as spam", "not-spam": "returned to the queue as not spam"}

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")


class DecisionRefused(Exception):
    """The action does not apply to the comment in its present state."""


class PasswordRefused(Exception):
    """The current password given was not the moderator's."""


def _check_password(password):
    if len(password) < 8:
        raise ValueError("A password needs at least 8 characters.")
    if len(password) > 1024:
        raise ValueError("A password can be at most 1,024 characters.")


def create_moderator(username, password, is_admin=False):
    _check_password(password)
    if find_moderator(username):
        raise ValueError(f"A moderator named {username!r} already exists.")
    moderator = Moderator(username=username, password_hash=_hasher.hash(password), is_admin=is_admin)
    db.session.add(moderator)
    db.session.commit()
    return moderator


def find_moderator(username):
    return db.session.scalar(sa.select(Moderator).where(Moderator.username == username))


def authenticate(username, password):
    """The moderator if the password is right, else None; rehashes when the scheme's cost was raised."""
    moderator = find_moderator(username)
    try:
        _hasher.verify(moderator.password_hash if moderator else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if moderator is None or not moderator.active:
        return None
    if _hasher.check_needs_rehash(moderator.password_hash):
        moderator.password_hash = _hasher.hash(password)
        db.session.commit()
    return moderator


def open_session(moderator):
    """A new sign-in for this browser; the token goes into its session cookie, only its hash into the database."""
    token = secrets.token_urlsafe(32)
    db.session.add(ModeratorSession(moderator_id=moderator.id, token_hash=_token_hash(token)))
    db.session.commit()
    moderator.session_token = token
    return token


def session_moderator(token):
    """The moderator a session token belongs to, while the sign-in is open and not older than allowed."""
    if not isinstance(token, str) or not token:
        return None
    found = db.session.scalar(sa.select(ModeratorSession).where(ModeratorSession.token_hash == _token_hash(token)))
    oldest = utcnow() - timedelta(days=current_app.config["MODERATION_SESSION_DAYS"])
    if found is None or found.created_at < oldest or not found.moderator.active:
        return None
    found.moderator.session_token = token
    return found.moderator


def close_session(token):
    """Sign-out: the cookie stops working everywhere, including any copy of it."""
    db.session.execute(sa.delete(ModeratorSession).where(ModeratorSession.token_hash == _token_hash(token or "")))
    db.session.commit()


def change_password(moderator, new_password):
    """A new password closes every sign-in of that moderator (a stolen cookie included)."""
    _check_password(new_password)
    moderator.password_hash = _hasher.hash(new_password)
    db.session.execute(sa.delete(ModeratorSession).where(ModeratorSession.moderator_id == moderator.id))
    db.session.commit()


def change_own_password(moderator, current_password, new_password):
    """A moderator's own change: the current password first; this browser gets a new sign-in, the others end."""
    if authenticate(moderator.username, current_password) is None:
        raise PasswordRefused("That is not your current password.")
    change_password(moderator, new_password)
    return open_session(moderator)


def _token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def decide(comment_id, action, moderator, reason=None):
    """One moderator's decision on one comment, with its audit event, in one commit."""
    comment = db.session.get(Comment, comment_id, populate_existing=True, options=[undefer_group("personal")])
    if comment is None:
        raise DecisionRefused("That comment no longer exists.")
    _apply(comment, action, moderator, reason)
    db.session.commit()
    send_decision_followups([comment.id])
    return comment


def decide_many(comment_ids, action, moderator):
    """The same decision on many comments in one transaction; those it does not apply to are skipped."""
    query = sa.select(Comment).options(undefer_group("personal")).where(Comment.id.in_(comment_ids)).order_by(Comment.id)
    comments = db.session.scalars(query.execution_options(populate_existing=True)).all()
    done, skipped = [], []
    for comment in comments:
        try:
            _apply(comment, action, moderator, None)
            done.append(comment.id)
        except DecisionRefused:
            skipped.append(comment.id)
    db.session.commit()
    send_decision_followups(done)
    skipped += sorted(set(comment_ids) - {c.id for c in comments})
    return done, skipped


def _apply(comment, action, moderator, reason):
    to_state, from_states = ACTIONS[action]
    from_state = comment.state
    if from_state not in from_states:
        raise DecisionRefused(f"Comment {comment.id} is {from_state}; it cannot be {PAST_TENSE[action]}.")
    # Guarded on the state we read, so that two moderators (or a moderator and the checker) never both win.
    changed = db.session.execute(
        sa.update(Comment)
        .where(Comment.id == comment.id, Comment.state == from_state)
        .values(state=to_state, decided_at=utcnow(), author_ip=truncated_ip(comment.author_ip))
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if changed != 1:
        raise DecisionRefused(f"Comment {comment.id} was changed by someone else a moment ago.")
    record(comment, from_state, to_state, actor="moderator", moderator=moderator, reason=reason or action)
    db.session.flush()
    learning.record_example(comment)


def queue_page(state="held", thread_key=None, after_id=0, limit=50):
    """One page of comments in a state, oldest first; keyset-paged on id so that a page is an index scan."""
    query = (sa.select(Comment).options(selectinload(Comment.thread), undefer(Comment.author_email), undefer(Comment.author_ip))
             .where(Comment.state == state, Comment.id > after_id))
    if thread_key:
        if not is_plain(thread_key, THREAD_KEY_MAX):
            return [], False
        query = query.join(Thread).where(Thread.key == thread_key)
    rows = db.session.scalars(query.order_by(Comment.id).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def history(comment_id):
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.comment_id == comment_id).order_by(AuditEvent.created_at, AuditEvent.id)
    ).all()


def counts_by_state():
    rows = db.session.execute(sa.select(Comment.state, sa.func.count()).group_by(Comment.state)).all()
    return {state: count for state, count in rows}
