"""What a reader can do: read a thread and post a comment."""
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import undefer

from .. import metrics
from ..audit import record
from ..cleaning import is_plain
from ..extensions import conflict_insert, db
from ..models import Comment, PostingGate, Thread, utcnow
from ..privacy.addresses import normal_ip, same_address_key
from ..privacy.crypto import ip_index, keyring, normal_email
from ..queue import send_check_comment
from ..spam import settings

AWAITING = ("pending", "held")
THREAD_KEY_MAX = 200


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
    """The articles, newest first, for the home page: those with an approved comment, and those an operator
    registered that nobody has commented on yet. A thread a widget's first comment brought appears once a
    moderator approves a comment on it, so a robot cannot fill the home page with titles of its own."""
    approved = sa.exists().where(Comment.thread_id == Thread.id, Comment.state == "approved")
    uncommented = ~sa.exists().where(Comment.thread_id == Thread.id)
    return db.session.scalars(sa.select(Thread).where(sa.or_(approved, uncommented))
                              .order_by(Thread.created_at.desc())).all()


def approved_counts(keys):
    """{key: approved comments} for each key asked for; 0 for a key with no thread or no comment yet."""
    plain = [key for key in keys if is_plain(key, THREAD_KEY_MAX)]
    rows = db.session.execute(
        sa.select(Thread.key, sa.func.count(Comment.id)).join(Comment, Comment.thread_id == Thread.id)
        .where(Thread.key.in_(plain), Comment.state == "approved").group_by(Thread.key)
    ).all() if plain else []
    found = dict(rows)
    return {key: found.get(key, 0) for key in keys}


def get_thread(key):
    """The article under `key`, or None; a key no article can have (NUL, too long) is not looked up."""
    if not is_plain(key, THREAD_KEY_MAX):
        return None
    return db.session.scalar(sa.select(Thread).where(Thread.key == key))


def create_thread(key, title, url=None):
    """Register an article; a second call with the same key updates its title and url."""
    check_key(key)
    thread = get_thread(key) or Thread(key=key)
    thread.title, thread.url = title, url
    db.session.add(thread)
    db.session.commit()
    return thread


def new_thread(key, title, url=None):
    """A thread for an article's first comment, added to the session for the comment's own commit."""
    check_key(key)
    thread = Thread(key=key, title=title, url=url, comments_open=True)
    db.session.add(thread)
    return thread


def check_key(key):
    if not is_plain(key, THREAD_KEY_MAX) or "/" in key or key != key.strip():
        raise ValueError(f"A thread key is 1 to {THREAD_KEY_MAX} characters, without '/', spaces around it "
                         "or control characters.")


def awaiting_its_author():
    """What an author sees as "awaiting moderation": every own comment no moderator has ruled out.

    The checks' spam verdict is included: a comment that vanished when a check called it spam would
    tell its author what the check found (a duplicate of someone's comment under a guessed email, say).
    """
    return sa.or_(Comment.state.in_(AWAITING), sa.and_(Comment.state == "spam", Comment.decided_at.is_(None)))


def is_open(thread):
    """Whether readers may comment: the thread is not closed, and not older than the close-after-days setting.

    Computed when asked, so that a thread closes by age without any job rewriting rows.
    """
    if not thread.comments_open:
        return False
    days, created = settings.current()["close_after_days"], getattr(thread, "created_at", None)
    return not (days and created is not None and created < utcnow() - timedelta(days=days))


def replies_allowed():
    """Whether readers may reply to a comment (a thread depth of 1 turns replies off)."""
    return settings.current()["thread_depth"] > 1


def thread_depth():
    """How deep replies nest (1: no replies)."""
    return settings.current()["thread_depth"]


def comments_per_page():
    """Top-level comments per page as the administrator set it; 0: a thread page shows them all."""
    return settings.current()["comments_per_page"]


