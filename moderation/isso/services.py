"""What Isso's client asks of a thread, in our terms: its first post, its tree, an author's edit and delete.

Posting itself is the comments' own `post_comment`: the same rules, flood check, audit and spam check as the form
and the API. What is Isso's alone lives here: its two-level threads, and the author's short window to change
their mind.
"""
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext

from ..audit import record
from ..cleaning import is_plain, plain_text
from ..comments import services as comments
from ..extensions import db
from ..models import Comment, utcnow
from ..queue import send_check_comment

THREAD_TITLE_MAX = 300
PAGE_ADDRESS_MAX = 2_000
# An author may change what is still theirs to change: not what a moderator rejected, marked as spam or trashed.
CHANGEABLE = (*comments.AWAITING, "approved", "spam")


class NotChangeable(Exception):
    """The comment cannot be edited or deleted by its author any more; the message says why."""


@dataclass
class Entry:
    """A top-level comment or a reply as Isso shows it; `comment` None: a deleted comment kept for its replies."""

    id: int
    created_at: datetime
    comment: Comment | None
    replies: list = field(default_factory=list)


def thread_for_first_post(key, uri, origin, title):
    """The thread a page's first comment brings (added for the comment's own commit), when the page is on a site
    listed in MODERATION_ALLOWED_ORIGINS, as the widget's first post does; None otherwise."""
    if not origin or origin not in current_app.config["MODERATION_ALLOWED_ORIGINS"]:
        return None
    # Without a title, the page's path, never its query (see page_address).
    path = uri.split("?", 1)[0].split("#", 1)[0] or uri
    title = " ".join(plain_text(title if isinstance(title, str) else "").split()) or plain_text(unquote(path))
    try:
        return comments.new_thread(key, title[:THREAD_TITLE_MAX], page_address(origin, uri))
    except ValueError:
        return None


def page_address(origin, uri):
    """The article's address when Isso's uri is its path (the default); None for a `data-isso-id` of another kind.
    Its query and fragment are never kept: a newsletter link's query can carry an address or a token."""
    if not uri.startswith("/") or uri.startswith("//"):
        return None
    address = origin + uri.split("?", 1)[0].split("#", 1)[0]
    return address if is_plain(address, PAGE_ADDRESS_MAX) and " " not in address else None


def thread_tree(thread, own_reader_hash=None):
    """[Entry...]: the approved comments and this reader's own awaiting ones, in Isso's two levels, oldest first.

    Every reply hangs under its top-level comment, however deep it was posted (Isso's client nests one level).
    A top-level comment that is not shown but has replies that are (its author deleted it, a moderator took it
    back) stays as a placeholder, as Isso keeps "[deleted]" comments that have replies.
    """
    shown = comments.visible_comments(thread, own_reader_hash=own_reader_hash)
    by_id = {comment.id: comment for comment in shown}
    parents = {comment.id: (comment.parent_id, comment.created_at) for comment in shown}
    if any(comment.parent_id is not None and comment.parent_id not in by_id for comment in shown):
        parents = _all_parents(thread)
    roots = {}
    for comment in shown:
        root_id = _root_of(comment.id, parents)
        if root_id not in roots:
            roots[root_id] = Entry(root_id, parents[root_id][1], by_id.get(root_id))
        if root_id != comment.id:
            roots[root_id].replies.append(Entry(comment.id, comment.created_at, comment))
    return sorted(roots.values(), key=lambda entry: (entry.created_at, entry.id))


def _all_parents(thread):
    rows = db.session.execute(sa.select(Comment.id, Comment.parent_id, Comment.created_at)
                              .where(Comment.thread_id == thread.id)).all()
    return {row.id: (row.parent_id, row.created_at) for row in rows}


def _root_of(comment_id, parents):
    seen = {comment_id}
    parent_id = parents[comment_id][0]
    while parent_id in parents and parent_id not in seen:
        comment_id = parent_id
        seen.add(comment_id)
        parent_id = parents[comment_id][0]
    return comment_id


def get_comment(comment_id):
    return db.session.get(Comment, comment_id)


def changeable_comment(comment_id):
    """The comment, locked until the commit (PostgreSQL), if its author may still change it; else NotChangeable."""
    comment = db.session.get(Comment, comment_id, populate_existing=True, with_for_update=True)
    if comment is None:
        raise LookupError(comment_id)
    if comment.state not in CHANGEABLE or (comment.state == "spam" and comment.decided_at is not None):
        db.session.rollback()
        raise NotChangeable(gettext("A moderator has decided on this comment; it can no longer be changed."))
    return comment


def edit_own_comment(comment, body):
    """The author's new text, within their edit window (the view checked the cookie); returns the comment.

    A changed text is checked again like a new comment: back to `pending`, its spam check queued after the commit,
    so that neither a checker's nor a moderator's approval of the old text carries over to the new one. The old
    text stays in the comment's history for the moderators.
    """
    if body == comment.body:
        db.session.rollback()
        return comment
    before = {"body": comment.body, "author_name": comment.author_name, "author_url": comment.author_url}
    from_state = comment.state
    comment.body = body
    comment.edited_at = utcnow()
    comment.state, comment.reasons, comment.spam_score = "pending", [], None
    comment.checked_at = comment.decided_at = comment.check_sent_at = None
    comment.check_attempts = 0
    event = record(comment, from_state, "pending", actor="author", reason="edited by its author: checked again")
    event.action, event.detail = "edit", {**before, "new_body": body}
    db.session.commit()
    send_check_comment(comment.id)
    return comment


def delete_own_comment(comment):
    """The author takes their comment back: into the trash (moderators may still see it there until the trash's
    retention ends), audited. Returns whether Isso's client keeps it as "[deleted]" for its approved replies."""
    record(comment, comment.state, "trash", actor="author", reason="deleted by its author").action = "trash"
    comment.state, comment.decided_at = "trash", utcnow()
    keeps_place = comment.parent_id is None and db.session.scalar(sa.select(sa.exists().where(
        Comment.parent_id == comment.id, Comment.state == "approved")))
    db.session.commit()
    return bool(keeps_place)
