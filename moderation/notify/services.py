"""Moderators' email notifications: their settings, the scheduled run that mails them, and the one-click links."""
import hashlib
import logging
import textwrap
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, render_template
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Comment, Moderator, utcnow
from ..review import services as review
from . import mail
from ..urls import external as _absolute

NOTIFY_CHOICES = ("off", "instant", "digest")
# What a link in an email may do; anything else needs the console.
LINK_ACTIONS = {"approve": "Approve", "spam": "Mark as spam"}
LINK_SALT = "moderation-email-link"
# Comments listed in one email; the rest are counted and wait in the queue.
LISTED = 20
EXCERPT_CHARS = 300
# A check stamps `checked_at` a moment before it commits: comments stamped in the last seconds wait for the next
# run, so that one committed late is never skipped.
SETTLE_SECONDS = 10

log = logging.getLogger(__name__)


class SettingsRefused(Exception):
    """The notification settings break a rule; the message is for the email field."""


class LinkRefused(Exception):
    """A link from an email that cannot be used: the page says why, with this status."""

    def __init__(self, title, message, status):
        super().__init__(message)
        self.title, self.message, self.status = title, message, status


@dataclass
class EmailLink:
    moderator: Moderator
    comment: Comment
    action: str


def save_settings(moderator, email, notify):
    """A moderator's own choice; turning notifications on starts from now, so that the backlog is not mailed."""
    if notify not in NOTIFY_CHOICES:
        raise SettingsRefused("Choose Off, Instant or Digest.")
    email = email or None
    if notify != "off" and email is None:
        raise SettingsRefused("Enter the address to send notifications to, or choose Off.")
    if moderator.notify == "off" and notify != "off":
        moderator.notified_at = utcnow()
    moderator.email, moderator.notify = email, notify
    db.session.commit()


def mail_problems():
    """Why this service cannot send email now (empty when it can), for the account page."""
    return mail.problems(current_app.config)


def notify_moderators():
    """One scheduled run: each subscribed moderator gets at most one email, and `notified_at` advances only once
    the mail server has accepted it, so a failed send is sent again by the next run. Returns emails sent."""
    config = current_app.config
    if mail.problems(config):
        return 0
    now, sent = utcnow(), 0
    ids = db.session.scalars(sa.select(Moderator.id).order_by(Moderator.id).where(
        Moderator.active.is_(True), Moderator.notify.in_(("instant", "digest")), Moderator.email.is_not(None))).all()
    with mail.Outbox(config) as outbox:
        for moderator_id in ids:
            try:
                sent += _notify(moderator_id, now, outbox)
            except mail.REFUSED as error:
                _failed(moderator_id, error)
            except mail.SEND_ERRORS as error:
                _failed(moderator_id, error)
                break  # the server is unreachable or broke off: everyone left waits for the next run
    return sent


def _failed(moderator_id, error):
    db.session.rollback()
    # The error's text can quote an address: only its kind and the server's reply code are logged.
    code = getattr(error, "smtp_code", None)
    log.warning("notification to moderator %r not sent, the next run tries again: %s%s",
                moderator_id, type(error).__name__, f" {code}" if code else "")


def _notify(moderator_id, now, outbox):
    """Mail one moderator if they are due; commit the new `notified_at` only after the server took the email."""
    moderator = db.session.scalar(
        sa.select(Moderator).where(Moderator.id == moderator_id).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True))
    upto = now - timedelta(seconds=SETTLE_SECONDS)
    if moderator is None or not moderator.active or moderator.notify == "off" or not moderator.email:
        db.session.rollback()
        return 0
    if moderator.notified_at is None:
        moderator.notified_at = upto  # notifications were switched on elsewhere: start from now, not the backlog
        db.session.commit()
        return 0
    email = _compose(moderator, now, upto)
    if email is None:
        db.session.rollback()
        return 0
    outbox.send(email)
    moderator.notified_at = upto
    db.session.commit()
    log.info("notification sent to moderator %r", moderator.id)
    return 1


def _held(after=None, upto=None):
    query = sa.select(Comment).where(Comment.state == "held")
    if after is not None:
        query = query.where(Comment.checked_at > after)
    if upto is not None:
        query = query.where(Comment.checked_at <= upto)
    return query


def _count(query):
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))


def _oldest(query):
    return db.session.scalars(query.options(selectinload(Comment.thread)).order_by(Comment.id).limit(LISTED)).all()