def visible_comments(thread, own_ids=(), own_reader_hash=None):
    """Approved comments, plus this browser's own comments still awaiting moderation, oldest first.

    The browser is known by the ids its session remembers (the service's own pages) or by its reader
    key's hash (the widget's author token).
    """
    shown = Comment.state == "approved"
    if own_ids:
        shown = sa.or_(shown, sa.and_(Comment.id.in_(list(own_ids)), awaiting_its_author()))
    if own_reader_hash:
        shown = sa.or_(shown, sa.and_(Comment.reader_hash == own_reader_hash, awaiting_its_author()))
    query = sa.select(Comment).where(Comment.thread_id == thread.id, shown).order_by(Comment.created_at, Comment.id)
    if current_app.config["MODERATION_GRAVATAR"]:
        query = query.options(undefer(Comment.author_email))  # Gravatar's address is made from it: one query for all
    return list(db.session.scalars(query))


def has_awaiting(thread, own_ids=(), own_reader_hash=None):
    """Whether this browser has comments of its own in the thread that only it is shown (awaiting moderation)."""
    own = []
    if own_ids:
        own.append(Comment.id.in_(list(own_ids)))
    if own_reader_hash:
        own.append(Comment.reader_hash == own_reader_hash)
    if not own:
        return False
    query = sa.select(Comment.id).where(Comment.thread_id == thread.id, sa.or_(*own), awaiting_its_author()).limit(1)
    return db.session.scalar(query) is not None


def comment_tree(comments, depth_max=None):
    """[(comment, [children...])...]: a reply whose parent is not shown is shown at the top level.

    Replies nest at most `depth_max` levels deep (the thread-depth setting, 5 unless changed): a reply below the
    deepest level is shown at that level, beside the replies there, oldest first, as WordPress does.
    """
    depth_max = depth_max or settings.current()["thread_depth"]
    by_id = {c.id: (c, []) for c in comments}
    depth = {}

    def parent_of(comment_id):
        parent_id = by_id[comment_id][0].parent_id
        return parent_id if parent_id in by_id and parent_id != comment_id else None

    def depth_of(comment_id):
        chain = []
        while comment_id is not None and comment_id not in depth and comment_id not in chain:
            chain.append(comment_id)
            comment_id = parent_of(comment_id)
        level = depth.get(comment_id, 0)
        for known in reversed(chain):
            level += 1
            depth[known] = level
        return depth[chain[0]] if chain else depth[comment_id]

    roots = []
    for comment in comments:
        parent_id = parent_of(comment.id)
        while parent_id is not None and depth_of(parent_id) >= depth_max:
            parent_id = parent_of(parent_id)
        (by_id[parent_id][1] if parent_id is not None else roots).append(by_id[comment.id])
    return roots


@dataclass(frozen=True)
class ThreadPage:
    """One page of a thread as the article page shows it: its top-level comments with their replies."""

    tree: list
    number: int
    pages: int


