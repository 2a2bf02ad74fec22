"""Learning from moderators: each decision becomes a labelled example, and the model is retrained from them."""
import csv
import logging
import time

import sqlalchemy as sa
from flask import current_app

from .. import leases, metrics
from ..extensions import db
from ..models import AuditEvent, Comment, TrainingExample, utcnow
from ..queue import HARD_LIMIT_MARGIN
from . import akismet_check
from .store import retrain_due, train_from_examples

log = logging.getLogger(__name__)
TEXT_COLUMN = "CONTENT"
LABEL_COLUMNS = ("label", "CLASS")
# What a moderator's action teaches the model: not spam, or spam.
LABELS = {"approve": False, "not-spam": False, "spam": True}
RETRAIN_LEASE = "retrain"


class ExamplesError(ValueError):
    """A CSV of examples cannot be used; the message says why."""


def decision_label(comment):
    """True (spam) or False (not spam) from the latest moderator decision in force; None when it teaches nothing.

    Approve and not-spam say "not spam", spam says "spam"; reject (off-topic, rude), unapprove and trash are
    no spam label. An undone decision no longer counts (the one before it does again), nor does an edit.
    """
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.comment_id == comment.id, AuditEvent.moderator_id.is_not(None),
                                    AuditEvent.undone_at.is_(None), AuditEvent.action.is_distinct_from("undo"),
                                    AuditEvent.action.is_distinct_from("edit"))
        .order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    if event is None or event.to_state != comment.state:
        return None
    if event.action not in (None, "restore"):
        return LABELS.get(event.action)
    return {"approved": False, "held": False, "spam": True}.get(event.to_state)


def record_example(comment):
    """The comment's latest decision as a training example, replacing an earlier one; in the decision's own
    transaction, so that an example is never lost with a follow-up task. Does not commit."""
    label = decision_label(comment)
    existing = db.session.scalar(sa.select(TrainingExample).where(TrainingExample.comment_id == comment.id))
    if existing is not None and label is not None and existing.is_spam == label:
        return
    if existing is not None:
        db.session.delete(existing)
        db.session.flush()
    if label is not None:
        db.session.add(TrainingExample(comment_id=comment.id, source="moderator", text=comment.body,
                                       author=comment.author_name, is_spam=label,
                                       weight=current_app.config["MODERATION_DECISION_WEIGHT"]))
        db.session.flush()


def record_examples(comments, label):
    """What one decision on many comments teaches, set-wise: each comment's example replaced by `label`
    (True spam, False not spam), or removed when the decision teaches nothing (None). Does not commit."""
    ids = [comment.id for comment in comments]
    db.session.execute(sa.delete(TrainingExample).where(TrainingExample.comment_id.in_(ids)))
    if label is not None and comments:
        weight, now = current_app.config["MODERATION_DECISION_WEIGHT"], utcnow()
        db.session.execute(sa.insert(TrainingExample), [
            {"comment_id": c.id, "source": "moderator", "text": c.body, "author": c.author_name, "is_spam": label,
             "weight": weight, "created_at": now, "updated_at": now} for c in comments])


def relabel(comment_ids):
    """Each comment's example as its latest decision in force says, after decisions were taken back (undo).

    Set-wise: examples removed in one statement; only comments with an earlier decision still in force are
    looked at one by one (few: most comments had one decision). Does not commit.
    """
    db.session.execute(sa.delete(TrainingExample).where(TrainingExample.comment_id.in_(comment_ids)))
    earlier = db.session.scalars(sa.select(AuditEvent.comment_id).distinct().where(
        AuditEvent.comment_id.in_(comment_ids), AuditEvent.moderator_id.is_not(None), AuditEvent.undone_at.is_(None),
        AuditEvent.action.is_distinct_from("undo"), AuditEvent.action.is_distinct_from("edit"))).all()
    for comment in db.session.scalars(sa.select(Comment).where(Comment.id.in_(earlier))):
        record_example(comment)


