"""Personal data on request and by duty: revealing an email, export, erasure, key rotation and retention."""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import undefer_group
from sqlalchemy.orm.attributes import flag_modified

from ..extensions import db
from ..models import (AuditEvent, Comment, Moderator, ModeratorSession, PostingGate, PrivacyEvent, Subscriber, TrainingExample,
                      Webhook, utcnow)
from ..spam import settings as spam_settings
from ..spam.services import CHECKER
from .addresses import truncated_ip
from .crypto import Keyring, email_index, ip_index, normal_email

log = logging.getLogger(__name__)
OPERATOR = "command line"
ERASED_NAME = "Anonymous"
ERASED_REASON = "(removed with the comment's text at its author's request)"
SEALED = ("author_email", "author_ip", "user_agent", "referrer", "akismet_payload")
BATCH = 500


def _record(actor, action, comment_id=None, detail=None):
    """A privacy event names who and which comment, never a name or an address."""
    db.session.add(PrivacyEvent(actor=actor, action=action, comment_id=comment_id, detail=detail))


def reveal_email(comment_id, moderator):
    """A moderator asked for the whole address: recorded before it is shown."""
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        return None
    _record(moderator.username, "reveal email", comment.id)
    db.session.commit()
    return comment.author_email


def comments_of(email):
    query = (sa.select(Comment).options(undefer_group("personal"))
             .where(Comment.email_hash == email_index(email)).order_by(Comment.id))
    return db.session.scalars(query).all()


def export_person(email, actor=OPERATOR):
    """Everything stored about one address: its comments, with every personal field, and their histories."""
    comments = comments_of(email)
    ids = [c.id for c in comments]
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.comment_id.in_(ids))
                                .order_by(AuditEvent.comment_id, AuditEvent.id)).all() if ids else []
    subscriber = db.session.scalar(sa.select(Subscriber).where(Subscriber.email_hash == email_index(email)))
    _record(actor, "export", detail=f"{len(ids)} comments")
    db.session.commit()
    return {
        "email": normal_email(email),
        "exported_at": utcnow().isoformat(),
        "comments": [_exported_comment(c) for c in comments],
        "audit_events": [_exported_event(e) for e in events],
        "subscription": _exported_subscription(subscriber),
    }


def _exported_subscription(subscriber):
    """Whether the address asked for email, confirmed it, or stopped it; None when it never asked."""
    if subscriber is None:
        return None
    when = lambda moment: moment.isoformat() if moment else None  # noqa: E731
    return {"asked_at": when(subscriber.created_at), "confirmed_at": when(subscriber.confirmed_at),
            "unsubscribed_at": when(subscriber.unsubscribed_at)}


def _exported_comment(comment):
    return {
        "id": comment.id, "thread": comment.thread.key, "thread_title": comment.thread.title,
        "parent_id": comment.parent_id, "state": comment.state, "author_name": comment.author_name,
        "author_email": comment.author_email, "author_url": comment.author_url, "body": comment.body,
        "ip": comment.author_ip, "user_agent": comment.user_agent, "referrer": comment.referrer,
        "akismet_payload": comment.akismet_payload, "spam_score": comment.spam_score, "reasons": comment.reasons,
        "created_at": comment.created_at.isoformat(),
        "decided_at": comment.decided_at.isoformat() if comment.decided_at else None,
    }


def _exported_event(event):
    return {"comment_id": event.comment_id, "actor": event.actor, "action": event.action,
            "from_state": event.from_state, "to_state": event.to_state, "reason": event.reason, "note": event.note,
            "detail": event.detail, "created_at": event.created_at.isoformat()}


def erase_person(email, with_text=False, actor=OPERATOR):
    """Remove one person's email, name, website, IP, user agent and referrer from every comment (and the text).

    The comments keep their place in their threads (replies stay readable); what the checks or a
    model learned from the text goes with it. Returns the ids of the comments erased.
    """
    comments = comments_of(email)
    ids = [c.id for c in comments]
    now = utcnow()
    for comment in comments:
        comment.author_email = None
        comment.author_name, comment.author_url = ERASED_NAME, None
        comment.author_ip = comment.ip_hash = comment.reader_hash = None
        comment.user_agent = comment.referrer = comment.akismet_payload = None
        comment.erased_at = comment.purged_at = now
        if with_text:
            comment.body, comment.reasons = "", []
        _record(actor, "erase with text" if with_text else "erase", comment.id)
    if ids:
        _forget_in_examples(ids, with_text)
        # The webhooks' log keeps what it sent of these comments: it now holds only what they hold.
        from ..webhooks import services as webhooks

        webhooks.refresh_payloads(ids)
    # Their subscription and every email still owed to them go too (mails by cascade).
    db.session.execute(sa.delete(Subscriber).where(Subscriber.email_hash == email_index(email)))
    db.session.commit()
    if ids:
        leave_no_trace()
    return ids


