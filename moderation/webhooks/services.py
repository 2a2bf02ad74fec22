"""Webhooks: the addresses administrators register, the deliveries each event owes them, and their log."""
import ipaddress
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from flask import current_app

from ..cleaning import NOT_TYPED
from ..extensions import db
from ..models import Comment, Webhook, WebhookDelivery, utcnow
from ..queue import send_webhook_delivery
from ..urls import external
from . import signing

# The events an administrator may choose (announcements.py tells them); `ping` is only ever the console's test.
EVENTS = ("created", "held", "approved", "rejected", "spam")
TEST_EVENT = "ping"
SCOPES = ("public", "emails")
URL_MAX = 2000
DESCRIPTION_MAX = 200
DELIVERIES_PER_PAGE = 50
# No log has this many pages; a larger number is no page at all, not an overflow in the database.
PAGES_MAX = 1_000_000

# One label of a host name: letters, digits and hyphens, not at either end (RFC 1123), and the underscores of
# container and service names.
HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.IGNORECASE)

log = logging.getLogger(__name__)


class WebhookRefused(ValueError):
    """A webhook's settings or an action on it break a rule. `problems`: each form field's message (None for the
    action as a whole)."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message, self.problems = message, {field: message}

    @classmethod
    def of(cls, problems):
        refused = cls(" ".join(problems.values()))
        refused.problems = problems
        return refused


class NotFound(LookupError):
    """No such webhook or delivery (deleted meanwhile, or a hand-made address)."""


@dataclass
class HookRow:
    """A line of the console's list: the webhook and its latest delivery (None before the first)."""

    hook: Webhook
    last: WebhookDelivery | None


