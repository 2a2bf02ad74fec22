"""The Celery tasks: each takes an id, re-fetches the row, and does nothing if the work is done."""
import logging
import time

import httpx
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import after_setup_logger, after_setup_task_logger, worker_init, worker_process_init
from flask import current_app
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DBAPIError, OperationalError as DatabaseError

from moderation import announcements, leases, logs, metrics
from moderation.extensions import db
from moderation.notify import services as notify
from moderation.privacy import services as privacy
from moderation.review import services as review
from moderation.subscriptions import services as subscriptions
from moderation.queue import (ANNOUNCE, CHECK_COMMENT, LEARN_FROM_DECISION, NOTIFY_MODERATORS, PURGE_EXPIRED,
                              REPORT_DECISION, SWEEP_PENDING, sweep_followups)
from moderation.spam import akismet_check, learning, services

log = logging.getLogger(__name__)
TRANSIENT = (DatabaseError, BrokerError, ConnectionError, TimeoutError, *akismet_check.TRANSIENT)


def _is_transient(error):
    return isinstance(error, TRANSIENT) or (isinstance(error, DBAPIError) and error.connection_invalidated)


def _causes(error):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def _what_failed(error):
    """The failure in words a moderator can read, for a comment held once the retries ran out."""
    # The error's own kind first: a database error raised while handling an Akismet one is the database's.
    if isinstance(error, DBAPIError):
        return f"the database failed with {type(error).__name__}"
    if isinstance(error, BrokerError):
        return "the broker could not be reached"
    if any(isinstance(seen, httpx.TimeoutException) for seen in _causes(error)):
        return f"Akismet did not answer within {current_app.config['MODERATION_AKISMET_TIMEOUT']:g} s"
    if isinstance(error, akismet_check.TRANSIENT):
        return "Akismet could not be reached"
    return type(error).__name__


def _ran_out_of_time(error):
    """The soft time limit struck, perhaps inside a database call that then failed on its own account.

    The connection it interrupted is mid-statement and unusable: it is dropped, not reused.
    """
    seen = error
    while seen is not None and not isinstance(seen, SoftTimeLimitExceeded):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return False
    db.session().invalidate()
    return True


def _retry_transient(task, error, comment_id, give_up):
    """Retry a transient failure with exponential backoff; when retries run out, `give_up` records a final state."""
    if not _is_transient(error):
        raise error
    db.session.rollback()
    if task.request.retries >= task.max_retries:
        log.warning("%r for comment %r gave up after %r retries: %r", task.name, comment_id, task.request.retries, error,
                    extra={"comment_id": comment_id})
        return give_up(f"{_what_failed(error)} ({task.request.retries + 1} tries)")
    raise task.retry(exc=error, countdown=min(2 ** task.request.retries, 60))


@shared_task(name=CHECK_COMMENT, bind=True, acks_late=True, max_retries=5)
def check_comment(self, comment_id, **kwargs):
    """Give a pending comment its verdict; retried with backoff while the database or Akismet is unreachable."""
    started = time.perf_counter()
    try:
        verdict = _check(self, comment_id)
    finally:
        metrics.check_took(time.perf_counter() - started)
    _announce_now()
    return verdict


def _check(self, comment_id):
    try:
        return services.check_comment(comment_id)
    except Exception as error:
        if not _ran_out_of_time(error):
            return _retry_transient(self, error, comment_id, lambda why: services.hold_unchecked(comment_id, why))
    log.warning("the check of comment %r ran out of time", comment_id, extra={"comment_id": comment_id})
    limit = current_app.config["MODERATION_CHECK_TIME_LIMIT"]
    return services.hold_unchecked(comment_id, f"the check took longer than {limit} s and was stopped")


def _announce_now():
    """Tell webhooks and subscribers of the verdict at once, in this worker; if that fails, the scheduled run does."""
    try:
        announcements.announce()
    except Exception as error:  # noqa: BLE001 - the verdict is committed; the scheduled announce tries again
        if not _ran_out_of_time(error):
            db.session.rollback()
        log.warning("announcing after a check failed, the scheduled run will: %r", error)


@shared_task(name=ANNOUNCE, acks_late=True)
def announce(**kwargs):
    """Tell webhooks and subscribers of new comments and changes of state, a batch at a time until none is left."""
    told = 0
    while True:
        created, changes = announcements.announce()
        told += created + changes
        if created < announcements.BATCH and changes < announcements.BATCH:
            return told


