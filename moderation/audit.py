"""The audit trail: every change of a comment's state, written in the same transaction as the change."""
from .extensions import db
from .models import AuditEvent


def record(comment, from_state, to_state, *, actor, reason=None, moderator=None):
    """Add (not commit) one audit event; the caller's single commit makes change and record one."""
    event = AuditEvent(
        comment_id=comment.id,
        moderator_id=moderator.id if moderator else None,
        actor=moderator.username if moderator else actor,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
    )
    db.session.add(event)
    return event
