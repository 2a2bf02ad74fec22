"""Telling the outside what happened to comments: webhooks and commenters' emails.

What is news is already in the database, written by the commit that made it: a comment not yet announced
(`comments.announced_at` empty) was created; an audit event not yet announced changed a comment's state. Whatever
path made them (the form, the API, Isso's client, a verdict, a moderator, a bulk decision, an undo), `announce()`
claims them, has each listener write what it owes (a webhook delivery, an email: outbox rows) in the commit that
claimed them, then sends those tasks. A send the broker lost is sent again by the listener's sweep; a run that died
before its commit left its rows unclaimed for the next, so nothing is announced twice or never.
"""
import sqlalchemy as sa
from sqlalchemy.orm import undefer

from .extensions import db
from .models import AuditEvent, Comment, utcnow

# The events listeners hear, in the words of the webhooks' settings: a comment created, or moved to one of these.
EVENTS = ("created", "held", "approved", "rejected", "spam")
BATCH = 200


def listeners():
    """The modules told of each event: each has `owe(event, comment, at)`, which adds its outbox rows (flushing, never
    committing) and gives their ids, and `send(ids)`, which queues them once that commit is done."""
    from .subscriptions import services as subscriptions
    from .webhooks import services as webhooks

    return (webhooks, subscriptions)


def announce(limit=BATCH):
    """Announce up to `limit` new comments and `limit` new changes of state, oldest first; how many of each."""
    now = utcnow()
    created = _claim(Comment, now, limit)
    changes = _claim(AuditEvent, now, limit)
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id.in_(changes)).order_by(AuditEvent.id)).all()
    moved = [event for event in events if event.to_state in EVENTS and event.from_state != event.to_state]
    comments = _comments(set(created) | {event.comment_id for event in moved})
    owed = {listener: [] for listener in listeners()}
    for comment_id in created:
        if comment_id in comments:
            _tell(owed, "created", comments[comment_id], comments[comment_id].created_at)
    for event in moved:
        if event.comment_id in comments:
            _tell(owed, event.to_state, comments[event.comment_id], event.created_at)
    db.session.commit()
    for listener, ids in owed.items():
        if ids:
            listener.send(ids)
    return len(created), len(changes)


def _claim(model, now, limit):
    """Mark up to `limit` unannounced rows announced, oldest first, and give their ids.

    One statement that sets and checks at once: a second run, on another worker, waits for this one's commit and
    then finds them announced (SQLite takes one writer at a time), or skips the rows this one locked (PostgreSQL).
    """
    oldest = sa.select(model.id).where(model.announced_at.is_(None)).order_by(model.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    claimed = sa.update(model).where(model.id.in_(oldest.scalar_subquery()), model.announced_at.is_(None)) \
        .values(announced_at=now).returning(model.id).execution_options(synchronize_session=False)
    return sorted(db.session.scalars(claimed).all())


def _comments(ids):
    """The comments by id, with the one personal field a listener reads (the author's address, for subscriptions)."""
    if not ids:
        return {}
    rows = db.session.scalars(sa.select(Comment).options(undefer(Comment.author_email)).where(Comment.id.in_(ids))
                              .execution_options(populate_existing=True))
    return {comment.id: comment for comment in rows}


def _tell(owed, event, comment, at):
    for listener in owed:
        owed[listener] += listener.owe(event, comment, at)