def _compose(moderator, now, upto):
    """The email due to this moderator now, or None: the comments held since the last (instant), or the queue
    once a period when something new was held (digest)."""
    new = _held(moderator.notified_at, upto)
    if moderator.notify == "digest":
        period = timedelta(hours=current_app.config["MODERATION_DIGEST_HOURS"])
        if moderator.notified_at > now - period:
            return None
        fresh = _count(new)
        listed, waiting = (_oldest(_held()), _count(_held())) if fresh else ([], 0)
    else:
        listed = _oldest(new)
        fresh = waiting = _count(new) if listed else 0
    if not fresh:
        return None
    return _message(moderator, listed, waiting, fresh)


def _message(moderator, comments, waiting, fresh):
    config = current_app.config
    subject = f"{waiting} comment{' is' if waiting == 1 else 's are'} waiting for moderation"
    context = {
        "moderator": moderator, "digest": moderator.notify == "digest", "waiting": waiting, "fresh": fresh,
        "items": [_item(moderator, comment) for comment in comments], "more": waiting - len(comments),
        "queue_url": _absolute("review.queue"), "account_url": _absolute("notify.account"),
        "hours": config["MODERATION_EMAIL_LINK_HOURS"], "digest_hours": config["MODERATION_DIGEST_HOURS"],
    }
    return mail.message(config, moderator.email, subject, render_template("notify/email.txt", **context),
                        render_template("notify/email.html", **context))


def _item(moderator, comment):
    """What an email says about one comment: never the commenter's email or IP."""
    return {
        "id": comment.id, "thread": comment.thread.title, "author": comment.author_name,
        "excerpt": textwrap.shorten(comment.body, EXCERPT_CHARS, placeholder=" …"), "reasons": comment.reasons or [],
        "links": {label: _absolute("notify.email_action", token=link_token(moderator, comment.id, action))
                  for action, label in LINK_ACTIONS.items()},
    }


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt=LINK_SALT)


def _fingerprint(moderator):
    """Changes when the password or the notification address does: every link mailed before stops working."""
    return hashlib.sha256(f"{moderator.password_hash}\n{moderator.email or ''}".encode()).hexdigest()[:24]


def link_token(moderator, comment_id, action):
    """The signed part of a one-click link: who, which comment, what; it expires (MODERATION_EMAIL_LINK_HOURS)."""
    return _serializer().dumps([moderator.id, comment_id, action, _fingerprint(moderator)])


def read_link(token):
    """The moderator, comment and action a link stands for, if it may still be used; else LinkRefused."""
    max_age = current_app.config["MODERATION_EMAIL_LINK_HOURS"] * 3600
    try:
        moderator_id, comment_id, action, fingerprint = _serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkRefused("This link has expired", f"Links in notification emails work for "
                          f"{max_age // 3600} hours. Nothing was changed: decide in the queue instead.", 410) from None
    except (BadSignature, ValueError, TypeError):
        raise LinkRefused("This link could not be verified", "It may have been cut short or changed on its way. "
                          "Nothing was changed: decide in the queue instead.", 404) from None
    if action not in LINK_ACTIONS or not isinstance(moderator_id, int) or not isinstance(comment_id, int):
        raise LinkRefused("This link could not be verified", "Nothing was changed: decide in the queue instead.", 404)
    moderator = db.session.get(Moderator, moderator_id)
    if moderator is None or not moderator.active or fingerprint != _fingerprint(moderator):
        raise LinkRefused("This link no longer works", "The password or notification address of the account it "
                          "was sent to has changed, or the account was deactivated. Nothing was changed.", 403)
    return EmailLink(moderator, _held_comment(comment_id), action)


def _held_comment(comment_id):
    comment = db.session.get(Comment, comment_id, populate_existing=True)
    if comment is None:
        raise LinkRefused("That comment no longer exists", "It was deleted. Nothing was changed.", 404)
    if comment.state != "held":
        raise LinkRefused("Already decided", f"Comment {comment.id} is {comment.state} now, no longer waiting "
                          "for a decision. Nothing was changed.", 409)
    return comment


def follow_link(token):
    """The decision a link asks for, recorded as the moderator it was sent to; returns the EmailLink."""
    link = read_link(token)
    try:
        review.decide(link.comment.id, link.action, link.moderator)
    except review.DecisionRefused as refused:
        raise LinkRefused("Nothing was changed", str(refused), 409) from None
    return link
