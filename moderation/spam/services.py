"""The checker's side of moderation: apply a comment's verdict exactly once, and sweep stuck ones."""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import undefer_group

from .. import metrics
from ..audit import record
from ..extensions import db
from ..models import Comment, utcnow
from ..privacy.addresses import truncated_ip
from ..queue import send_check_comment
from . import akismet_check, settings
from .checks import Finding, run_checks, trusted_entry
from .store import ModelUnavailable, current_model

log = logging.getLogger(__name__)
CHECKER = "spam check"


def verdict_state(findings, score, limits, trusted):
    """Spam if a rule says so or the score reaches the spam threshold; clean (held, or approved where the
    auto-approve policy allows: the console's, else MODERATION_AUTO_APPROVE) when nothing was found and the
    score is under the clean threshold."""
    if any(f.verdict == "spam" for f in findings) or score >= limits["spam_threshold"]:
        return "spam"
    if any(f.verdict == "hold" for f in findings) or score >= limits["clean_threshold"]:
        return "held"
    auto = limits["auto_approve"]
    if auto == "clean" or (auto == "trusted" and trusted):
        return "approved"
    return "held"


def decided_by(findings, to_state, score, limits, trusted):
    """The checker that gave the verdict, for the metrics: the one whose spam or hold finding it followed, else
    the one with the highest score over the clean threshold; for a comment nothing was found in, "policy" (held or
    approved by the site's auto-approve policy) or "trusted author"."""
    wanted = {"spam": "spam", "held": "hold"}.get(to_state)
    for finding in findings:
        if finding.verdict == wanted:
            return finding.checker
    scored = [finding for finding in findings if finding.verdict == "score"]
    if to_state != "approved" and scored and score >= limits["clean_threshold"]:
        return max(scored, key=lambda finding: finding.score).checker
    return "trusted author" if to_state == "approved" and trusted else "policy"


def model_finding(comment):
    """The model's score; a model that cannot be loaded holds the comment for a person, with the reason."""
    try:
        model = current_model()
    except ModelUnavailable as error:
        return Finding("hold", 0.0, f"model unavailable: {error}", checker="model")
    score = float(model.scores([comment.body], [comment.author_name])[0])
    reason = f"model: {score:.2f} spam"
    if score >= 0.5:
        reason += "; strongest signals: " + ", ".join(model.explain(comment.body, comment.author_name) or ["none"])
    return Finding("score", score, reason, checker="model")


def is_trusted(comment):
    """WordPress's rule, with proof: an approved comment by the same email from the same browser.

    A typed address alone proves nothing (anyone can type an approved author's email); the random
    key the author's browser keeps, in its session or its saved details, does.
    """
    if not (comment.email_hash and comment.reader_hash):
        return False
    return db.session.scalar(sa.select(sa.exists().where(
        Comment.email_hash == comment.email_hash, Comment.reader_hash == comment.reader_hash,
        Comment.state == "approved", Comment.id != comment.id,
    )))


def check_comment(comment_id):
    """Run the checks on a pending comment; a comment already past pending is left alone (redelivery)."""
    comment = db.session.get(Comment, comment_id, populate_existing=True, options=[undefer_group("personal")])
    if comment is None or comment.state != "pending":
        return None
    limits = settings.current()
    findings = run_checks(comment, limits)
    listed = trusted_entry(comment, limits)
    if listed and not any(f.firm for f in findings):
        # The administrator vouched for this author: neither the model nor Akismet is asked.
        score = max((f.score for f in findings if f.verdict != "hold"), default=0.0)
        return _settle(comment, "approved", [f.reason for f in findings] + [listed], score, "trusted list")
    findings.append(model_finding(comment))
    if akismet_check.enabled():
        finding, comment.akismet_payload = akismet_check.check(comment)
        findings.append(finding)
    # Only the "trusted" policy asks; the query is not worth making otherwise.
    trusted = limits["auto_approve"] == "trusted" and is_trusted(comment)
    score = max((f.score for f in findings if f.verdict != "hold"), default=0.0)
    to_state = verdict_state(findings, score, limits, trusted)
    reasons = [f.reason for f in findings]
    if to_state == "approved":
        reasons.append("auto-approved: " + ("a trusted author" if trusted else "no check found a problem"))
    return _settle(comment, to_state, reasons, score, decided_by(findings, to_state, score, limits, trusted))


def hold_unchecked(comment_id, why):
    """When checking keeps failing, a person decides: held with the reason, never lost or stuck."""
    comment = db.session.get(Comment, comment_id)
    if comment is None or comment.state != "pending":
        return None
    return _settle(comment, "held", [f"spam check failed: {why}"], None, "check failed")


def _settle(comment, to_state, reasons, score, checker):
    now = utcnow()
    decided = to_state == "approved"
    # A decided comment keeps only its network; one a moderator may still review keeps the whole address.
    ip = truncated_ip(comment.author_ip) if decided else comment.author_ip
    changed = db.session.execute(
        sa.update(Comment)
        # Still pending, and still the text that was checked: an author's edit meanwhile (Isso's client) is
        # checked again by its own task, and this verdict is not put on a text it never saw.
        .where(Comment.id == comment.id, Comment.state == "pending", Comment.body == comment.body)
        .values(state=to_state, reasons=reasons, spam_score=score, checked_at=now, author_ip=ip,
                decided_at=now if decided else None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if changed != 1:
        db.session.rollback()
        return None
    record(comment, "pending", to_state, actor=CHECKER, reason="; ".join(reasons) or "no problem found")
    db.session.commit()
    metrics.verdict(to_state, checker)
    log.info("comment %r checked: %r", comment.id, to_state,
             extra={"comment_id": comment.id, "state": to_state, "checker": checker})
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
