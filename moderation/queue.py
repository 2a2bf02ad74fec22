"""The Celery app's wiring and the one place the web side sends tasks from, by name."""
import logging

from celery import Celery, Task
from flask import current_app
from kombu.exceptions import OperationalError

from . import embedded_broker

CHECK_COMMENT = "moderation.check_comment"
SWEEP_PENDING = "moderation.sweep_pending"
LEARN_FROM_DECISION = "moderation.learn_from_decision"
REPORT_DECISION = "moderation.report_decision"
PURGE_EXPIRED = "moderation.purge_expired"
NOTIFY_MODERATORS = "moderation.notify_moderators"
PURGE_EVERY_SECONDS = 3600
# A hard limit this much after the soft one: the soft limit lets the task record why it stopped.
HARD_LIMIT_MARGIN = 10

log = logging.getLogger(__name__)


def celery_init_app(app):
    """Bind a Celery app to the Flask app so that every task runs inside an app context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(celery_settings(app.config, app.instance_path))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def celery_settings(config, instance_path):
    queue = config["MODERATION_QUEUE"]
    broker_url = config["CELERY_BROKER_URL"]
    if broker_url.startswith("sqla+"):
        embedded_broker.register()
    return {
        "broker_url": broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        "task_default_queue": queue,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        "task_annotations": _time_limits(config),
        "beat_schedule_filename": f"{instance_path}/celerybeat-schedule-{queue}",
        "beat_schedule": {
            "sweep-pending": {
                "task": SWEEP_PENDING,
                "schedule": float(config["MODERATION_SWEEP_EVERY"] or 60),
            },
            "purge-expired": {"task": PURGE_EXPIRED, "schedule": float(PURGE_EVERY_SECONDS)},
            # A run left waiting while no worker reads the queue is dropped: the next one does the same work.
            "notify-moderators": {"task": NOTIFY_MODERATORS, "schedule": _every(config["MODERATION_NOTIFY_EVERY"]),
                                  "options": {"expires": _every(config["MODERATION_NOTIFY_EVERY"])}},
        },
    }


def _every(seconds):
    return float(seconds or 60)


def _time_limits(config):
    """Every task stops in bounded time: the soft limit raises inside it, the hard one ends its process."""
    check, train = config["MODERATION_CHECK_TIME_LIMIT"], config["MODERATION_TRAIN_TIME_LIMIT"]
    # A notification run opens one SMTP connection, each step bounded by MODERATION_SMTP_TIMEOUT.
    limits = {CHECK_COMMENT: check, REPORT_DECISION: check, SWEEP_PENDING: check * 2,
              LEARN_FROM_DECISION: train, PURGE_EXPIRED: train, NOTIFY_MODERATORS: check * 2}
    return {name: {"soft_time_limit": soft, "time_limit": soft + HARD_LIMIT_MARGIN} for name, soft in limits.items()}


def send_check_comment(comment_id):
    """Queue the spam check; if the broker is down, the scheduled sweep sends it later."""
    return _send(CHECK_COMMENT, comment_id)


def send_decision_followups(comment_ids):
    """After a moderator's decision: teach the model, and tell Akismet where it was wrong.

    `comment_ids` in the order their decisions were recorded. One retraining task, for the last of them: a
    retraining learns from every example, and only the task of the newest decision retrains (see learning.py),
    so one task per comment of a bulk decision would be hundreds of messages doing nothing.
    """
    if not comment_ids:
        return
    # Retraining waits a moment, so that a burst of decisions is learned in one retraining (see learning.py).
    _send(LEARN_FROM_DECISION, comment_ids[-1], countdown=current_app.config["MODERATION_RETRAIN_DELAY"] or None)
    if current_app.config["MODERATION_AKISMET_KEY"]:
        for comment_id in comment_ids:
            _send(REPORT_DECISION, comment_id)


def _send(name, *args, countdown=None):
    """Send, after the commit that made the work: whatever the broker does then, what was committed stays and the
    request answers as it would have (the sweep sends a comment's check again; see README, delivery)."""
    celery_app = current_app.extensions["celery"]
    try:
        celery_app.send_task(name, args=args, countdown=countdown)
    except OperationalError as error:
        log.warning("could not queue %r for %r, the sweep will retry: %r", name, args, error)
        return False
    except Exception:  # noqa: BLE001 - any failure of the broker's client, after the commit, must not become a 500
        log.exception("queueing %r for %r failed, the sweep will retry", name, args)
        return False
    return True
