"""What every import does with the comments it reads: threads found or made, each comment written once, a summary.

An import is a stream of `Incoming` comments. Each is written with its email encrypted and indexed as a posted
comment's, its state as the other system had it (pending there: held here, for a person), one audit event saying
where it came from, and a row of `imported` naming it by its id there. That row is how an import run again, or
resumed after a broken file, adds nothing it already added. Imported comments are not spam-checked: the other
system's moderators already decided them.
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
from ..privacy.addresses import normal_ip
from ..privacy.crypto import ip_index, normal_email

ACTOR = "import"
# Our columns' lengths: a longer value is cut (a name, a title) or dropped (a website, which cut would be wrong).
NAME, TITLE, KEY, URL, EXTERNAL_ID = 100, 300, 200, 2000, 300
DECIDED = ("approved", "rejected", "spam", "trash")
LINE_BREAK = re.compile(r"<br\s*/?>[ \t]*\n?", re.IGNORECASE)
PARAGRAPH_END = re.compile(r"</p>\s*", re.IGNORECASE)
BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class Incoming:
    """One comment as another system kept it, in our terms."""

    external_id: str  # unique for the source: the site's address and its id there
    thread_key: str
    thread_title: str
    thread_url: str | None
    parent_external_id: str | None
    author_name: str
    author_email: str | None
    author_url: str | None
    author_ip: str | None
    created_at: datetime
    state: str
    body: str


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
    become labelled examples for the spam model."""

    def __init__(self, source, train=False):
        self.source, self.train = source, train
        self.summary = Summary()
        self.threads = {}
        self.ids = {}  # external id -> our id, for the replies of this run
        self.orphans = []  # (our id, the parent's external id) whose parent came later in the file

    def add(self, incoming, where):
        """Write one comment, unless an earlier run did; `where` names it in the summary (a line, an id)."""
        if db.session.scalar(sa.select(Imported.comment_id).where(
                Imported.source == self.source, Imported.external_id == incoming.external_id[:EXTERNAL_ID])):
            self.summary.skipped["already imported"] += 1
            return None
        body = text_of(incoming.body) if incoming.body else ""
        if not body:
            self.summary.failed.append((where, "no text"))
            return None
        thread = self.thread(incoming.thread_key, incoming.thread_title, incoming.thread_url)
        comment = Comment(
            thread=thread, author_name=self._name(incoming.author_name), author_email=self._email(incoming),
            author_url=self._url(incoming.author_url), body=body, state=incoming.state,
            author_ip=normal_ip(incoming.author_ip), ip_hash=ip_index(incoming.author_ip),
            created_at=incoming.created_at, checked_at=incoming.created_at,
            decided_at=incoming.created_at if incoming.state in DECIDED else None,
            reasons=[f"imported from {self.source}"],
        )
        comment.parent_id = self.ids.get(incoming.parent_external_id) or self._known(incoming.parent_external_id)
        db.session.add(comment)
        db.session.flush()
        if incoming.parent_external_id and comment.parent_id is None:
            self.orphans.append((comment.id, incoming.parent_external_id))
        db.session.add(Imported(source=self.source, external_id=incoming.external_id[:EXTERNAL_ID],
                                comment_id=comment.id, created_at=utcnow()))
        record(comment, None, incoming.state, actor=ACTOR, reason=f"imported from {self.source}")
        if self.train and incoming.state in ("approved", "spam"):
            db.session.add(TrainingExample(comment_id=comment.id, source=f"import:{self.source}", text=body,
                                           author=comment.author_name, is_spam=incoming.state == "spam", weight=1.0))
            self.summary.examples += 1
        self.ids[incoming.external_id] = comment.id
        self.summary.imported[incoming.state] += 1
        return comment

    def thread(self, key, title, url):
        key = (stripped(key) or "")[:KEY]
        if key not in self.threads:
            found = db.session.scalar(sa.select(Thread).where(Thread.key == key))
            if found is None:
                found = Thread(key=key, title=(stripped(title) or key)[:TITLE],
                               url=url if url and len(url) <= URL else None)
                db.session.add(found)
                db.session.flush()
                self.summary.threads_created += 1
            self.threads[key] = found
        return self.threads[key]

    def commit(self):
        """At the end of each whole article: what is committed is never half an article."""
        db.session.commit()

    def finish(self):
        """Replies read before their parent get it now; a parent never found leaves the reply at the top."""
        for comment_id, parent in self.orphans:
            parent_id = self.ids.get(parent) or self._known(parent)
            if parent_id is None:
                self.summary.notes["replies whose parent was not in the export (shown at the top)"] += 1
            else:
                db.session.execute(sa.update(Comment).where(Comment.id == comment_id).values(parent_id=parent_id))
        db.session.commit()
        return self.summary

    def _known(self, external_id):
        if not external_id:
            return None
        return db.session.scalar(sa.select(Imported.comment_id).where(
            Imported.source == self.source, Imported.external_id == external_id[:EXTERNAL_ID]))

    def _name(self, name):
        name = stripped(name) or ""
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
        url = stripped(url) or ""
        if not url.lower().startswith(("http://", "https://")) or len(url) > URL:
            if url:
                self.summary.notes["websites that are not http(s) addresses, left out"] += 1
            return None
        return url
