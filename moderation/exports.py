"""Everything a site owns as one JSON document: threads, comments, their history, moderators and imported ids.

The document is written as it is read, a page of rows at a time, so a site of a million comments costs the memory
of one page. It is read from one snapshot of the database (PostgreSQL's repeatable read; one read transaction on
SQLite), so a comment posted or decided while it is written is either wholly in it or not at all.

Emails are in it only when asked for (`with_emails`), and that access is recorded as a privacy event. It never
holds an IP address, a user agent, a referrer or what Akismet was sent: those are moderation evidence kept for
MODERATION_RETAIN_DAYS, not part of what a site moves or archives (`moderation privacy export EMAIL` still gives
one person everything stored about them). Moderators are named with their role, never with a password hash or
an address.
"""
import json

import sqlalchemy as sa
from flask import current_app

from .extensions import db
from .models import AuditEvent, Comment, Imported, Moderator, PrivacyEvent, Subscriber, Thread, utcnow
from .privacy.services import OPERATOR

FORMAT = "moderation-export"
VERSION = 1
# Rows read per query: small enough to stay a few megabytes of memory, large enough that the queries are few.
PAGE = 1_000


def count_items(with_emails=False):
    """How many items the document will hold, for a progress bar (read before the snapshot: close, not exact)."""
    tables = (Thread, Comment, AuditEvent, Moderator, Imported) + ((Subscriber,) if with_emails else ())
    return sum(db.session.scalar(sa.select(sa.func.count()).select_from(table)) for table in tables)


def write_json(stream, with_emails=False, destination="", on_progress=None):
    """Write the whole export to the text `stream`; returns {section: items written}.

    With emails, the access is recorded (and committed) before the first address is read, as a revealed email is.
    `on_progress(n)` is told of every page written.
    """
    if with_emails:
        where = destination or "a file"
        db.session.add(PrivacyEvent(actor=OPERATOR, action="site export with emails",
                                    detail=f"every comment's and subscriber's email, written to {where}"))
    db.session.commit()
    _snapshot()
    try:
        return _write(stream, with_emails, on_progress or (lambda n: None))
    finally:
        db.session.rollback()


def _snapshot():
    """Begin the read transaction every page is read in, as one snapshot of the database."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
    else:
        # SQLite's Python driver begins no transaction for reads: without one each page would see the latest rows.
        db.session.execute(sa.text("BEGIN"))


def _write(stream, with_emails, on_progress):
    head = {"format": FORMAT, "version": VERSION, "exported_at": utcnow().isoformat(), "with_emails": with_emails,
            "base_url": current_app.config["MODERATION_BASE_URL"]}
    # The head's fields without its closing brace: the sections follow, each an array written item by item.
    stream.write(json.dumps(head, ensure_ascii=False)[:-1] + ",\n")
    counts = {}
    for name, items in _sections(with_emails):
        stream.write(f'"{name}": [')
        counts[name] = _write_items(stream, items, on_progress)
        stream.write("\n],\n")
    stream.write(f'"counts": {json.dumps(counts)}\n}}\n')
    return counts


def _write_items(stream, items, on_progress):
    written = 0
    for item in items:
        stream.write(("\n" if not written else ",\n") + json.dumps(item, ensure_ascii=False))
        written += 1
        if written % PAGE == 0:
            on_progress(PAGE)
    on_progress(written % PAGE)
    return written


def _sections(with_emails):
    sections = [
        ("threads", (_thread(row) for row in _pages(_THREADS, Thread.id))),
        ("comments", (_comment(row, with_emails) for row in _pages(_comments_query(with_emails), Comment.id))),
        ("audit_events", (_event(row) for row in _pages(_EVENTS, AuditEvent.id))),
        ("moderators", (_moderator(row) for row in _pages(_MODERATORS, Moderator.id))),
        ("imported", (_imported(row) for row in _pages(_IMPORTED, Imported.id))),
    ]
    if with_emails:
        # Who confirmed they want email: without it a restored site would ask every subscriber to confirm again.
        sections.append(("subscribers", (_subscriber(row) for row in _pages(_SUBSCRIBERS, Subscriber.id))))
    return sections


def _pages(query, id_column):
    """Every row of `query`, by keyset pages on `id_column` (each query's first column)."""
    after = 0
    while rows := db.session.execute(query.where(id_column > after).order_by(id_column).limit(PAGE)).all():
        yield from rows
        after = rows[-1][0]


_THREADS = sa.select(Thread.id, Thread.key, Thread.title, Thread.url, Thread.comments_open, Thread.created_at)
_EVENTS = sa.select(AuditEvent.id, AuditEvent.comment_id, AuditEvent.actor, AuditEvent.from_state,
                    AuditEvent.to_state, AuditEvent.action, AuditEvent.reason, AuditEvent.note,
                    AuditEvent.created_at, AuditEvent.undone_at)
_MODERATORS = sa.select(Moderator.id, Moderator.username, Moderator.is_admin, Moderator.active)
_IMPORTED = sa.select(Imported.id, Imported.source, Imported.external_id, Imported.comment_id, Imported.created_at)
_SUBSCRIBERS = sa.select(Subscriber.id, Subscriber.email, Subscriber.created_at, Subscriber.confirmed_at,
                         Subscriber.unsubscribed_at)
_COMMENT_COLUMNS = (Comment.id, Thread.key, Comment.parent_id, Comment.state, Comment.author_name, Comment.author_url,
                    Comment.body, Comment.created_at, Comment.checked_at, Comment.decided_at, Comment.edited_at,
                    Comment.erased_at, Comment.staff_id, Comment.spam_score, Comment.reasons)
_PERSONAL_COLUMNS = (Comment.author_email, Comment.notify_replies, Comment.notify_approval)


def _comments_query(with_emails):
    columns = _COMMENT_COLUMNS + (_PERSONAL_COLUMNS if with_emails else ())
    return sa.select(*columns).join(Thread, Thread.id == Comment.thread_id)


def _thread(row):
    return {"key": row.key, "title": row.title, "url": row.url, "comments_open": row.comments_open,
            "created_at": _iso(row.created_at)}


def _comment(row, with_emails):
    item = {
        "id": row.id, "thread": row.key, "parent_id": row.parent_id, "state": row.state,
        "author_name": row.author_name, "author_url": row.author_url, "body": row.body,
        "created_at": _iso(row.created_at), "checked_at": _iso(row.checked_at), "decided_at": _iso(row.decided_at),
        "edited_at": _iso(row.edited_at), "erased_at": _iso(row.erased_at), "staff": row.staff_id is not None,
        "spam_score": row.spam_score, "reasons": row.reasons or [],
    }
    if with_emails:
        item.update(author_email=row.author_email, notify_replies=row.notify_replies,
                    notify_approval=row.notify_approval)
    return item


def _event(row):
    return {"comment_id": row.comment_id, "actor": row.actor, "action": row.action, "from_state": row.from_state,
            "to_state": row.to_state, "reason": row.reason, "note": row.note, "created_at": _iso(row.created_at),
            "undone_at": _iso(row.undone_at)}


def _moderator(row):
    return {"username": row.username, "role": "admin" if row.is_admin else "moderator", "active": row.active}


def _imported(row):
    return {"source": row.source, "external_id": row.external_id, "comment_id": row.comment_id,
            "created_at": _iso(row.created_at)}


def _subscriber(row):
    return {"email": row.email, "created_at": _iso(row.created_at), "confirmed_at": _iso(row.confirmed_at),
            "unsubscribed_at": _iso(row.unsubscribed_at)}


def _iso(moment):
    return moment.isoformat() if moment is not None else None
