"""The checker's side of moderation: apply a comment's verdict exactly once, and sweep stuck ones."""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..audit import record
from ..extensions import db
from ..models import Comment, utcnow
from ..queue import send_check_comment
from .checks import run_checks

log = logging.getLogger(__name__)
CHECKER = "spam check"


def verdict_state(findings, trusted):
    """spam if any check says so; otherwise held, unless MODERATION_AUTO_APPROVE lets a clean one through."""
    if any(f.verdict == "spam" for f in findings):
        return "spam"
    if findings:
        return "held"
    auto = current_app.config["MODERATION_AUTO_APPROVE"]
    if auto == "clean" or (auto == "trusted" and trusted):
        return "approved"
    return "held"


def is_trusted(comment):
    """WordPress's rule: an author who already has an approved comment."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(Comment.author_email == comment.author_email, Comment.state == "approved")
    ) > 0


def check_comment(comment_id):
    """Run the checks on a pending comment; a comment already past pending is left alone (redelivery)."""
    comment = db.session.get(Comment, comment_id, populate_existing=True)
    if comment is None or comment.state != "pending":
        return None
    findings = run_checks(comment, current_app.config)
    to_state = verdict_state(findings, is_trusted(comment))
    reasons = [f.reason for f in findings]
    if to_state == "approved":
        reasons = ["no check found a problem; auto-approved by MODERATION_AUTO_APPROVE"]
    score = max((f.score for f in findings), default=0.0)
    return _settle(comment, to_state, reasons, score)


def hold_unchecked(comment_id, why):
    """When checking keeps failing, a person decides: held with the reason, never lost or stuck."""
    comment = db.session.get(Comment, comment_id)
    if comment is None or comment.state != "pending":
        return None
    return _settle(comment, "held", [f"spam check failed: {why}"], None)


def _settle(comment, to_state, reasons, score):
    now = utcnow()
    changed = db.session.execute(
        sa.update(Comment)
        .where(Comment.id == comment.id, Comment.state == "pending")
        .values(state=to_state, reasons=reasons, spam_score=score, checked_at=now,
                decided_at=now if to_state == "approved" else None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if changed != 1:
        db.session.rollback()
        return None
    record(comment, "pending", to_state, actor=CHECKER, reason="; ".join(reasons) or "no problem found")
    db.session.commit()
    log.info("comment %r checked: %r", comment.id, to_state)
    return to_state


def sweep_pending():
    """Re-send checks for comments pending too long; after the last attempt, hold them for a person."""
    settings = current_app.config
    cutoff = utcnow() - timedelta(seconds=settings["MODERATION_SWEEP_AFTER"])
    stale = db.session.scalars(
        sa.select(Comment).where(
            Comment.state == "pending", sa.func.coalesce(Comment.check_sent_at, Comment.created_at) < cutoff
        ).order_by(Comment.id).limit(500)
    ).all()
    resent = []
    for comment in stale:
        if comment.check_attempts >= settings["MODERATION_CHECK_ATTEMPTS"]:
            hold_unchecked(comment.id, f"no verdict after {comment.check_attempts} attempts")
            continue
        comment.check_attempts += 1
        comment.check_sent_at = utcnow()
        db.session.commit()
        if send_check_comment(comment.id):
            resent.append(comment.id)
    return resent
