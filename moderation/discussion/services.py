"""What an administrator can do to the discussion: change its settings, open or close a thread's comments."""
import logging
from dataclasses import dataclass

import sqlalchemy as sa

from ..comments import services as comments
from ..extensions import db
from ..models import Comment, Setting, Thread
from ..spam import settings

log = logging.getLogger(__name__)
NUMBERS = ("close_after_days", "thread_depth", "comments_per_page", "spam_retention_days", "trash_retention_days")
FIELDS = (*NUMBERS, "auto_approve", *settings.SEALED)
LIST_KINDS = {"emails": "emails", "domains": "domains", "ips": "IPs"}
THREADS_PER_PAGE = 50


class SettingsRefused(Exception):
    """A rule says no; `field` names the form field the message belongs beside."""

    def __init__(self, message, field):
        super().__init__(message)
        self.message, self.field = message, field


class ThreadMissing(Exception):
    """The thread asked for no longer exists."""


def current_settings():
    """The discussion settings in force now (lists as tuples of entries)."""
    values = settings.current()
    return {name: values[name] for name in FIELDS}


def auto_approve_saved():
    """Whether the console's auto-approve policy is in force (saved once), rather than MODERATION_AUTO_APPROVE."""
    return db.session.get(Setting, "auto_approve") is not None


def save_settings(values, moderator):
    """Store the administrator's discussion settings in one commit; returns the names of those that changed.

    An entry may not be both trusted and blocked: which of the two was meant cannot be guessed.
    """
    for kind, plural in LIST_KINDS.items():
        both = sorted(set(values[f"trusted_{kind}"]) & set(values[f"blocked_{kind}"]))
        if both:
            raise SettingsRefused(f"On the blocked list too: {', '.join(both[:3])}{', …' if len(both) > 3 else ''}. "
                                  f"Remove these {plural} from one of the two lists.", f"trusted_{kind}")
    before = current_settings()
    changed = [name for name in FIELDS if _comparable(values[name]) != _comparable(before[name])]
    settings.save({name: values[name] for name in FIELDS})
    # Which settings changed, never their values: the lists hold people's emails and addresses.
    log.info("discussion settings changed by moderator %r: %r", moderator.id, changed)
    return changed


def _comparable(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class ThreadRow:
    """A thread as the discussion page lists it."""

    thread: Thread
    state: str  # "open", "closed" or "closed by age"
    approved: int


def thread_state(thread):
    if not thread.comments_open:
        return "closed"
    return "open" if comments.is_open(thread) else "closed by age"


def thread_list(text="", page=1):
    """Threads newest first, whose key or title holds `text`, one page at a time, with their approved comments."""
    query = sa.select(Thread).order_by(Thread.created_at.desc(), Thread.id.desc())
    if text:
        query = query.where(sa.or_(Thread.key.icontains(text, autoescape=True),
                                   Thread.title.icontains(text, autoescape=True)))
    pages = db.paginate(query, page=page, per_page=THREADS_PER_PAGE, error_out=False)
    ids = [thread.id for thread in pages.items]
    approved = dict(db.session.execute(
        sa.select(Comment.thread_id, sa.func.count()).where(Comment.thread_id.in_(ids), Comment.state == "approved")
        .group_by(Comment.thread_id)).all()) if ids else {}
    rows = [ThreadRow(thread, thread_state(thread), approved.get(thread.id, 0)) for thread in pages.items]
    return rows, pages


def set_comments_open(thread_id, is_open, moderator):
    """Open or close one thread's comments (one commit); its comments stay visible either way. Returns the thread."""
    thread = db.session.get(Thread, thread_id)
    if thread is None:
        raise ThreadMissing(f"Thread {thread_id} no longer exists.")
    thread.comments_open = is_open
    db.session.commit()
    log.info("thread %r %s by moderator %r", thread.id, "opened" if is_open else "closed", moderator.id)
    return thread
