"""One try of one webhook delivery: claimed, signed, POSTed under a short timeout, its outcome recorded; and the
sweep that sends again the deliveries whose message the broker lost."""
import json
import logging
from datetime import timedelta
from http import HTTPStatus

import httpx
import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Comment, WebhookDelivery, utcnow
from ..queue import HARD_LIMIT_MARGIN, send_webhook_delivery
from . import signing

# After a failed try, the next one this many seconds later: six tries over about two and a half hours.
RETRY_AFTER_SECONDS = (10, 60, 300, 1800, 7200)
ATTEMPTS = len(RETRY_AFTER_SECONDS) + 1
# How early a message may come (two machines' clocks) and still be tried; an earlier one leaves it to the next.
EARLY_SECONDS = 5
# A delivery still pending this long after its time was lost (by the broker, or with a worker that died).
SWEEP_AFTER_SECONDS = 60
# Delivered and failed deliveries stay in the log this long after their last try.
LOG_DAYS = 30
ERROR_MAX = 300
USER_AGENT = "moderation-webhooks/1"

log = logging.getLogger(__name__)


def timeout_seconds():
    """Seconds that connecting, sending the event and awaiting the answer may each take."""
    return current_app.config["MODERATION_WEBHOOK_TIMEOUT"]


def deliver(delivery_id):
    """Try a delivery that is owed and due, unless another process is trying it; its state afterwards, or None
    when there was nothing to try (delivered already, failed, not due yet, or claimed by another worker)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    hook = delivery.webhook
    if not hook.active:
        delivery.state, delivery.error = "failed", "Not sent: the webhook is deactivated."
        db.session.commit()
        return delivery.state
    status_code, error = _post(hook, delivery.id, body(delivery))
    return _record(delivery, status_code, error)


def stopped(delivery_id, why):
    """A try that the task's time limit stopped counts as a failed try."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.state != "pending":
        return None
    return _record(delivery, None, why)


def _claim(delivery_id):
    """Push the delivery's time past this try's longest run, if it is pending and due: a second message for it
    (sent again by the sweep, or redelivered by the broker) then finds it not due and leaves it."""
    now = utcnow()
    longest = current_app.config["MODERATION_CHECK_TIME_LIMIT"] + HARD_LIMIT_MARGIN
    won = db.session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == "pending",
               WebhookDelivery.next_attempt_at <= now + timedelta(seconds=EARLY_SECONDS))
        .values(next_attempt_at=now + timedelta(seconds=longest))
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return db.session.get(WebhookDelivery, delivery_id) if won else None


def body(delivery):
    """The JSON sent: the stored payload and the delivery's id, and the author's email when the scope allows it."""
    payload = delivery.payload
    document = {"event": payload["event"], "delivery_id": delivery.id, **payload}
    if delivery.webhook.scope == "emails" and payload.get("comment"):
        email = db.session.scalar(sa.select(Comment.author_email).where(Comment.id == delivery.comment_id))
        document["comment"] = {**payload["comment"], "author_email": email}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _post(hook, delivery_id, content):
    """POST without following redirects or reading the answer's body; (status code, None) when it was 2xx, else
    (status code or None, a sentence saying what went wrong)."""
    timeout = timeout_seconds()
    headers = {"content-type": "application/json", "user-agent": USER_AGENT,
               **signing.headers(hook.secret, delivery_id, content)}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            with client.stream("POST", hook.url, content=content, headers=headers) as response:
                return response.status_code, _refused(response.status_code)
    except httpx.TimeoutException as error:
        return None, _timed_out(error, timeout)
    except httpx.HTTPError as error:
        return None, _unreachable(error)


def _refused(status_code):
    if 200 <= status_code < 300:
        return None
    try:
        said = f"{status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        said = str(status_code)
    if 300 <= status_code < 400:
        return f"The receiver answered {said}: redirects are not followed; register the address it points to."
    return f"The receiver answered {said}."


def _timed_out(error, timeout):
    if isinstance(error, httpx.ConnectTimeout):
        return f"Timeout: could not connect within {timeout:g} s."
    if isinstance(error, httpx.WriteTimeout):
        return f"Timeout: could not send the event within {timeout:g} s."
    return f"Timeout: no answer within {timeout:g} s."


def _unreachable(error):
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.ConnectError):
        return f"Could not connect: {reason}"
    if isinstance(error, httpx.RemoteProtocolError):
        # Never what it sent instead: the log shows no more of a receiver than its status code.
        return "The receiver closed the connection without a proper HTTP answer."
    return f"The request failed: {type(error).__name__}: {reason}"


def _record(delivery, status_code, error):
    """Count the try; delivered, or tried again after its wait, or failed after the last try. Its state."""
    now = utcnow()
    delivery.attempts += 1
    delivery.status_code = status_code
    wait = None
    if error is None:
        # The error of an earlier try stays: the log shows why it took more than one.
        delivery.state, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, now
    elif delivery.attempts >= ATTEMPTS:
        delivery.state, delivery.error, delivery.next_attempt_at = "failed", error[:ERROR_MAX], now
    else:
        wait = RETRY_AFTER_SECONDS[delivery.attempts - 1]
        delivery.error, delivery.next_attempt_at = error[:ERROR_MAX], now + timedelta(seconds=wait)
    db.session.commit()
    if error is not None:
        then = "failed for good" if wait is None else f"again in {wait} s"
        log.log(logging.WARNING if wait is None else logging.INFO, "webhook delivery %r to webhook %r, try %r: %s",
                delivery.id, delivery.webhook_id, delivery.attempts, then)
    if wait is not None:
        send_webhook_delivery(delivery.id, countdown=wait)
    return delivery.state


def sweep(limit=500):
    """Send again the deliveries left pending well past their time, oldest first, and empty the log of entries
    older than LOG_DAYS; the ids sent.

    Each is claimed before it is sent, guarded on the time it had, so that two sweeps at once send it once.
    """
    now = utcnow()
    stale = db.session.execute(
        sa.select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.state == "pending",
               WebhookDelivery.next_attempt_at < now - timedelta(seconds=SWEEP_AFTER_SECONDS))
        .order_by(WebhookDelivery.next_attempt_at).limit(limit)).all()
    claimed = [row.id for row in stale if db.session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == row.id, WebhookDelivery.state == "pending",
               WebhookDelivery.next_attempt_at == row.next_attempt_at)
        .values(next_attempt_at=now).execution_options(synchronize_session=False)).rowcount == 1]
    db.session.execute(sa.delete(WebhookDelivery).where(
        WebhookDelivery.state.in_(("delivered", "failed")),
        WebhookDelivery.next_attempt_at < now - timedelta(days=LOG_DAYS)).execution_options(synchronize_session=False))
    db.session.commit()
    for delivery_id in claimed:
        send_webhook_delivery(delivery_id)
    return claimed
