"""The database tables: threads, comments, moderators, their sessions, the audit trails, subscribers and webhooks."""
from datetime import datetime, timezone

import sqlalchemy as sa
from flask_login import UserMixin
from markupsafe import Markup
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .extensions import db
from .privacy.crypto import Encrypted, EncryptedJSON, email_index
from .text import render_body

STATES = ("pending", "held", "approved", "rejected", "spam", "trash")
# Personal columns load only when asked for (`undefer_group("personal")`): a public page never decrypts them.
PERSONAL = {"deferred": True, "deferred_group": "personal"}


def utcnow():
    return datetime.now(timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware on every backend: SQLite keeps no zone, so we restore UTC on the way out."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Thread(db.Model):
    """An article whose readers may comment."""

    __tablename__ = "threads"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    comments_open: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # One more whenever what its readers see changes: a comment approved or no longer approved, or an approved one
    # edited, moved or erased. Kept by the database's own triggers (migration 0006), so no code path can forget it;
    # what a thread's readers are shown is made once per version (comments/rendered.py). A migration that rebuilds
    # the comments table on SQLite must create those triggers again.
    version: Mapped[int] = mapped_column(default=0, server_default="0")


class Comment(db.Model):
    """One reader's comment, its place in a thread and where moderation has got with it.

    Personal data (email, IP, user agent, referrer, what Akismet was sent) is encrypted at rest;
    lookups go through keyed blind indexes (`email_hash`, `ip_hash`), never through the plain value.
    """

    __tablename__ = "comments"
    __table_args__ = (
        sa.Index("ix_comments_state_id", "state", "id"),
        sa.Index("ix_comments_thread_state_created", "thread_id", "state", "created_at"),
        sa.Index("ix_comments_email_hash_created", "email_hash", "created_at"),
        # An author's and an address's comments per state, counted from the index alone (the console's author panel).
        sa.Index("ix_comments_email_hash_state", "email_hash", "state", "created_at"),
        sa.Index("ix_comments_ip_hash_state", "ip_hash", "state", "created_at"),
        sa.Index("ix_comments_purged_created", "purged_at", "created_at"),
        sa.CheckConstraint(sa.text(f"state IN ({', '.join(repr(s) for s in STATES)})"), name="state"),
        sa.Index("ix_comments_unannounced", "id", sqlite_where=sa.text("announced_at IS NULL"),
                 postgresql_where=sa.text("announced_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(sa.ForeignKey("threads.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(sa.String(100))
    author_email: Mapped[str | None] = mapped_column(Encrypted("email"), **PERSONAL)
    email_hash: Mapped[str | None] = mapped_column(sa.String(64))
    author_url: Mapped[str | None] = mapped_column(sa.String(2000))
    body: Mapped[str] = mapped_column(sa.Text)
    # The text as the pages show it (escaped, paragraphs, links), made whenever `body` is set, never on a read.
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    spam_score: Mapped[float | None]
    reasons: Mapped[list] = mapped_column(sa.JSON, default=list)
    honeypot: Mapped[bool] = mapped_column(default=False)
    author_ip: Mapped[str | None] = mapped_column(Encrypted("ip"), **PERSONAL)
    ip_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # sha256 of a random key the author's browser keeps: "the same browser", never who it is.
    reader_hash: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(Encrypted("user agent"), **PERSONAL)
    check_attempts: Mapped[int] = mapped_column(default=0)
    form_seconds: Mapped[float | None]
    referrer: Mapped[str | None] = mapped_column(Encrypted("referrer"), **PERSONAL)
    akismet_payload: Mapped[dict | None] = mapped_column(EncryptedJSON("akismet payload"), **PERSONAL)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    check_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the user agent, referrer and Akismet payload were dropped and the IP truncated (retention).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a moderator last changed its text, name or website (the original is in the audit trail).
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set on a moderator's own reply: published as staff, never spam-checked.
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("moderators.id", ondelete="SET NULL"))
    # What its author asked for by email: replies to it, word that it was approved (sent once the address confirmed).
    notify_replies: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    notify_approval: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # When webhooks and subscribers were told it exists (announcements.py); None until then. An import sets it.
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    thread: Mapped[Thread] = relationship()

    @validates("author_email")
    def _index_email(self, key, email):
        self.email_hash = email_index(email)
        return email

    @validates("body")
    def _render_body(self, key, body):
        self.body_html = str(render_body(body)) if body is not None else None
        return body

    @property
    def html(self):
        """The text as safe HTML: made when it was written (a row from before that is rendered now)."""
        return Markup(self.body_html) if self.body_html is not None else render_body(self.body or "")

    @property
    def anchor(self):
        return f"comment-{self.id}"


class Moderator(UserMixin, db.Model):
    """A person who may sign in and decide on comments."""

    __tablename__ = "moderators"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where notifications go; encrypted like a commenter's address.
    email: Mapped[str | None] = mapped_column(Encrypted("moderator email"))
    # "off", "instant" (within a minute of a comment being held) or "digest" (one email a day at most).
    notify: Mapped[str] = mapped_column(sa.String(16), default="off")
    # Held comments up to this moment have been notified to this moderator.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sessions: Mapped[list["ModeratorSession"]] = relationship(back_populates="moderator", cascade="all, delete-orphan",
                                                              passive_deletes=True)
    # The sign-in this request came with (not a column): Flask-Login keeps its token in the session cookie.
    session_token = None

    @property
    def is_active(self):
        return self.active

    def get_id(self):
        return self.session_token


class ModeratorSession(db.Model):
    """One signed-in browser; deleting the row signs it out, wherever its cookie has been copied to."""

    __tablename__ = "moderator_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    moderator_id: Mapped[int] = mapped_column(sa.ForeignKey("moderators.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    moderator: Mapped["Moderator"] = relationship(back_populates="sessions")


class ApiToken(db.Model):
    """A token a script or an integration sends as `Authorization: Bearer`; only its hash is kept.

    Each token acts as a moderator of its own (`token:NAME`, with a password nobody knows), so that its
    decisions are audited, and teach the spam model, like a person's.
    """

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    scope: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    moderator_id: Mapped[int] = mapped_column(sa.ForeignKey("moderators.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    moderator: Mapped["Moderator"] = relationship()


class AuditEvent(db.Model):
    """One thing done to a comment: a change of state, an edit, a reply, a deletion; who or which checker, when, why.

    `comment_id` is no foreign key on purpose: the history of a comment deleted for good stays readable.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_comment_created", "comment_id", "created_at"),
        sa.Index("ix_audit_events_moderator_id", "moderator_id", "id"),
        sa.Index("ix_audit_events_batch", "batch"),
        sa.Index("ix_audit_events_unannounced", "id", sqlite_where=sa.text("announced_at IS NULL"),
                 postgresql_where=sa.text("announced_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column()
    moderator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("moderators.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(sa.String(80))
    from_state: Mapped[str | None] = mapped_column(sa.String(16))
    to_state: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    # What was done ("approve", "edit", "reply", "trash", "delete", "undo", ...); None on events older than the column.
    action: Mapped[str | None] = mapped_column(sa.String(20))
    # The events of one decision (one comment, a selection, everything from an author) share a batch: undo takes it back whole.
    batch: Mapped[str | None] = mapped_column(sa.String(32))
    # A moderator's note on why, added with the decision or afterwards.
    note: Mapped[str | None] = mapped_column(sa.Text)
    # What an edit replaced ({"body": ..., "author_name": ..., "author_url": ...}).
    detail: Mapped[dict | None] = mapped_column(sa.JSON)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When webhooks and subscribers were told of it (announcements.py); None until then.
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    moderator: Mapped[Moderator | None] = relationship()


class PrivacyEvent(db.Model):
    """An access to or a change of personal data: a revealed email, an export, an erasure, a key rotation.

    It names the moderator or the command and the comments concerned, never a name or an address.
    """

    __tablename__ = "privacy_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(sa.String(80))
    action: Mapped[str] = mapped_column(sa.String(40))
    comment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id", ondelete="SET NULL"))
    detail: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Imported(db.Model):
    """A comment brought from another system (WordPress, Disqus, Isso), by its id there: an import run again finds
    it here and adds nothing."""

    __tablename__ = "imported"
    __table_args__ = (sa.UniqueConstraint("source", "external_id", name="uq_imported_source_external_id"),
                      sa.Index("ix_imported_comment_id", "comment_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    # "wordpress", "disqus", "isso"; `external_id` names the site too, so two sites' ids never meet.
    source: Mapped[str] = mapped_column(sa.String(40))
    external_id: Mapped[str] = mapped_column(sa.String(300))
    # Kept when its comment is deleted here (None then), so that importing the same file again does not bring it back.
    comment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Followup(db.Model):
    """A task a decision owes, written in the decision's own commit (an outbox): teach the model, tell Akismet.

    Sent after that commit and deleted once the broker took it; the scheduled sweep sends again any whose claim ran
    out (`claimed_until`): the broker was down, or the process stopped between the commit and the send. The tasks
    do nothing the second time, so a follow-up sent twice costs one redundant message, and none is lost.
    """

    __tablename__ = "followups"
    __table_args__ = (sa.Index("ix_followups_claimed_until", "claimed_until"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(sa.String(80))
    comment_id: Mapped[int] = mapped_column()  # no foreign key, as for audit events: the task handles a gone comment
    # When the task is meant to run (a retraining waits MODERATION_RETRAIN_DELAY for the rest of a burst).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Until then, whoever wrote or last claimed it is sending it; after, the sweep may.
    claimed_until: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Lease(db.Model):
    """Work that one process at a time may do, across every machine (a retraining): held until `held_until`, so
    that a holder that died frees it by itself."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(64))
    held_until: Mapped[datetime] = mapped_column(UTCDateTime)


class PostingGate(db.Model):
    """When an address last posted: one row per address, updated atomically, so a burst cannot slip through."""

    __tablename__ = "posting_gates"
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_post_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Setting(db.Model):
    """One moderation setting an administrator changed; unset ones fall back to config.py."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    value: Mapped[dict | list | str | int | float] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SpamModelVersion(db.Model):
    """A trained spam model, stored as plain arrays (npz, never pickle); the highest id is in use."""

    __tablename__ = "spam_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(40))
    examples: Mapped[int]
    spam_examples: Mapped[int]
    last_example_id: Mapped[int] = mapped_column(default=0)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrainingExample(db.Model):
    """A labelled text the model learns from: an imported CSV row or a moderator's decision."""

    __tablename__ = "training_examples"
    id: Mapped[int] = mapped_column(primary_key=True)
    # A comment deleted for good leaves its example behind: what moderators taught stays learned.
    comment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id", ondelete="SET NULL"), unique=True)
    source: Mapped[str] = mapped_column(sa.String(40))
    text: Mapped[str] = mapped_column(sa.Text)
    author: Mapped[str] = mapped_column(sa.String(200), default="")
    is_spam: Mapped[bool]
    weight: Mapped[float] = mapped_column(default=1.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Subscriber(db.Model):
    """An address that asked for email (replies to its comments, or word that one was approved), once per address.

    Nothing is sent to it before `confirmed_at` (double opt-in: the confirmation email itself is the only one), and
    nothing after `unsubscribed_at`. The address is sealed like a comment's; `email_hash` is its blind index.
    """

    __tablename__ = "subscribers"
    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str] = mapped_column(Encrypted("email"), **PERSONAL)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the last confirmation request went out: at most one a day, whatever a form is made to post.
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("email")
    def _index_email(self, key, email):
        self.email_hash = email_index(email)
        return email


class Mail(db.Model):
    """One email owed to a commenter (a confirmation request, a reply, an approval), written in the commit that
    owes it (an outbox) and sent by a task; `sent_at` makes a second run of that task send nothing."""

    __tablename__ = "mails"
    __table_args__ = (sa.Index("ix_mails_state_due", "state", "due_at"),
                      sa.UniqueConstraint("kind", "subscriber_id", "comment_id", name="uq_mails_kind_subscriber_comment"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # "confirm", "reply", "approved"
    subscriber_id: Mapped[int] = mapped_column(sa.ForeignKey("subscribers.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column()  # the comment it is about; no foreign key, as for audit events
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")  # "pending", "waiting", "sent", "failed", "dropped"
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Webhook(db.Model):
    """A URL an administrator registered to be told of comments' events, by POSTs signed with its own secret."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    # The events it wants, space-separated: "created held approved rejected spam".
    events: Mapped[str] = mapped_column(sa.String(200))
    # "public": what a page shows; "emails": the author's email too.
    scope: Mapped[str] = mapped_column(sa.String(20), default="public")
    # The HMAC-SHA256 key, sealed like an email: a stolen database cannot forge a signature.
    secret: Mapped[str] = mapped_column(Encrypted("webhook secret"))
    description: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("moderators.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(db.Model):
    """One event owed to one webhook (an outbox row), its tries and how the receiver last answered."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
                      sa.Index("ix_webhook_deliveries_webhook_id", "webhook_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(sa.ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(20))
    comment_id: Mapped[int | None] = mapped_column()  # no foreign key: the log outlives a deleted comment
    # What is sent, as the event found it, never an email: one is added at sending when the hook's scope allows.
    payload: Mapped[dict] = mapped_column(sa.JSON)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")  # "pending", "delivered", "failed"
    attempts: Mapped[int] = mapped_column(default=0)
    status_code: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(sa.String(500))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    webhook: Mapped[Webhook] = relationship()
