"""Commenters' email: what each event owes (a listener of announcements.py), the signed links, confirm, unsubscribe.

Double opt-in: the first email to an address asks to confirm it, and nothing else is ever sent to an address that
did not. Every later email carries a one-click unsubscribe link (RFC 8058). A reply notifies the author of the
comment it answers, and only them (not everyone earlier in the thread): one email per reply, from a person who
asked for exactly that.
"""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from .. import queue
from ..extensions import conflict_insert, db
from ..ids import MAX_ID
from ..models import Comment, Mail, Subscriber, utcnow
from ..notify import mail
from ..privacy.crypto import email_index, normal_email

# One confirmation request an address a day at most, whatever a form is made to post.
CONFIRM_EVERY = timedelta(hours=24)
CONFIRM_DAYS = 7
# An email owed to an address whose confirmation is awaited: sent once it comes (`confirm`).
WAITING = "waiting"
# How long the record of an email sent (or dropped, or failed), and an address that unsubscribed, are kept.
KEEP_DAYS = 30
CONFIRM_SALT = "subscriptions-confirm"
UNSUBSCRIBE_SALT = "subscriptions-unsubscribe"

log = logging.getLogger(__name__)


class LinkRefused(Exception):
    """A link from an email that cannot be used: the page says why, with this status."""

    def __init__(self, title, message, status):
        super().__init__(message)
        self.title, self.message, self.status = title, message, status


def offered():
    """Whether this service can email commenters at all: else the forms do not offer it, and nothing is owed."""
    return not mail.problems(current_app.config)


# What each event owes (announcements.py calls these inside its transaction).

def owe(event, comment, at=None):
    """The emails `event` on `comment` owes, added as pending rows (flushed, not committed); their ids."""
    if not offered() or event not in ("held", "approved"):
        return []
    # Asked once the checks found no spam: an address a spammer typed in is not sent even a confirmation request.
    owed = _confirmation(comment)
    if event == "approved":
        owed += _reply(comment) + _approval(comment)
    return owed


def send(ids):
    """Queue each email, once the commit that owed them is done; a send the broker loses is swept up later."""
    for mail_id in ids:
        queue.send_mail(mail_id)


def _confirmation(comment):
    """A new comment that asked for email, from an address not confirmed yet (or that unsubscribed since, and now
    asks again): ask that address to confirm.

    Never for a moderator's reply (it has no address), nor for a comment that filled in the field only robots see.
    """
    asked = comment.notify_replies or comment.notify_approval
    if not asked or not comment.author_email or comment.staff_id is not None or comment.honeypot:
        return []
    subscriber, now = _subscriber_for(comment.author_email), utcnow()
    if subscriber.confirmed_at and not subscriber.unsubscribed_at:
        return []
    if subscriber.confirmation_sent_at and subscriber.confirmation_sent_at > now - CONFIRM_EVERY:
        return []
    subscriber.confirmation_sent_at = now
    db.session.flush()
    return _owed("confirm", subscriber, comment)


def _reply(comment):
    """An approved reply: its parent's author, if they asked for replies and are not the replier (sent once the
    address is confirmed)."""
    if not comment.parent_id:
        return []
    parent = db.session.get(Comment, comment.parent_id)
    if parent is None or not parent.notify_replies or parent.state != "approved" or not parent.email_hash:
        return []
    if parent.email_hash == comment.email_hash:
        return []  # answering oneself is no news
    return _owed_to(parent.email_hash, "reply", comment)


def _approval(comment):
    if not comment.notify_approval or not comment.email_hash:
        return []
    return _owed_to(comment.email_hash, "approved", comment)


def _owed_to(email_hash, kind, comment):
    """An email to the address, now if it is confirmed; if its confirmation is still awaited, the email waits for
    it (`confirm` sends it; it goes with the address if that never comes). None to an address that unsubscribed."""
    subscriber = db.session.scalar(sa.select(Subscriber).where(
        Subscriber.email_hash == email_hash, Subscriber.unsubscribed_at.is_(None)))
    if subscriber is None:
        return []
    return _owed(kind, subscriber, comment, "pending" if subscriber.confirmed_at else WAITING)


def _subscriber_for(email):
    """The address's one row, made if new; two runs making it at once end with the same row (the unique index)."""
    email_hash = email_index(email)
    made = conflict_insert(Subscriber).values(email_hash=email_hash, email=normal_email(email), created_at=utcnow())
    db.session.execute(made.on_conflict_do_nothing())
    return db.session.scalar(sa.select(Subscriber).where(Subscriber.email_hash == email_hash).with_for_update()
                             .execution_options(populate_existing=True))


