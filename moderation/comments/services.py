"""What a reader can do: read a thread and post a comment."""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..audit import record
from ..extensions import db
from ..models import Comment, Thread, utcnow
from ..queue import send_check_comment

AWAITING = ("pending", "held")


class CommentRefused(Exception):
    """A rule says no; `field` names the form field the message belongs beside (None: the whole form)."""

    status = 422

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


class TooSoon(CommentRefused):
    status = 429


class CommentsClosed(CommentRefused):
    status = 403


def list_threads():
    """Every article, newest first, for the home page."""
    return db.session.scalars(sa.select(Thread).order_by(Thread.created_at.desc())).all()


def get_thread(key):
    return db.session.scalar(sa.select(Thread).where(Thread.key == key))


def create_thread(key, title, url=None):
    """Register an article; a second call with the same key updates its title and url."""
    thread = get_thread(key) or Thread(key=key)
    thread.title, thread.url = title, url
    db.session.add(thread)
    db.session.commit()
    return thread


def visible_comments(thread, own_ids=()):
    """Approved comments, plus this browser's own comments still awaiting moderation, oldest first."""
    shown = Comment.state == "approved"
    if own_ids:
        shown = sa.or_(shown, sa.and_(Comment.id.in_(list(own_ids)), Comment.state.in_(AWAITING)))
    query = sa.select(Comment).where(Comment.thread_id == thread.id, shown).order_by(Comment.created_at, Comment.id)
    return list(db.session.scalars(query))


def comment_tree(comments):
    """[(comment, [children...])...]: a reply whose parent is not shown is shown at the top level."""
    by_id = {c.id: (c, []) for c in comments}
    roots = []
    for comment in comments:
        parent = by_id.get(comment.parent_id)
        (parent[1] if parent else roots).append(by_id[comment.id])
    return roots


def post_comment(thread, *, author_name, author_email, author_url, body, parent_id, honeypot, ip, user_agent,
                 form_seconds=None, referrer=None):
    """Save the comment as pending, commit, and only then queue its spam check."""
    if not thread.comments_open:
        raise CommentsClosed("Comments are closed on this article.")
    parent = _approved_parent(thread, parent_id)
    _refuse_flood(ip, author_email.lower())
    comment = Comment(
        thread=thread,
        parent_id=parent.id if parent else None,
        author_name=author_name,
        author_email=author_email.lower(),
        author_url=author_url or None,
        body=body,
        honeypot=bool(honeypot),
        author_ip=ip,
        user_agent=(user_agent or "")[:500] or None,
        referrer=(referrer or "")[:2000] or None,
        form_seconds=form_seconds,
        state="pending",
    )
    db.session.add(comment)
    db.session.flush()
    record(comment, None, "pending", actor="reader", reason="posted")
    db.session.commit()
    send_check_comment(comment.id)
    return comment


def _approved_parent(thread, parent_id):
    if not parent_id:
        return None
    parent = db.session.get(Comment, int(parent_id))
    if parent is None or parent.thread_id != thread.id or parent.state != "approved":
        raise CommentRefused("The comment you are replying to is not available; your comment can still be posted on its own.", "parent_id")
    return parent


def _refuse_flood(ip, email):
    """WordPress's flood check: the same address or email may not post again within the interval."""
    interval = current_app.config["MODERATION_FLOOD_INTERVAL"]
    if not interval:
        return
    since = utcnow() - timedelta(seconds=interval)
    same_author = Comment.author_email == email
    if ip:
        same_author = sa.or_(same_author, Comment.author_ip == ip)
    latest = db.session.scalar(sa.select(sa.func.max(Comment.created_at)).where(Comment.created_at > since, same_author))
    if latest is not None:
        raise TooSoon(f"You are posting comments too quickly. Please wait {interval} seconds between comments; your text is kept below.")
