"""Sending one owed email (claimed, checked again, written, sent over SMTP, recorded) and sweeping up lost sends.

A mail is claimed before it is sent, by moving its `attempts` on from the value read: of two tasks for the same mail
(a duplicate message, or the sweep's and a late original), one sends and the other finds the claim and stops.
A claimed mail's `due_at` is when its claim runs out; the sweep sends again a pending mail whose `due_at` passed
LOST_AFTER ago (its message was lost, or its worker died).
"""
import logging
import smtplib
import textwrap
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, render_template
from sqlalchemy.orm import undefer

from .. import queue
from ..comments import services as comments
from ..extensions import db
from ..models import Comment, Mail, Subscriber, utcnow
from ..notify import mail
from . import services
from ..urls import external as absolute

# Tries of one email over a mail server that fails for a while (greylisting, a restart), 1, 2, 4, 8, 16 minutes apart.
MAX_ATTEMPTS = 6
FIRST_DELAY_SECONDS = 60
# How long a task has to send a mail it claimed, beyond its hard time limit.
CLAIM_MARGIN_SECONDS = 60
# A pending mail whose due time passed this long ago was lost on its way (broker, worker): the sweep sends it again.
LOST_AFTER_SECONDS = 120
# A worker whose clock is behind the one that owed the mail still sends it.
CLOCK_SKEW_SECONDS = 5
EXCERPT_CHARS = 300
SUBJECTS = {
    "confirm": "Confirm your email address for comment notifications",
    "reply": "New reply to your comment on “{title}”",
    "approved": "Your comment on “{title}” is published",
}

log = logging.getLogger(__name__)


class TryAgain(Exception):
    """The mail server failed for now: the task sends the mail again after `countdown` seconds, as `attempt`."""

    def __init__(self, countdown, attempt, sentence):
        super().__init__(sentence)
        self.countdown, self.attempt = countdown, attempt


def deliver(mail_id, attempt=None):
    """Send one owed email if it is still owed; what happened, in a word ("sent", "dropped", "failed", ...).

    `attempt` is the try a retry of this task was scheduled as: that retry owns the mail before its due time.
    Raises TryAgain when the mail server failed in a way that may pass.
    """
    if mail.problems(current_app.config):
        log.warning("email %r waits: this service has no mail server or address configured", mail_id)
        return "waiting"
    row = db.session.get(Mail, mail_id, populate_existing=True)
    if row is None or row.state != "pending":
        return "done"
    if row.attempts >= MAX_ATTEMPTS:
        return _record(row.id, "failed", f"gave up after {row.attempts} tries")
    if not _claim(row, attempt):
        return "busy"
    why = _no_longer_owed(row)
    if why:
        return _record(row.id, "dropped", why)
    message = compose(row)
    try:
        with mail.Outbox(current_app.config) as outbox:
            outbox.send(message)
    except mail.SEND_ERRORS as error:
        return _failed(row, error)
    log.info("email %r (%s) sent to subscriber %r", row.id, row.kind, row.subscriber_id)
    return _record(row.id, "sent", None)


def _claim(row, attempt):
    """Take the mail for this task, in a commit of its own, before anything is sent."""
    now = utcnow()
    mine = attempt is not None and attempt == row.attempts
    if not mine and row.due_at > now + timedelta(seconds=CLOCK_SKEW_SECONDS):
        return False  # another task holds it, or its retry is not due yet
    won = db.session.execute(sa.update(Mail).where(
        Mail.id == row.id, Mail.state == "pending", Mail.attempts == row.attempts,
    ).values(attempts=Mail.attempts + 1, due_at=now + _claim_time())).rowcount == 1
    db.session.commit()
    if won:
        db.session.refresh(row)
    return won


def _claim_time():
    """Longer than the task can run (queue.py gives SEND_MAIL the check's time limit): a claim outlives its task."""
    limit = current_app.config["MODERATION_CHECK_TIME_LIMIT"] + queue.HARD_LIMIT_MARGIN
    return timedelta(seconds=limit + CLAIM_MARGIN_SECONDS)


def _no_longer_owed(row):
    """Why the email must not go out any more (the address stopped them, its comment went), or None."""
    subscriber = db.session.get(Subscriber, row.subscriber_id)
    if subscriber is None:
        return "unsubscribed"
    if row.kind == "confirm":
        # Asked again after an unsubscribe (the request was owed after it): the confirmation goes.
        again = subscriber.unsubscribed_at is not None and subscriber.unsubscribed_at < row.created_at
        return "already confirmed" if subscriber.confirmed_at and not again else None
    if subscriber.unsubscribed_at:
        return "unsubscribed"
    if not subscriber.confirmed_at:
        return "not confirmed"
    comment = db.session.get(Comment, row.comment_id) if row.comment_id else None
    if comment is None or comment.state != "approved":
        return "the comment is no longer published"
    return None


def _record(mail_id, state, error):
    db.session.execute(sa.update(Mail).where(Mail.id == mail_id).values(
        state=state, error=error, sent_at=utcnow() if state == "sent" else None))
    db.session.commit()
    return state