def _forget_in_examples(ids, with_text):
    # What a moderator's edit replaced is the person's name, website and text too: it goes with them.
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.comment_id.in_(ids), AuditEvent.detail.is_not(None))
                       .values(detail=sa.null()).execution_options(synchronize_session=False))
    theirs = TrainingExample.comment_id.in_(ids)
    if not with_text:
        db.session.execute(sa.update(TrainingExample).where(theirs).values(author=""))
        return
    db.session.execute(sa.delete(TrainingExample).where(theirs))
    # The checks' reasons quote the text ("strongest signals: 'word'"): they go with it.
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.comment_id.in_(ids), AuditEvent.actor == CHECKER)
                       .values(reason=ERASED_REASON))


def leave_no_trace():
    """Make erased values unrecoverable from the database files where the database allows it.

    SQLite zeroes freed content (secure_delete, set on every connection); the checkpoint copies the
    write-ahead log into the file and truncates it. PostgreSQL's VACUUM removes the dead row versions.
    """
    engine = db.engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "sqlite":
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()[0]
            if busy:
                log.warning("the write-ahead log could not be truncated yet: another process is reading")
        elif engine.dialect.name == "postgresql":
            for table in ("comments", "training_examples", "audit_events"):
                connection.exec_driver_sql(f"VACUUM {table}")


def rotate_keys(actor=OPERATOR):
    """Re-encrypt every personal field under the first key of MODERATION_DATA_KEY; recompute the blind indexes."""
    done, after = 0, 0
    everything = sa.select(Comment).options(undefer_group("personal")).order_by(Comment.id).limit(BATCH)
    while batch := db.session.scalars(everything.where(Comment.id > after)).all():
        for comment in batch:
            for name in SEALED:
                flag_modified(comment, name)
            comment.email_hash, comment.ip_hash = email_index(comment.author_email), ip_index(comment.author_ip)
        done, after = done + len(batch), batch[-1].id
        db.session.commit()
    for moderator in db.session.scalars(sa.select(Moderator).where(Moderator.email.is_not(None))):
        flag_modified(moderator, "email")
    # Commenters' subscriptions (their addresses and blind indexes) and the webhooks' signing secrets.
    for subscriber in db.session.scalars(sa.select(Subscriber).options(undefer_group("personal"))):
        flag_modified(subscriber, "email")
        subscriber.email_hash = email_index(subscriber.email)
    for webhook in db.session.scalars(sa.select(Webhook)):
        flag_modified(webhook, "secret")
    # The trusted and blocked lists are sealed with the data key too.
    spam_settings.reseal()
    # The gates are keyed with the old key and live for seconds: start them afresh.
    db.session.execute(sa.delete(PostingGate))
    _record(actor, "rotate keys", detail=f"{done} comments re-encrypted")
    db.session.commit()
    return done


def use_keys(app, keys):
    """Switch this process to another set of data keys (the first encrypts)."""
    app.extensions["privacy"] = Keyring(keys)


def purge_expired():
    """Retention: after MODERATION_RETAIN_DAYS drop user agent, referrer and Akismet payload, and truncate the IP."""
    config = current_app.config
    now = utcnow()
    cutoff = now - timedelta(days=config["MODERATION_RETAIN_DAYS"])
    query = (sa.select(Comment).options(undefer_group("personal"))
             .where(Comment.purged_at.is_(None), Comment.created_at < cutoff).order_by(Comment.id))
    purged = 0
    while batch := db.session.scalars(query.limit(BATCH)).all():
        for comment in batch:
            comment.user_agent = comment.referrer = comment.akismet_payload = None
            comment.author_ip, comment.purged_at = truncated_ip(comment.author_ip), now
        purged += len(batch)
        db.session.commit()
    db.session.execute(sa.delete(PostingGate).where(PostingGate.last_post_at < now - timedelta(days=1)))
    db.session.execute(sa.delete(ModeratorSession).where(
        ModeratorSession.created_at < now - timedelta(days=config["MODERATION_SESSION_DAYS"])))
    db.session.commit()
    return purged
