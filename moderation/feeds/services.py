"""What the Atom feeds show: the newest approved comments of one thread or of the whole site."""
import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from ..comments import services as comments
from ..extensions import db
from ..models import Comment, Thread

# How many comments a feed holds: a reader polling every hour or so sees every new one on all but the busiest sites.
FEED_ENTRIES = 50


def thread_comments(thread, limit=FEED_ENTRIES):
    """The thread's newest approved comments, newest first (the page's own order, reversed)."""
    query = (sa.select(Comment).where(Comment.thread_id == thread.id, Comment.state == "approved")
             .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(limit))
    return list(db.session.scalars(query))


def site_comments(limit=FEED_ENTRIES):
    """The site's newest approved comments across threads, newest first by the order they arrived here.

    By id rather than by date, so that a site of a million comments reads fifty rows of an index, not a sort of
    every approved comment; an import's comments come in the order it brought them, each with its own date.
    """
    query = (sa.select(Comment).join(Comment.thread).options(contains_eager(Comment.thread))
             .where(Comment.state == "approved").order_by(Comment.id.desc()).limit(limit))
    return list(db.session.scalars(query))


def site_fingerprint(limit=FEED_ENTRIES):
    """What the site feed's content depends on, read from the index and the threads alone: which comments it holds
    and the version, title and address of their threads. Any change a reader could see changes one of these,
    since a thread's version changes whenever one of its approved comments does."""
    query = (sa.select(Comment.id, Thread.id, Thread.key, Thread.created_at, Thread.version, Thread.title, Thread.url)
             .join(Thread, Thread.id == Comment.thread_id).where(Comment.state == "approved")
             .order_by(Comment.id.desc()).limit(limit))
    return tuple(tuple(row) for row in db.session.execute(query))


def pages_of(thread):
    """{comment id: the page of the thread that shows it} when the thread is shown a page at a time; {} when a
    single page shows every comment (the default), so that a link finds its comment on the page it opens."""
    per_page = comments.comments_per_page()
    if not per_page:
        return {}
    rows = db.session.execute(sa.select(Comment.id, Comment.parent_id)
                              .where(Comment.thread_id == thread.id, Comment.state == "approved")
                              .order_by(Comment.created_at, Comment.id)).all()
    pages = {}
    for index, root in enumerate(comments.comment_tree(rows)):
        _mark(root, index // per_page + 1, pages)
    return pages


def _mark(node, page, pages):
    row, children = node
    pages[row.id] = page
    for child in children:
        _mark(child, page, pages)
