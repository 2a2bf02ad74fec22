"""The Celery tasks: each takes an id, re-fetches the row, and does nothing if the work is done."""
import logging

from celery import shared_task
from celery.signals import worker_process_init
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DBAPIError, OperationalError as DatabaseError

from moderation.extensions import db
from moderation.queue import CHECK_COMMENT, SWEEP_PENDING
from moderation.spam import services

log = logging.getLogger(__name__)
TRANSIENT = (DatabaseError, BrokerError, ConnectionError, TimeoutError)


def _is_transient(error):
    return isinstance(error, TRANSIENT) or (isinstance(error, DBAPIError) and error.connection_invalidated)


@shared_task(name=CHECK_COMMENT, bind=True, acks_late=True, max_retries=5)
def check_comment(self, comment_id, **kwargs):
    """Give a pending comment its verdict; retried with backoff while the database is unreachable."""
    try:
        return services.check_comment(comment_id)
    except Exception as error:
        if not _is_transient(error):
            raise
        db.session.rollback()
        if self.request.retries >= self.max_retries:
            log.warning("check of comment %r gave up after %r retries: %r", comment_id, self.request.retries, error)
            return services.hold_unchecked(comment_id, f"{type(error).__name__} after {self.request.retries} retries")
        raise self.retry(exc=error, countdown=min(2 ** self.request.retries, 60))


@shared_task(name=SWEEP_PENDING, acks_late=True)
def sweep_pending(**kwargs):
    """Re-send checks that were lost (broker down, worker died) so every comment is checked at least once."""
    resent = services.sweep_pending()
    if resent:
        log.info("sweep re-sent checks for %r", resent)
    return len(resent)


def bind_worker_signals(flask_app):
    @worker_process_init.connect(weak=False)
    def fresh_connections(**kwargs):
        # A forked child must not share its parent's database sockets.
        with flask_app.app_context():
            db.engine.dispose(close=False)
