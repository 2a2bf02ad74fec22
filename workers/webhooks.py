"""The tasks that deliver webhooks: one delivery each, retried with backoff, and the sweep of lost sends."""
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from flask import current_app

from moderation.extensions import db
from moderation.queue import DELIVER_WEBHOOK, SWEEP_WEBHOOKS
from moderation.webhooks import delivery

log = logging.getLogger(__name__)


@shared_task(name=DELIVER_WEBHOOK, acks_late=True)
def deliver_webhook(delivery_id, **kwargs):
    """POST one event to its webhook if it is still owed and due. A failed try queues the next one itself, after
    its wait (delivery.RETRY_AFTER_SECONDS), until the last; a run that died or met a database error is sent again
    by the sweep, so no Celery retry is needed here."""
    try:
        return delivery.deliver(delivery_id)
    except SoftTimeLimitExceeded:
        # It may have struck inside a database call: that connection is dropped, not reused.
        db.session().invalidate()
    limit = current_app.config["MODERATION_CHECK_TIME_LIMIT"]
    log.warning("webhook delivery %r ran out of time", delivery_id)
    return delivery.stopped(delivery_id, f"The try took longer than {limit} s and was stopped.")


@shared_task(name=SWEEP_WEBHOOKS, acks_late=True)
def sweep_webhooks(**kwargs):
    """Send again the deliveries whose message was lost, and empty the log of its oldest entries."""
    sent = delivery.sweep()
    if sent:
        log.info("the webhooks' sweep sent %r deliveries again", len(sent))
    return len(sent)