def checked_url(url):
    """The address as it will be POSTed to, or WebhookRefused saying what is wrong with it.

    Private and loopback addresses are allowed: receivers often run on the same network, and only an
    administrator registers one. We never read or show a receiver's answer beyond its status code.
    """
    url = (url or "").strip()
    if not url:
        raise WebhookRefused("Enter the address to POST to, like https://hooks.example.org/comments.", "url")
    if len(url) > URL_MAX:
        raise WebhookRefused(f"An address can be at most {URL_MAX:,} characters.", "url")
    if NOT_TYPED.search(url) or any(character.isspace() or not character.isprintable() for character in url):
        raise WebhookRefused("An address cannot contain spaces, tabs, line breaks or control characters.", "url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it checks it: a port that is no number raises ValueError
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise WebhookRefused("That is not a web address; write it like https://hooks.example.org/comments.",
                             "url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookRefused("Only http:// and https:// addresses can receive webhooks.", "url")
    if not parts.hostname:
        raise WebhookRefused("The address has no host name; write it like https://hooks.example.org/comments.", "url")
    if not _host_name(parts.hostname):
        raise WebhookRefused(f"{parts.hostname} is not a host name; write it like hooks.example.org.", "url")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("Put no user name or password in the address (user:password@): it would be kept and "
                             "shown in the clear. Your receiver checks the signature instead.", "url")
    if parts.fragment:
        raise WebhookRefused("Remove the #fragment from the address: it is never sent to the receiver.", "url")
    return url


def _host_name(host):
    """Whether `host` can name a machine: an IP address, or dot-separated labels of letters, digits and inner hyphens
    (in any script: each is written as IDNA says)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    try:
        labels = [label.encode("idna").decode("ascii") for label in labels]
    except UnicodeError:
        return False
    return all(HOST_LABEL.fullmatch(label) for label in labels)


def _private_channel(url):
    """Whether what is sent to `url` is read by nobody on the way: https, or the loopback of this machine."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "https":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return parts.hostname.lower() == "localhost"


def _checked(url, events, scope, description):
    """The settings as stored, or WebhookRefused with a message for every field that is wrong."""
    values, problems = {}, {}
    try:
        values["url"] = checked_url(url)
    except WebhookRefused as refused:
        problems.update(refused.problems)
    chosen = set(events or ())
    if not chosen or not chosen <= set(EVENTS):
        problems["events"] = "Choose at least one event." if not chosen else f"The events are {', '.join(EVENTS)}."
    values["events"] = " ".join(event for event in EVENTS if event in chosen)
    if scope not in SCOPES:
        problems["scope"] = "The scope is public or emails."
    elif scope == "emails" and "url" in values and not _private_channel(values["url"]):
        problems["scope"] = ("Readers' emails go only to an https:// address (or one on this machine): over plain "
                             "http anyone on the way could read them.")
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX or NOT_TYPED.search(description):
        problems["description"] = f"A description is one line of at most {DESCRIPTION_MAX} characters."
    values["scope"], values["description"] = scope, description or None
    if problems:
        raise WebhookRefused.of(problems)
    return values


def create_webhook(url, events, scope, description, moderator):
    """Register an address; returns (its secret, shown this once, and the webhook)."""
    secret = signing.new_secret()
    hook = Webhook(**_checked(url, events, scope, description), secret=secret, created_by=moderator.id)
    db.session.add(hook)
    db.session.commit()
    log.info("webhook %r added by moderator %r", hook.id, moderator.id)
    return secret, hook


def get_webhook(hook_id):
    hook = db.session.get(Webhook, hook_id)
    if hook is None:
        raise NotFound(f"Webhook {hook_id} no longer exists.")
    return hook


def update_webhook(hook_id, url, events, scope, description):
    """Change where and what a webhook is sent; its secret stays. A delivery still owed goes to the webhook as it
    is when it is tried: the new address, and the author's email only if the new scope allows it."""
    hook = get_webhook(hook_id)
    for name, value in _checked(url, events, scope, description).items():
        setattr(hook, name, value)
    db.session.commit()
    return hook


def set_active(hook_id, active):
    """Deactivate (nothing more is owed to it, and what was owed is not sent) or activate again."""
    hook = get_webhook(hook_id)
    hook.active = active
    db.session.commit()
    return hook


def delete_webhook(hook_id):
    """Delete a webhook and its log; returns the address it had."""
    hook = get_webhook(hook_id)
    url = hook.url
    db.session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
    db.session.delete(hook)
    db.session.commit()
    return url


def rotate_secret(hook_id):
    """A new secret at once (the old one stops working with the next try); returns (the secret, the webhook)."""
    hook = get_webhook(hook_id)
    secret = hook.secret = signing.new_secret()
    db.session.commit()
    return secret, hook


def send_test(hook_id):
    """Owe the webhook a `ping` event, sent, signed and logged like any other; returns the delivery."""
    hook = get_webhook(hook_id)
    if not hook.active:
        raise WebhookRefused("This webhook is deactivated: activate it before sending it a test event.")
    delivery = WebhookDelivery(webhook_id=hook.id, event=TEST_EVENT, comment_id=None, payload={
        "event": TEST_EVENT, "occurred_at": utcnow().isoformat(), "comment": None, "thread": None})
    db.session.add(delivery)
    db.session.commit()
    send_webhook_delivery(delivery.id)
    return delivery


def retry_delivery(delivery_id):
    """Try a failed delivery once more, now; returns it."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"Delivery {delivery_id} no longer exists.")
    if delivery.state != "failed":
        raise WebhookRefused(f"Delivery {delivery.id} is {delivery.state}: only a failed one can be retried.")
    delivery.state, delivery.next_attempt_at = "pending", utcnow()
    db.session.commit()
    send_webhook_delivery(delivery.id)
    return delivery


def webhooks():
    """Every webhook, oldest first, each with its latest delivery."""
    hooks = db.session.scalars(sa.select(Webhook).order_by(Webhook.id)).all()
    latest = sa.select(sa.func.max(WebhookDelivery.id)).group_by(WebhookDelivery.webhook_id).scalar_subquery()
    last = {d.webhook_id: d for d in db.session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.id.in_(latest)))}
    return [HookRow(hook, last.get(hook.id)) for hook in hooks]


def deliveries(hook_id, page=1):
    """One webhook's log, newest first, a page at a time (Flask-SQLAlchemy's Pagination)."""
    query = sa.select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook_id).order_by(WebhookDelivery.id.desc())
    return db.paginate(query, page=min(max(page, 1), PAGES_MAX), per_page=DELIVERIES_PER_PAGE, error_out=False)


# What announcements.py calls.

def owe(event, comment, at=None):
    """Add a delivery of `event` (which happened `at`) for every active webhook that wants it; their ids (flushed,
    not committed).

    One query when no webhook wants it. The payload is the comment as the event found it, without the email.
    """
    wanted = [hook_id for hook_id, events in db.session.execute(
        sa.select(Webhook.id, Webhook.events).where(Webhook.active)) if event in events.split()]
    if not wanted:
        return []
    payload = event_payload(event, comment, at)
    rows = [WebhookDelivery(webhook_id=hook_id, event=event, comment_id=comment.id, payload=payload)
            for hook_id in wanted]
    db.session.add_all(rows)
    db.session.flush()
    return [row.id for row in rows]


def send(ids):
    """Queue the deliveries `owe` made, once their commit is done; one the broker lost is sent by the sweep."""
    for delivery_id in ids:
        send_webhook_delivery(delivery_id)


def event_payload(event, comment, at=None):
    """What a receiver is told: public fields only (never the email, IP or user agent); `at`: when it happened."""
    thread = comment.thread
    return {
        "event": event,
        # The audit event's time (or the comment's, for "created"), not the announcement's: after an outage the
        # events keep their own times.
        "occurred_at": (at or utcnow()).isoformat(),
        "comment": {**_public_fields(comment),
                    # The state the event put it in; a new comment's as it was when announced.
                    "state": comment.state if event == "created" else event},
        "thread": {"key": thread.key, "title": thread.title, "url": thread.url},
    }


def _public_fields(comment):
    return {
        "id": comment.id, "parent_id": comment.parent_id, "author_name": comment.author_name,
        "author_url": comment.author_url, "body": comment.body, "html": str(comment.html),
        "created_at": comment.created_at.isoformat(), "url": _page_link(comment),
        "moderation_url": _ours("review.comment", comment_id=comment.id),
    }


def _page_link(comment):
    """The comment on the article's own page when the thread has one, else on this service's page of it."""
    thread = comment.thread
    if thread.url:
        return f"{thread.url.split('#', 1)[0]}#{comment.anchor}"
    ours = _ours("comments.thread", key=thread.key)
    return f"{ours}#{comment.anchor}" if ours else None


def _ours(endpoint, **values):
    """An address of this service under MODERATION_BASE_URL; None when it is not set (a worker has no request)."""
    return external(endpoint, **values) if current_app.config["MODERATION_BASE_URL"] else None


def refresh_payloads(comment_ids):
    """After an erasure: every delivery of these comments, sent or not, keeps only what the comment now holds
    (the erased name, website and text). Flushes, never commits: the erasure's commit does."""
    if not comment_ids:
        return 0
    comments = {c.id: c for c in db.session.scalars(sa.select(Comment).where(Comment.id.in_(comment_ids)))}
    rows = db.session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.comment_id.in_(comment_ids))).all()
    for delivery in rows:
        comment = comments.get(delivery.comment_id)
        kept = delivery.payload["comment"]
        fresh = _public_fields(comment) if comment else {}
        delivery.payload = {**delivery.payload, "comment": {
            **kept, **{name: fresh.get(name) for name in ("author_name", "author_url", "body", "html")}}}
    db.session.flush()
    return len(rows)
