"""The tasks that send commenters their emails: one email each, retried with backoff, and the sweep of lost sends."""
import logging

from celery import shared_task

from moderation.queue import SEND_MAIL, SWEEP_MAILS
from moderation.subscriptions import outbox

log = logging.getLogger(__name__)


@shared_task(name=SEND_MAIL, bind=True, acks_late=True, max_retries=outbox.MAX_ATTEMPTS)
def send_mail(self, mail_id, **kwargs):
    """Send one owed email (a confirmation request, a reply, an approval) unless it is sent, claimed by another
    task, or no longer owed (unsubscribed, its comment gone). A mail server that fails for now is tried again with
    backoff; when the tries run out, or the server refuses the address for good, the mail is `failed` with why."""
    try:
        return outbox.deliver(mail_id, attempt=kwargs.get("attempt"))
    except outbox.TryAgain as again:
        raise self.retry(countdown=again.countdown, kwargs={**kwargs, "attempt": again.attempt}) from None


@shared_task(name=SWEEP_MAILS, acks_late=True)
def sweep_mails(**kwargs):
    """Send again the emails whose send was lost (the broker dropped it, a worker died mid-send)."""
    swept = outbox.sweep()
    if swept:
        log.info("sweep sent %r emails again", len(swept))
    return len(swept)
