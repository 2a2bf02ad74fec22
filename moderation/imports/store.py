"""What every import does with the comments it reads: threads found or made, each comment written once, a summary.

An import is a stream of `Incoming` comments. Each is written with its email encrypted and indexed as a posted
comment's, its state as the other system had it (pending there: held here, for a person), one audit event saying
where it came from, and a row of `imported` naming it by its id there. That row is how an import run again, or
resumed after a broken file, adds nothing it already added. Imported comments are not spam-checked: the other
system's moderators already decided them; nor are they announced to webhooks and subscribers (they are old news).
"""
import html
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import nh3
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from ..audit import record
from ..cleaning import plain_text, stripped
from ..extensions import db
from ..models import Comment, Imported, Thread, TrainingExample, utcnow
from ..comments.forms import BODY_MAX
from ..comments.services import check_key
from ..privacy.addresses import normal_ip, truncated_ip
from ..privacy.crypto import ip_index, normal_email

ACTOR = "import"
# Our columns' lengths: a longer value is cut (a name, a title) or dropped (a website, which cut would be wrong).
NAME, TITLE, KEY, URL, EXTERNAL_ID = 100, 300, 200, 2000, 300
DECIDED = ("approved", "rejected", "spam", "trash")
FAILURES_LISTED = 100
LINE_BREAK = re.compile(r"<br\s*/?>[ \t]*\n?", re.IGNORECASE)
PARAGRAPH_END = re.compile(r"</p>\s*", re.IGNORECASE)
BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class Incoming:
    """One comment as another system kept it, in our terms."""

    external_id: str  # unique for the source: the site's address and its id there
    parent_external_id: str | None
    author_name: str
    author_email: str | None
    author_url: str | None
    author_ip: str | None
    created_at: datetime
    state: str
    body: str
    notify_replies: bool = False  # its author asked there for an email when someone replies


@dataclass
class Summary:
    threads_created: int = 0
    imported: Counter = field(default_factory=Counter)  # by state
    skipped: Counter = field(default_factory=Counter)  # by reason
    failed: list = field(default_factory=list)  # (where, why)
    notes: Counter = field(default_factory=Counter)  # what was changed on the way in, by what
    examples: int = 0

    def lines(self, label):
        total = sum(self.imported.values())
        lines = [f"Imported from {label}: {total} comments ("
                 + ", ".join(f"{count} {state}" for state, count in sorted(self.imported.items())) + ")"
                 if total else f"Imported from {label}: no new comments",
                 f"Threads created: {self.threads_created}"]
        lines += [f"Skipped: {count} {reason}" for reason, count in sorted(self.skipped.items())]
        lines += [f"Note: {count} {what}" for what, count in sorted(self.notes.items())]
        if self.examples:
            lines.append(f"Offered to the spam model: {self.examples} labelled examples (`moderation spam retrain` "
                         "trains on them now; the next decision does otherwise)")
        lines += [f"Failed: {where}: {why}" for where, why in self.failed]
        return lines


def text_of(markup):
    """A comment's text from the HTML another system stored: line breaks and paragraphs kept, tags dropped (the
    text of a link stays; our pages make addresses links again), entities read."""
    markup = LINE_BREAK.sub("\n", markup or "")
    markup = PARAGRAPH_END.sub("\n\n", markup)
    text = html.unescape(nh3.clean(markup, tags=set()))
    return BLANK_LINES.sub("\n\n", plain_text(text, keep_lines=True)).strip()