def learn_from_decision(comment_id):
    """The follow-up of a decision (sent MODERATION_RETRAIN_DELAY seconds after it): retrain, once per burst.

    Only the task of the newest decision retrains; an older one finds a newer decision and leaves the work to
    that one's task, which trains on every example. So a moderator clearing twenty comments, or a bulk
    action on twenty, gives one new version, not twenty.
    """
    mine = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)).where(
        AuditEvent.comment_id == comment_id, AuditEvent.moderator_id.is_not(None)))
    if mine is None:
        return None
    newer = db.session.scalar(sa.select(sa.exists().where(AuditEvent.moderator_id.is_not(None), AuditEvent.id > mine)))
    if newer:
        log.debug("a newer decision than the one on comment %r will retrain", comment_id)
        return None
    return retrain_if_due()


def retrain_lease_seconds():
    """How long a retraining holds its lease: the task's hard time limit, after which its process is gone."""
    return current_app.config["MODERATION_TRAIN_TIME_LIMIT"] + HARD_LIMIT_MARGIN


def retrain_if_due(source="decisions", force=False):
    """A new model version from every example, unless the newest one already has them all. Commits.

    One retraining at a time across every machine (the lease RETRAIN_LEASE): two at once would each store a full
    model, the second no better than the first. Raises leases.Busy while another runs; what it must not miss is
    then the caller's to retry (the task waits and tries again; the next retraining reads every example).
    """
    if not force and not retrain_due():
        return None
    with leases.held(RETRAIN_LEASE, retrain_lease_seconds()):
        if not force and not retrain_due():  # the retraining that held it a moment ago may have read them all
            return None
        started = time.perf_counter()
        version = train_from_examples(source, force=force)
        db.session.commit()
    if version is not None:
        took = time.perf_counter() - started
        metrics.retrain_took(took)
        log.info("spam model version %r trained on %r examples in %.1f s", version.id, version.examples, took)
    return version


def report_decision(comment_id):
    """Tell Akismet where a moderator disagreed with it; once per decision."""
    comment = db.session.get(Comment, comment_id, populate_existing=True)
    if comment is None or not akismet_check.enabled() or not comment.akismet_payload:
        return None
    label = decision_label(comment)
    if label is None or comment.akismet_payload.get("reported") == label:
        return None
    reported = akismet_check.report(comment, label)
    comment.akismet_payload = {**comment.akismet_payload, "reported": label}
    db.session.commit()
    return reported


def read_examples(path, text_column=TEXT_COLUMN, label_column=None):
    """(texts, labels, authors) from a labelled CSV: a text column and a 1/0 label column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ExamplesError(f"cannot read {path}: {error}") from None
    columns = set(rows[0]) if rows else set()
    label_column = label_column or next((c for c in LABEL_COLUMNS if c in columns), None)
    if text_column not in columns or label_column not in columns:
        raise ExamplesError(f"{path} needs a {text_column!r} column and a label column ({' or '.join(LABEL_COLUMNS)}); "
                            f"it has {', '.join(sorted(columns)) or 'none'}")
    try:
        labels = [int(row[label_column]) for row in rows]
    except ValueError:
        raise ExamplesError(f"the {label_column!r} column must hold 1 (spam) or 0 (not spam)") from None
    if set(labels) - {0, 1}:
        raise ExamplesError(f"the {label_column!r} column must hold 1 (spam) or 0 (not spam)")
    return [row[text_column] for row in rows], labels, [row.get("AUTHOR", "") for row in rows]


def import_examples(source, texts, labels, authors):
    """Store examples from a CSV, replacing those an earlier import of the same source stored (flush only)."""
    db.session.execute(sa.delete(TrainingExample).where(TrainingExample.source == source))
    db.session.add_all(TrainingExample(source=source, text=t, author=a or "", is_spam=bool(y), weight=1.0)
                       for t, y, a in zip(texts, labels, authors))
    db.session.flush()