@shared_task(name=LEARN_FROM_DECISION, bind=True, acks_late=True, max_retries=5)
def learn_from_decision(self, comment_id, **kwargs):
    """Turn a moderator's decision into a training example and retrain, off the moderator's request.

    While another process retrains (one at a time, across every machine), this one waits and tries again: that
    retraining may have read the examples before this decision's was stored. It stops trying as soon as a newer
    decision's task is there to do it, or a retraining has every example; a holder that died frees the lease
    within the training time limit."""
    try:
        version = learning.learn_from_decision(comment_id)
    except leases.Busy:
        # As long as the lease can last (a holder that died frees it by then), whatever max_retries says.
        delay, waited = current_app.config["MODERATION_RETRAIN_DELAY"] or 10, kwargs.get("waited_for_lease", 0)
        if waited > learning.retrain_lease_seconds():
            log.warning("no retraining after the decision on comment %r: the lease stayed taken for %r s",
                        comment_id, waited, extra={"comment_id": comment_id})
            return None
        raise self.retry(countdown=delay, max_retries=self.request.retries + 1,
                         kwargs={**kwargs, "waited_for_lease": waited + delay}) from None
    except Exception as error:
        if not _ran_out_of_time(error):
            return _retry_transient(self, error, comment_id, lambda why: None)
        # The example is stored; the next decision (or `moderation spam retrain`) trains on it.
        log.warning("retraining after the decision on comment %r ran out of time", comment_id,
                    extra={"comment_id": comment_id})
        return None
    return version.id if version is not None else None


@shared_task(name=REPORT_DECISION, bind=True, acks_late=True, max_retries=5)
def report_decision(self, comment_id, **kwargs):
    """Send Akismet submit-spam or submit-ham where a moderator overruled it."""
    try:
        return learning.report_decision(comment_id)
    except Exception as error:
        return _retry_transient(self, error, comment_id, lambda why: None)


@shared_task(name=SWEEP_PENDING, acks_late=True)
def sweep_pending(**kwargs):
    """Re-send checks that were lost (broker down, worker died) so every comment is checked at least once, and the
    decisions' follow-ups the broker never took."""
    resent = services.sweep_pending()
    if resent:
        log.info("sweep re-sent checks for %r", resent)
    followups = sweep_followups()
    if followups:
        log.info("sweep sent %r decision follow-ups again", len(followups))
    return len(resent) + len(followups)


@shared_task(name=PURGE_EXPIRED, acks_late=True)
def purge_expired(**kwargs):
    """Retention: personal details older than MODERATION_RETAIN_DAYS are dropped or truncated, spam and trash older
    than their retention period are deleted for good, and so are addresses never confirmed for email, and the record
    of commenters' emails after a while."""
    purged = privacy.purge_expired()
    review.empty_expired()
    subscriptions.forget_expired()
    return purged


@shared_task(name=NOTIFY_MODERATORS, acks_late=True)
def notify_moderators(**kwargs):
    """Email moderators about held comments. Scheduled: a send that failed (mail server down, an address refused)
    is logged and tried again by the next run, never lost; nothing is retried within a run."""
    try:
        return notify.notify_moderators()
    except Exception as error:
        if not _ran_out_of_time(error):
            raise
    # What was sent is committed; the next run mails the rest.
    log.warning("the notification run ran out of time")
    return None


def bind_worker_signals(flask_app):
    @after_setup_logger.connect(weak=False)
    @after_setup_task_logger.connect(weak=False)
    def json_lines(logger=None, **kwargs):
        if flask_app.config["MODERATION_LOG_FORMAT"] == "json":
            logs.use_json_lines(logger.handlers)

    @worker_init.connect(weak=False)
    def serve_metrics(**kwargs):
        # In the worker's main process, before its pool starts: the pool's processes then count in files.
        port = flask_app.config["MODERATION_WORKER_METRICS_PORT"]
        if port:
            metrics.serve_worker_events(flask_app.instance_path, port, flask_app.config["MODERATION_WORKER_METRICS_HOST"])

    @worker_process_init.connect(weak=False)
    def fresh_connections(**kwargs):
        # A forked child must not share its parent's database sockets.
        with flask_app.app_context():
            db.engine.dispose(close=False)
