"""Rows for tests, built through the same models the app uses."""
import itertools

from moderation.audit import record
from moderation.extensions import db
from moderation.models import Comment, Thread
from moderation.review.services import create_moderator

_serial = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_thread(key=None, title="An article", comments_open=True):
    thread = Thread(key=key or f"article-{next(_serial)}", title=title, comments_open=comments_open)
    db.session.add(thread)
    db.session.commit()
    return thread


def make_comment(thread, state="held", body=None, email=None, **fields):
    n = next(_serial)
    comment = Comment(
        thread=thread,
        author_name=fields.pop("author_name", f"Reader {n}"),
        author_email=email or f"reader-{n}@example.org",
        body=body or f"Comment number {n}.",
        state=state,
        reasons=fields.pop("reasons", []),
        **fields,
    )
    db.session.add(comment)
    db.session.flush()
    record(comment, None, state, actor="test")
    db.session.commit()
    return comment


def make_moderator(username=None, password=PASSWORD, is_admin=False):
    return create_moderator(username or f"mod{next(_serial)}", password, is_admin=is_admin)
