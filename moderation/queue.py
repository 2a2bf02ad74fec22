"""The Celery app's wiring and the one place the web side sends tasks from, by name."""
import logging

from datetime import timedelta

import sqlalchemy as sa
from celery import Celery, Task
from flask import current_app
from kombu.exceptions import OperationalError

from . import embedded_broker
from .extensions import db
from .models import Followup, utcnow

CHECK_COMMENT = "moderation.check_comment"
SWEEP_PENDING = "moderation.sweep_pending"
LEARN_FROM_DECISION = "moderation.learn_from_decision"
REPORT_DECISION = "moderation.report_decision"
PURGE_EXPIRED = "moderation.purge_expired"
NOTIFY_MODERATORS = "moderation.notify_moderators"
# Telling the outside of what happened (announcements.py): webhooks and commenters' emails, each from an outbox.
ANNOUNCE = "moderation.announce"
DELIVER_WEBHOOK = "moderation.deliver_webhook"
SWEEP_WEBHOOKS = "moderation.sweep_webhooks"
SEND_MAIL = "moderation.send_mail"
SWEEP_MAILS = "moderation.sweep_mails"
# How often the scheduler announces what a missed send left (a worker announces at once after each verdict and
# decision), and sends again deliveries and emails whose send was lost.
ANNOUNCE_EVERY_SECONDS = 10
OUTBOX_SWEEP_EVERY_SECONDS = 30
PURGE_EVERY_SECONDS = 3600
# How long the process that wrote (or last claimed) a decision's follow-up has to send it before the sweep may: far
# more than a send takes, even with the broker's retries.
FOLLOWUP_CLAIM_SECONDS = 60
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


def training_queue(config):
    """The queue retraining tasks go to: read by a worker of their own (`moderation serve` starts one), so that a
    retraining never keeps a checking process from the comments."""
    return f"{config['MODERATION_QUEUE']}.training"


def webhooks_queue(config):
    """The queue webhook deliveries go to: read by a worker of their own (`moderation serve` starts one), so that a
    receiver that hangs never keeps a checking process from the comments."""
    return f"{config['MODERATION_QUEUE']}.webhooks"


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
        "task_routes": {LEARN_FROM_DECISION: {"queue": training_queue(config)},
                        DELIVER_WEBHOOK: {"queue": webhooks_queue(config)},
                        SWEEP_WEBHOOKS: {"queue": webhooks_queue(config)}},
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
            "announce": {"task": ANNOUNCE, "schedule": float(ANNOUNCE_EVERY_SECONDS),
                         "options": {"expires": float(ANNOUNCE_EVERY_SECONDS)}},
            "sweep-webhooks": {"task": SWEEP_WEBHOOKS, "schedule": float(OUTBOX_SWEEP_EVERY_SECONDS),
                               "options": {"expires": float(OUTBOX_SWEEP_EVERY_SECONDS)}},
            "sweep-mails": {"task": SWEEP_MAILS, "schedule": float(OUTBOX_SWEEP_EVERY_SECONDS),
                            "options": {"expires": float(OUTBOX_SWEEP_EVERY_SECONDS)}},
        },
    }


def _every(seconds):
    return float(seconds or 60)


def _time_limits(config):
    """Every task stops in bounded time: the soft limit raises inside it, the hard one ends its process."""
    check, train = config["MODERATION_CHECK_TIME_LIMIT"], config["MODERATION_TRAIN_TIME_LIMIT"]
    # A notification run opens one SMTP connection, each step bounded by MODERATION_SMTP_TIMEOUT.
    limits = {CHECK_COMMENT: check, REPORT_DECISION: check, SWEEP_PENDING: check * 2,
              LEARN_FROM_DECISION: train, PURGE_EXPIRED: train, NOTIFY_MODERATORS: check * 2,
              ANNOUNCE: check * 2, DELIVER_WEBHOOK: check, SWEEP_WEBHOOKS: check * 2, SEND_MAIL: check,
              SWEEP_MAILS: check * 2}
    return {name: {"soft_time_limit": soft, "time_limit": soft + HARD_LIMIT_MARGIN} for name, soft in limits.items()}


def send_check_comment(comment_id):
    """Queue the spam check; if the broker is down, the scheduled sweep sends it later."""
    return _send(CHECK_COMMENT, comment_id)


def send_announce():
    """Ask a worker to announce what is new now (the scheduler would within ANNOUNCE_EVERY_SECONDS anyway)."""
    return _send(ANNOUNCE)