def _owed(kind, subscriber, comment, state="pending"):
    """One email, to send now (its id) or waiting for the address's confirmation; none when that one was owed
    before (an approval undone and made again)."""
    now = utcnow()
    mail_id = db.session.scalar(conflict_insert(Mail).values(
        kind=kind, subscriber_id=subscriber.id, comment_id=comment.id, state=state, attempts=0, due_at=now,
        created_at=now).on_conflict_do_nothing().returning(Mail.id))
    return [mail_id] if mail_id is not None and state == "pending" else []


# The signed links: the subscriber's id and when the row was made (an id SQLite gives again is another row), never
# the address.

def _stamp(subscriber):
    return int(subscriber.created_at.timestamp())


def _confirming():
    return URLSafeTimedSerializer(current_app.secret_key, salt=CONFIRM_SALT)


def _unsubscribing():
    return URLSafeSerializer(current_app.secret_key, salt=UNSUBSCRIBE_SALT)


def confirm_token(subscriber):
    """For the link in the confirmation request; it expires after CONFIRM_DAYS."""
    return _confirming().dumps([subscriber.id, _stamp(subscriber)])


def unsubscribe_token(subscriber):
    """For the List-Unsubscribe link in every other email; it never expires (an old email must still stop them)."""
    return _unsubscribing().dumps([subscriber.id, _stamp(subscriber)])


def _read(token, serializer, **options):
    try:
        subscriber_id, stamp = serializer.loads(token, **options)
    except SignatureExpired:
        raise LinkRefused("This link has expired", f"A confirmation link works for {CONFIRM_DAYS} days. Nothing was "
                          "changed: tick the box again with your next comment, and a new link will be sent.",
                          410) from None
    except (BadSignature, ValueError, TypeError):
        raise LinkRefused("This link could not be verified", "It may have been cut short or changed on its way. "
                          "Nothing was changed: copy the whole link from the email.", 404) from None
    usable = isinstance(subscriber_id, int) and not isinstance(subscriber_id, bool) and 1 <= subscriber_id <= MAX_ID
    subscriber = db.session.get(Subscriber, subscriber_id) if usable else None
    if subscriber is None or _stamp(subscriber) != stamp:
        raise LinkRefused("This link no longer works", "The address it was sent to was removed from this service, "
                          "so no email is sent to it.", 404)
    return subscriber


def read_confirmation(token):
    """The subscriber a confirmation link stands for, if it may still be used; else LinkRefused."""
    return _read(token, _confirming(), max_age=CONFIRM_DAYS * 86400)


def confirm(token):
    """The address's owner said yes (again, after an unsubscribe): from now on its emails may be sent, and those
    that waited for this are sent now. Confirming twice changes nothing."""
    subscriber = read_confirmation(token)
    if subscriber.confirmed_at is None or subscriber.unsubscribed_at is not None:
        now = utcnow()
        subscriber.confirmed_at, subscriber.unsubscribed_at = now, None
        released = db.session.scalars(sa.update(Mail).where(Mail.subscriber_id == subscriber.id, Mail.state == WAITING)
                                      .values(state="pending", due_at=now).returning(Mail.id)).all()
        db.session.commit()
        log.info("subscriber %r confirmed", subscriber.id)
        send(released)
    return subscriber


def read_unsubscription(token):
    """The subscriber an unsubscribe link stands for; else LinkRefused."""
    return _read(token, _unsubscribing())


def unsubscribe(token):
    """Every email to this address stops, those waiting to be sent too; a second time changes nothing."""
    subscriber = read_unsubscription(token)
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = utcnow()
        db.session.execute(sa.update(Mail).where(Mail.subscriber_id == subscriber.id,
                                                 Mail.state.in_(("pending", WAITING)))
                           .values(state="dropped", error="unsubscribed"))
        db.session.commit()
        log.info("subscriber %r unsubscribed", subscriber.id)
    return subscriber


def forget_expired():
    """Retention, run by the hourly purge: the addresses that never confirmed once their last link expired, those
    that unsubscribed KEEP_DAYS ago, and the emails sent, dropped or failed KEEP_DAYS ago; how many addresses.
    An address's owed emails go with it (foreign key cascade)."""
    now = utcnow()
    expired, kept = now - timedelta(days=CONFIRM_DAYS), now - timedelta(days=KEEP_DAYS)
    forgotten = db.session.execute(sa.delete(Subscriber).where(sa.or_(
        sa.and_(Subscriber.confirmed_at.is_(None), Subscriber.created_at < expired,
                sa.or_(Subscriber.confirmation_sent_at.is_(None), Subscriber.confirmation_sent_at < expired)),
        Subscriber.unsubscribed_at < kept))).rowcount
    db.session.execute(sa.delete(Mail).where(Mail.state.in_(("sent", "dropped", "failed")), Mail.created_at < kept))
    db.session.commit()
    return forgotten