def thread_page(thread, own_ids=(), number=1):
    """The page `number` of the thread (the last one when past the end) for this reader, oldest first."""
    roots = comment_tree(visible_comments(thread, own_ids))
    per_page = comments_per_page()
    if not per_page:
        return ThreadPage(roots, 1, 1)
    pages = max(1, -(-len(roots) // per_page))
    number = min(max(number, 1), pages)
    return ThreadPage(roots[(number - 1) * per_page:number * per_page], number, pages)


def page_of(thread, comment_id, own_ids=()):
    """The page on which this reader finds the comment (its top-level comment's page); 1 when not shown."""
    per_page = comments_per_page()
    if not per_page:
        return 1
    roots = comment_tree(visible_comments(thread, own_ids))
    return next((index // per_page + 1 for index, root in enumerate(roots) if _holds(root, comment_id)), 1)


def _holds(node, comment_id):
    comment, children = node
    return comment.id == comment_id or any(_holds(child, comment_id) for child in children)


# For the metrics: the blueprint a comment came in through, by the name operators know it by.
POSTED_VIA = {"comments": "form", "api": "api", "isso": "isso"}


def post_comment(thread, **fields):
    """Save the comment as pending, commit, and only then queue its spam check.

    A thread not yet in the database (`new_thread`) is written in the same commit as its first comment, so a
    refused comment leaves no thread behind; when another request created the same thread a moment before,
    the comment joins that one.
    """
    new, key = thread.id is None, thread.key
    try:
        try:
            return _post(thread, **fields)
        except IntegrityError:
            if not new:
                raise
            db.session.rollback()
            existing = get_thread(key)
            if existing is None:
                raise
            return _post(existing, **fields)
    except CommentRefused:
        db.session.rollback()
        raise


def _post(thread, *, author_name, author_email, author_url, body, parent_id, honeypot, ip, user_agent,
          form_seconds=None, referrer=None, reader_hash=None, notify_replies=False, notify_approval=False):
    if not is_open(thread):
        raise CommentsClosed(gettext("Comments are closed on this article."))
    if parent_id and not replies_allowed():
        raise CommentRefused(gettext("Replies are turned off on this site; your comment can still be posted on its "
                                     "own."), "parent_id")
    parent = _approved_parent(thread, parent_id)
    _pass_gate(ip)
    ip = normal_ip(ip)
    comment = Comment(
        thread=thread,
        parent_id=parent.id if parent else None,
        author_name=author_name,
        author_email=normal_email(author_email),
        author_url=author_url or None,
        body=body,
        honeypot=bool(honeypot),
        author_ip=ip,
        ip_hash=ip_index(ip),
        reader_hash=reader_hash,
        user_agent=(user_agent or "")[:500] or None,
        referrer=(referrer or "")[:2000] or None,
        form_seconds=form_seconds,
        # What the author asked for by email; sent once their address is confirmed (subscriptions/services.py).
        notify_replies=bool(notify_replies),
        notify_approval=bool(notify_approval),
        state="pending",
    )
    db.session.add(comment)
    db.session.flush()
    record(comment, None, "pending", actor="reader", reason="posted")
    _commit_as_written()
    send_check_comment(comment.id)
    metrics.posted(POSTED_VIA.get(request.blueprint if has_request_context() else None, "other"))
    return comment


def _commit_as_written():
    """Commit without expiring what the session holds: the comment was written whole a moment ago, so what the
    session holds is what the database holds, and the answer need not read the comment and its thread back."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _approved_parent(thread, parent_id):
    if not parent_id:
        return None
    parent = db.session.get(Comment, parent_id)
    if parent is None or parent.thread_id != thread.id or parent.state != "approved":
        raise CommentRefused(gettext("The comment you are replying to is not available; your comment can still be "
                                     "posted on its own."), "parent_id")
    return parent


def _pass_gate(ip):
    """WordPress's flood check, made atomic: one address (an IPv6 /64) may post once per interval.

    The gate's row is claimed by a single INSERT ... ON CONFLICT DO UPDATE ... WHERE, so of several
    posts arriving together exactly one passes, on PostgreSQL and on SQLite alike. It counts the
    address only: a refusal by email would tell anyone whether that address had just posted.
    """
    interval = current_app.config["MODERATION_FLOOD_INTERVAL"]
    if not interval:
        return
    key = keyring().index(same_address_key(ip), "posting gate")
    now = utcnow()
    claim = conflict_insert(PostingGate).values(key=key, last_post_at=now).on_conflict_do_update(
        index_elements=[PostingGate.key], set_={"last_post_at": now},
        where=PostingGate.last_post_at <= now - timedelta(seconds=interval),
    ).returning(PostingGate.key)
    if db.session.execute(claim).first() is None:
        db.session.rollback()
        raise TooSoon(gettext("You are posting comments too quickly. Please wait %(seconds)s seconds between comments; "
                              "your text is kept below.", seconds=interval))