class Writer:
    """Writes what an import reads. `source`: "wordpress", "disqus" or "isso"; `train`: approved and spam comments
    become labelled examples for the spam model.

    What it keeps between comments is bounded by the posts, not the comments: the current thread, the keys of the
    threads this run made or joined, and the few replies read before their parent. Everything else is asked of
    the database (the `imported` table is indexed on what is asked)."""

    def __init__(self, source, train=False):
        self.source, self.train = source, train
        self.summary = Summary()
        self.started = utcnow()
        self.current = None  # the thread of the post being read
        self.made = {}  # key -> the other system's post id, for the threads this run created
        self.joined = set()  # keys of threads that were there before this run
        self.orphans = []  # (our id, the parent's external id) whose parent came later in the file

    def add(self, incoming, where):
        """Write one comment, unless it was written before; `where` names it in the summary (a line, an id)."""
        external_id = incoming.external_id[:EXTERNAL_ID]
        before = db.session.scalar(sa.select(Imported.created_at).where(
            Imported.source == self.source, Imported.external_id == external_id))
        if before is not None:
            if before >= self.started:
                self.fail(where, "its id is in the file twice: the first one was imported")
            else:
                self.summary.skipped["already imported"] += 1
            return None
        body = text_of(incoming.body) if incoming.body else ""
        if not body and incoming.state != "trash":
            self.fail(where, "no text")
            return None
        if not body:
            # Deleted there but kept for its replies' sake (Isso, Disqus): in the trash here, its text gone.
            self.summary.notes["deleted comments whose text was not kept, in the trash with none"] += 1
        if len(body) > BODY_MAX:
            body = body[:BODY_MAX]
            self.summary.notes[f"texts longer than {BODY_MAX:,} characters (the form's limit), cut"] += 1
        thread = self.current
        now = utcnow()
        decided = incoming.state in DECIDED
        ip = normal_ip(incoming.author_ip)
        email = self._email(incoming)
        comment = Comment(
            thread=thread, author_name=self._name(incoming.author_name), author_email=email,
            author_url=self._url(incoming.author_url), body=body, state=incoming.state,
            # A decided comment keeps only its network, as one decided here does; the index is of the whole address.
            author_ip=truncated_ip(ip) if decided and ip else ip, ip_hash=ip_index(ip),
            # Checked and decided by this import, now: retention and notifications count from here.
            created_at=incoming.created_at, checked_at=now, decided_at=now if decided else None,
            reasons=[f"imported from {self.source}"], notify_replies=incoming.notify_replies and email is not None,
            # Old news: webhooks and subscribers are told of what happens from now on, not of the past.
            announced_at=now,
        )
        db.session.add(comment)
        db.session.flush()
        parent = self._known(incoming.parent_external_id)
        if parent is not None:
            self._adopt(comment, parent)
        elif incoming.parent_external_id:
            self.orphans.append((comment.id, incoming.parent_external_id))
        db.session.add(Imported(source=self.source, external_id=external_id, comment_id=comment.id, created_at=now))
        record(comment, None, incoming.state, actor=ACTOR, reason=f"imported from {self.source}").announced_at = now
        if self.train and incoming.state in ("approved", "spam"):
            db.session.add(TrainingExample(comment_id=comment.id, source=f"import:{self.source}", text=body,
                                           author=comment.author_name, is_spam=incoming.state == "spam", weight=1.0))
            self.summary.examples += 1
        self.summary.imported[incoming.state] += 1
        return comment

    def fail(self, where, why):
        """A comment not imported, and why; the first FAILURES_LISTED are listed, the rest counted."""
        if len(self.summary.failed) < FAILURES_LISTED:
            self.summary.failed.append((where, why))
        else:
            self.summary.notes["more comments failed than are listed above"] += 1

    def thread(self, key, title, url, *, post_id, open_, created_at=None):
        """The thread for the post being read, found or made; None (with the reason) for a key no thread can have."""
        key = (key or "").strip()[:KEY]
        try:
            check_key(key)
        except ValueError as error:
            return None, str(error)
        found = db.session.scalar(sa.select(Thread).where(Thread.key == key))
        if found is None:
            # The page links it as "Read the article": an http(s) address only, never a javascript: one.
            if url and (len(url) > URL or not url.lower().startswith(("http://", "https://"))):
                self.summary.notes["article addresses that are not http(s) addresses, left out"] += 1
                url = None
            found = Thread(key=key, title=(stripped(html.unescape(title or "")) or key)[:TITLE], url=url,
                           comments_open=open_,
                           created_at=created_at or utcnow())
            db.session.add(found)
            db.session.flush()
            self.summary.threads_created += 1
            self.made[key] = post_id
        elif key in self.made and self.made[key] != post_id:
            self.summary.notes["posts whose key another post of the file has: their comments joined its thread"] += 1
        elif key not in self.made and key not in self.joined:
            self.joined.add(key)
            self.summary.notes["threads that were already here, joined"] += 1
        self.current = found
        return found, None

    def enter(self, thread_id):
        """Back to a thread `thread()` found before: a Disqus export's posts come in no thread's order."""
        self.current = db.session.get(Thread, thread_id)

    def commit(self):
        """At the end of each whole article: what is committed is never half an article."""
        db.session.commit()

    def finish(self):
        """Replies read before their parent get it now; a parent never found leaves the reply at the top."""
        for comment_id, parent in self.orphans:
            parent_id = self._known(parent)
            comment = db.session.get(Comment, comment_id)
            if parent_id is None:
                self.summary.notes["replies whose parent was not in the file (shown at the top)"] += 1
            elif comment is not None:
                self._adopt(comment, parent_id)
        db.session.commit()
        return self.summary

    def _adopt(self, comment, parent_id):
        """A parent in the same thread, and never one of its own replies (a loop would hide both)."""
        parent = db.session.get(Comment, parent_id)
        ancestors, seen = parent, set()
        while ancestors is not None and ancestors.id not in seen:
            seen.add(ancestors.id)
            ancestors = db.session.get(Comment, ancestors.parent_id) if ancestors.parent_id else None
        if parent is None or parent.thread_id != comment.thread_id or comment.id in seen:
            self.summary.notes["replies whose parent is elsewhere or their own reply (shown at the top)"] += 1
            return
        comment.parent_id = parent.id

    def _known(self, external_id):
        if not external_id:
            return None
        return db.session.scalar(sa.select(Imported.comment_id).where(
            Imported.source == self.source, Imported.external_id == external_id[:EXTERNAL_ID]))

    def _name(self, name):
        name = stripped(html.unescape(name or "")) or ""
        if len(name) > NAME:
            self.summary.notes[f"names longer than {NAME} characters, cut"] += 1
        return name[:NAME] or "Anonymous"

    def _email(self, incoming):
        email = (incoming.author_email or "").strip()
        if not email:
            return None
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            self.summary.notes["emails that are not addresses, left out"] += 1
            return None
        return normal_email(email)

    def _url(self, url):
        url = stripped(html.unescape(url or "")) or ""
        if not url.lower().startswith(("http://", "https://")) or len(url) > URL:
            if url:
                self.summary.notes["websites that are not http(s) addresses, left out"] += 1
            return None
        return url