def send_webhook_delivery(delivery_id, countdown=None):
    """Queue one webhook delivery; a lost send is sent again by the webhooks' sweep."""
    return _send(DELIVER_WEBHOOK, delivery_id, countdown=countdown)


def send_mail(mail_id, countdown=None):
    """Queue one commenter's email; a lost send is sent again by the mails' sweep."""
    return _send(SEND_MAIL, mail_id, countdown=countdown)


def decision_followups(comment_ids):
    """What a moderator's decision owes, added to the session for the decision's own commit: teach the model, and
    tell Akismet where it was wrong. Send them with `send_followups` once that commit is done.

    `comment_ids` in the order their decisions were recorded. One retraining task, for the last of them: a
    retraining learns from every example, and only the task of the newest decision retrains (see learning.py),
    so one task per comment of a bulk decision would be hundreds of messages doing nothing.
    """
    if not comment_ids:
        return []
    now, config = utcnow(), current_app.config
    claimed_until = now + timedelta(seconds=FOLLOWUP_CLAIM_SECONDS)
    # Retraining waits a moment, so that a burst of decisions is learned in one retraining (see learning.py).
    owed = [(LEARN_FROM_DECISION, comment_ids[-1], now + timedelta(seconds=config["MODERATION_RETRAIN_DELAY"] or 0))]
    if config["MODERATION_AKISMET_KEY"]:
        owed += [(REPORT_DECISION, comment_id, now) for comment_id in comment_ids]
    ids = db.session.scalars(sa.insert(Followup).returning(Followup.id, sort_by_parameter_order=True), [
        {"task": task, "comment_id": comment_id, "due_at": due, "claimed_until": claimed_until, "created_at": now}
        for task, comment_id, due in owed]).all()
    return [(followup_id, *what) for followup_id, what in zip(ids, owed)]


def send_followups(followups):
    """After the commit that wrote them: send each follow-up ((id, task, comment id, due at), as
    `decision_followups` gives them), and delete those the broker took. Whatever fails stays for the sweep
    (`sweep_followups`), once its claim runs out."""
    sent = [followup_id for followup_id, task, comment_id, due_at in followups
            if _send(task, comment_id, countdown=_countdown(due_at))]
    if sent:
        try:
            db.session.execute(sa.delete(Followup).where(Followup.id.in_(sent)))
            db.session.commit()
        except Exception:  # noqa: BLE001 - the decision is committed; a row left is only sent again by the sweep
            db.session.rollback()
            log.exception("could not mark %r decision follow-ups sent; the sweep will send them again", len(sent))
    return sent


def sweep_followups(limit=500):
    """Send the follow-ups nobody is sending any more (their claim ran out), oldest first; the ids sent.

    Each is claimed again before it is sent, guarded on the claim that ran out, so that two sweeps at once (two
    schedulers, two machines) send it once.
    """
    now = utcnow()
    stale = db.session.execute(sa.select(Followup.id, Followup.claimed_until).where(Followup.claimed_until < now)
                               .order_by(Followup.id).limit(limit)).all()
    claimed = []
    for row in stale:
        won = db.session.execute(
            sa.update(Followup).where(Followup.id == row.id, Followup.claimed_until == row.claimed_until)
            .values(claimed_until=now + timedelta(seconds=FOLLOWUP_CLAIM_SECONDS), attempts=Followup.attempts + 1)
        ).rowcount
        if won == 1:
            claimed.append(row.id)
    db.session.commit()
    if not claimed:
        return []
    return send_followups(db.session.execute(
        sa.select(Followup.id, Followup.task, Followup.comment_id, Followup.due_at).where(Followup.id.in_(claimed))
        .order_by(Followup.id)).all())


def _countdown(due_at):
    seconds = (due_at - utcnow()).total_seconds()
    return seconds if seconds > 0 else None


def _send(name, *args, countdown=None):
    """Send, after the commit that made the work: whatever the broker does then, what was committed stays and the
    request answers as it would have (the sweep sends a comment's check again; see README, delivery)."""
    celery_app = current_app.extensions["celery"]
    # A comment's id comes first, but for a webhook delivery's or an email's.
    about = {"comment_id": args[0]} if args and isinstance(args[0], int) and name not in (DELIVER_WEBHOOK, SEND_MAIL) else {}
    try:
        celery_app.send_task(name, args=args, countdown=countdown)
    except OperationalError as error:
        log.warning("could not queue %r for %r, the sweep will retry: %r", name, args, error, extra=about)
        return False
    except Exception:  # noqa: BLE001 - any failure of the broker's client, after the commit, must not become a 500
        log.exception("queueing %r for %r failed, the sweep will retry", name, args, extra=about)
        return False
    return True