def _failed(row, error):
    """A failed send: tried again later when it may pass and tries are left, else failed for good, with why."""
    sentence = describe(error)
    # The server's own words can quote the address: only the kind of failure and its code are logged.
    log.warning("email %r not sent (try %r): %s", row.id, row.attempts, sentence)
    if not transient(error):
        return _record(row.id, "failed", sentence)
    if row.attempts >= MAX_ATTEMPTS:
        return _record(row.id, "failed", f"{sentence}; gave up after {row.attempts} tries")
    countdown = FIRST_DELAY_SECONDS * 2 ** (row.attempts - 1)
    # The sweep leaves it to the retry until a while after the retry was due.
    db.session.execute(sa.update(Mail).where(Mail.id == row.id).values(
        error=sentence, due_at=utcnow() + timedelta(seconds=countdown)))
    db.session.commit()
    raise TryAgain(countdown, row.attempts, sentence)


def _code(error):
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return codes[0] if codes else None
    return getattr(error, "smtp_code", None)


def transient(error):
    """A refusal with a 5xx code is for good (no such mailbox, refused as spam); anything else may pass."""
    code = _code(error)
    return not (isinstance(error, mail.REFUSED) and isinstance(code, int) and 500 <= code < 600)


def describe(error):
    """The failure in a sentence for the outbox's `error`: never the server's own text, which may quote the address."""
    code = _code(error)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        what = "the mail server refused the recipient"
    elif isinstance(error, smtplib.SMTPSenderRefused):
        what = "the mail server refused the sender (MODERATION_MAIL_FROM)"
    elif isinstance(error, smtplib.SMTPDataError):
        what = "the mail server refused the message"
    elif isinstance(error, smtplib.SMTPAuthenticationError):
        what = "the mail server refused the user name or password"
    elif isinstance(error, (smtplib.SMTPException, OSError)) and not isinstance(error, smtplib.SMTPResponseException):
        what = f"the mail server could not be reached ({type(error).__name__})"
    else:
        what = f"the mail server failed ({type(error).__name__})"
    return f"{what} ({code})" if code else what


# The email itself.

def compose(row):
    """The email one outbox row stands for: plain text with an HTML alternative, in the kind's words."""
    config = current_app.config
    subscriber = db.session.scalar(sa.select(Subscriber).options(undefer(Subscriber.email))
                                   .where(Subscriber.id == row.subscriber_id))
    comment = db.session.get(Comment, row.comment_id) if row.comment_id else None
    context = {"kind": row.kind, "site": urlsplit(config["MODERATION_BASE_URL"]).hostname,
               "days": services.CONFIRM_DAYS}
    headers = {}
    if comment is not None:
        context.update(_about(comment))
    if row.kind == "confirm":
        context["confirm_url"] = absolute("subscriptions.confirm", token=services.confirm_token(subscriber))
        context["asked"] = {"replies": comment is None or comment.notify_replies,
                            "approval": comment is not None and comment.notify_approval}
    else:
        context["unsubscribe_url"] = absolute("subscriptions.unsubscribe", token=services.unsubscribe_token(subscriber))
        # RFC 8058: a mail client's "Unsubscribe" button POSTs to this address, with no page in between.
        headers = {"List-Unsubscribe": f"<{context['unsubscribe_url']}>",
                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    subject = context["subject"] = SUBJECTS[row.kind].format(title=_one_line(context.get("title", "")))
    return mail.message(config, subscriber.email, subject, render_template("subscriptions/email.txt", **context),
                        render_template("subscriptions/email.html", **context), headers=headers)


def _about(comment):
    thread = comment.thread
    return {"title": thread.title, "author": comment.author_name, "link": comment_link(comment),
            "excerpt": textwrap.shorten(comment.body or "", EXCERPT_CHARS, placeholder=" …")}


def _one_line(text):
    return " ".join(str(text).split())[:200]


def comment_link(comment):
    """Where a reader sees the comment: on the article's own page when the thread has one (the widget shows it
    there), else on this service's thread page, at the page that holds it."""
    thread = comment.thread
    if thread.url:
        return f"{thread.url.split('#', 1)[0]}#{comment.anchor}"
    page = comments.page_of(thread, comment.id)
    return absolute("comments.thread", key=thread.key, page=page if page > 1 else None) + f"#{comment.anchor}"


# The sweep.

def sweep(limit=200):
    """Send again the pending mails whose send was lost; the ids sent.

    Each is claimed first, guarded on the due time it was read with, so that two sweeps at once send it once.
    """
    if mail.problems(current_app.config):
        return []
    now = utcnow()
    lost = db.session.execute(sa.select(Mail.id, Mail.due_at).where(
        Mail.state == "pending", Mail.due_at < now - timedelta(seconds=LOST_AFTER_SECONDS))
        .order_by(Mail.id).limit(limit)).all()
    claimed = [row.id for row in lost if db.session.execute(
        sa.update(Mail).where(Mail.id == row.id, Mail.state == "pending", Mail.due_at == row.due_at)
        .values(due_at=now)).rowcount == 1]
    db.session.commit()
    for mail_id in claimed:
        queue.send_mail(mail_id)
    return claimed
