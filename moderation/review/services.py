"""What a moderator can do: sign in and out, and approve, reject, mark as spam or not spam, one or many."""
import functools
import hashlib
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload, undefer, undefer_group
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..audit import record
from ..cleaning import is_plain
from ..comments.services import THREAD_KEY_MAX
from ..extensions import db
from ..models import STATES, AuditEvent, Comment, Moderator, ModeratorSession, Thread, UTCDateTime, utcnow
from ..privacy.addresses import normal_ip, truncated_ip
from ..privacy.crypto import email_index, ip_index
from ..queue import decision_followups, send_announce, send_followups
from ..spam import learning
from ..spam import settings as spam_settings

ACTIONS = {
    # action: (new state, states it may come from)
    "approve": ("approved", {"pending", "held", "rejected", "spam"}),
    "reject": ("rejected", {"pending", "held", "approved", "spam"}),
    "spam": ("spam", {"pending", "held", "approved", "rejected"}),
    "not-spam": ("held", {"spam"}),
    "unapprove": ("held", {"approved"}),
    "trash": ("trash", {"pending", "held", "approved", "rejected", "spam"}),
}
# Restoring from the trash goes back to the state before it (see `restore`), so it has no fixed target here.
RESTORABLE = {"pending", "held", "approved", "rejected", "spam"}
ACTIONS_WITH_RESTORE = {**ACTIONS, "restore": (None, {"trash"})}
DELETABLE = ("spam", "trash")
UNDOABLE = {*ACTIONS, "restore", "edit", "reply"}
# Undoing a staff reply takes it off the page, into the trash (from where it can be restored or deleted).
UNDONE_REPLY_STATE = "trash"
# What the audit page can filter on: the moderators' actions and the checker's verdicts.
AUDITED_ACTIONS = (*ACTIONS, "restore", "edit", "reply", "delete", "undo", "check")
UNDO_WINDOW = timedelta(minutes=10)
NOTE_MAX = 2000
# The queue's tabs, in the order a moderator works through them.
QUEUE_STATES = ("held", "pending", "spam", "approved", "rejected", "trash")
PAST_TENSE = {"approve": "approved", "reject": "rejected", "spam": "marked as spam",
              "not-spam": "returned to the queue as not spam", "unapprove": "unapproved (back in the queue)",
              "trash": "moved to the trash", "restore": "restored from the trash"}

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")


class DecisionRefused(Exception):
    """The action does not apply to the comment in its present state."""


class PasswordRefused(Exception):
    """The current password given was not the moderator's."""


def _check_password(password):
    if len(password) < 8:
        raise ValueError("A password needs at least 8 characters.")
    if len(password) > 1024:
        raise ValueError("A password can be at most 1,024 characters.")


def create_moderator(username, password, is_admin=False):
    _check_password(password)
    if find_moderator(username):
        raise ValueError(f"A moderator named {username!r} already exists.")
    moderator = Moderator(username=username, password_hash=_hasher.hash(password), is_admin=is_admin)
    db.session.add(moderator)
    db.session.commit()
    return moderator


def find_moderator(username):
    return db.session.scalar(sa.select(Moderator).where(Moderator.username == username))


def authenticate(username, password):
    """The moderator if the password is right, else None; rehashes when the scheme's cost was raised."""
    moderator = find_moderator(username)
    try:
        _hasher.verify(moderator.password_hash if moderator else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if moderator is None or not moderator.active:
        return None
    if _hasher.check_needs_rehash(moderator.password_hash):
        moderator.password_hash = _hasher.hash(password)
        db.session.commit()
    return moderator


def open_session(moderator):
    """A new sign-in for this browser; the token goes into its session cookie, only its hash into the database."""
    token = secrets.token_urlsafe(32)
    db.session.add(ModeratorSession(moderator_id=moderator.id, token_hash=_token_hash(token)))
    moderator.last_sign_in_at = utcnow()
    db.session.commit()
    moderator.session_token = token
    return token


def session_moderator(token):
    """The moderator a session token belongs to, while the sign-in is open and not older than allowed."""
    if not isinstance(token, str) or not token:
        return None
    found = db.session.scalar(sa.select(ModeratorSession).where(ModeratorSession.token_hash == _token_hash(token)))
    oldest = utcnow() - timedelta(days=current_app.config["MODERATION_SESSION_DAYS"])
    if found is None or found.created_at < oldest or not found.moderator.active:
        return None
    found.moderator.session_token = token
    return found.moderator


def close_session(token):
    """Sign-out: the cookie stops working everywhere, including any copy of it."""
    db.session.execute(sa.delete(ModeratorSession).where(ModeratorSession.token_hash == _token_hash(token or "")))
    db.session.commit()


def change_password(moderator, new_password):
    """A new password closes every sign-in of that moderator (a stolen cookie included)."""
    _check_password(new_password)
    moderator.password_hash = _hasher.hash(new_password)
    db.session.execute(sa.delete(ModeratorSession).where(ModeratorSession.moderator_id == moderator.id))
    db.session.commit()


def change_own_password(moderator, current_password, new_password):
    """A moderator's own change: the current password first; this browser gets a new sign-in, the others end."""
    if authenticate(moderator.username, current_password) is None:
        raise PasswordRefused("That is not your current password.")
    change_password(moderator, new_password)
    return open_session(moderator)


def _token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _fresh(comment_id):
    """The comment as the database has it now (personal columns too), or DecisionRefused if it is gone."""
    comment = db.session.get(Comment, comment_id, populate_existing=True, options=[undefer_group("personal")])
    if comment is None:
        raise DecisionRefused("That comment no longer exists.")
    return comment


def _after_commit(followups):
    """What a committed decision owes: its follow-ups, and telling webhooks and subscribers (announcements.py)."""
    send_followups(followups)
    send_announce()


def decide(comment_id, action, moderator, reason=None, note=None):
    """One moderator's decision on one comment, with its audit event, in one commit; returns the comment.

    Its audit event opens an undoable batch of its own (`comment.batch`).
    """
    comment = _fresh(comment_id)
    batch = new_batch()
    _apply(comment, action, moderator, reason, batch=batch, note=note)
    followups = decision_followups([comment.id])
    db.session.commit()
    _after_commit(followups)
    comment.batch = batch
    return comment


def decide_many(comment_ids, action, moderator, note=None):
    """The same decision on many comments in one transaction; those it does not apply to are skipped.

    Set-wise, a few statements per 500 comments rather than a few per comment, with the same guard as one
    decision: a comment changes only from the state it was read in. Returns (done ids, skipped ids, batch):
    undoing the batch takes back the whole decision.
    """
    batch = new_batch()
    wanted = sorted(set(comment_ids))
    done = []
    for chunk in _chunks(wanted):
        done += _apply_many(chunk, action, moderator, batch, _note(note))
    followups = decision_followups(done)  # in the order the audit events were written
    db.session.commit()
    _after_commit(followups)
    return sorted(done), sorted(set(wanted) - set(done)), batch


def _apply_many(ids, action, moderator, batch, note):
    to_state, from_states = ACTIONS[action]
    read = db.session.execute(sa.select(Comment.id, Comment.state, Comment.author_ip, Comment.body, Comment.author_name)
                              .where(Comment.id.in_(ids), Comment.state.in_(from_states))).all()
    now, won = utcnow(), []
    for from_state in {row.state for row in read}:
        won += [(row_id, from_state) for row_id in db.session.scalars(
            sa.update(Comment).where(Comment.id.in_([r.id for r in read if r.state == from_state]), Comment.state == from_state)
            .values(state=to_state, decided_at=now).returning(Comment.id)
            .execution_options(synchronize_session=False)).all()]
    if not won:
        return []
    rows = {row.id: row for row in read}
    truncated = [{"id": i, "author_ip": truncated_ip(rows[i].author_ip)} for i, _ in won
                 if rows[i].author_ip and truncated_ip(rows[i].author_ip) != rows[i].author_ip]
    if truncated:
        db.session.execute(sa.update(Comment), truncated, execution_options={"synchronize_session": False})
    db.session.execute(sa.insert(AuditEvent), [
        {"comment_id": i, "moderator_id": moderator.id, "actor": moderator.username, "from_state": from_state,
         "to_state": to_state, "reason": action, "action": action, "batch": batch, "note": note, "created_at": now}
        for i, from_state in won])
    learning.record_examples([rows[i] for i, _ in won], learning.LABELS.get(action))
    db.session.expire_all()
    return [i for i, _ in won]


def new_batch():
    return secrets.token_hex(16)


def _chunks(ids, size=500):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _apply(comment, action, moderator, reason, *, batch=None, note=None, to_state=None):
    to_state = to_state or ACTIONS[action][0]
    from_state = comment.state
    if from_state not in ACTIONS_WITH_RESTORE[action][1]:
        raise DecisionRefused(f"Comment {comment.id} is {from_state}; it cannot be {PAST_TENSE[action]}.")
    # Guarded on the state we read, so that two moderators (or a moderator and the checker) never both win.
    changed = db.session.execute(
        sa.update(Comment)
        .where(Comment.id == comment.id, Comment.state == from_state)
        .values(state=to_state, decided_at=utcnow(), author_ip=truncated_ip(comment.author_ip))
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if changed != 1:
        raise DecisionRefused(f"Comment {comment.id} was changed by someone else a moment ago.")
    event = record(comment, from_state, to_state, actor="moderator", moderator=moderator, reason=reason or action)
    event.action, event.batch, event.note = action, batch, _note(note)
    db.session.flush()
    learning.record_example(comment)


def _note(note):
    note = (note or "").strip()
    return note[:NOTE_MAX] or None


def restore(comment_id, moderator):
    """Take a comment out of the trash, back to the state it was trashed from."""
    comment = _fresh(comment_id)
    if comment.state != "trash":
        raise DecisionRefused(f"Comment {comment.id} is {comment.state}, not in the trash.")
    batch = new_batch()
    _apply(comment, "restore", moderator, None, batch=batch, to_state=_state_before_trash(comment.id))
    followups = decision_followups([comment.id])
    db.session.commit()
    _after_commit(followups)
    comment.batch = batch
    return comment


def _state_before_trash(comment_id):
    before = db.session.scalar(
        sa.select(AuditEvent.from_state).where(AuditEvent.comment_id == comment_id, AuditEvent.to_state == "trash")
        .order_by(AuditEvent.id.desc()).limit(1))
    return before if before in RESTORABLE else "held"


def undo(batch, moderator):
    """Take back a decision of this moderator's, made less than UNDO_WINDOW ago: each comment the decision changed
    goes back to the state it had, unless someone changed it since. Returns (restored ids, skipped ids)."""
    window_start = utcnow() - UNDO_WINDOW
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.batch == batch, AuditEvent.moderator_id == moderator.id,
                                    AuditEvent.undone_at.is_(None)).order_by(AuditEvent.id.desc())).all()
    if not events:
        raise DecisionRefused("There is nothing of yours to undo there: it was undone already, or it was not your decision.")
    if events[-1].created_at < window_start:
        raise DecisionRefused(f"That decision is more than {UNDO_WINDOW.seconds // 60} minutes old; decide again instead.")
    if any(e.action not in UNDOABLE for e in events):
        raise DecisionRefused("A comment deleted for good cannot be brought back.")
    restored, skipped, undo_batch = [], [], new_batch()
    if any(e.action in ("edit", "reply") for e in events):
        for event in events:
            comment = db.session.get(Comment, event.comment_id, populate_existing=True)
            if comment is None or not _revert(comment, event, moderator, undo_batch):
                skipped.append(event.comment_id)
                continue
            restored.append(comment.id)
    else:
        restored = _revert_many(events, moderator, undo_batch)
        skipped = sorted({e.comment_id for e in events} - set(restored))
    followups = decision_followups(restored)
    db.session.commit()
    _after_commit(followups)
    return restored, skipped


def _revert_many(events, moderator, undo_batch):
    """A batch of changes of state taken back set-wise, each comment only from the state the decision left it in."""
    now, back = utcnow(), []
    for to_state, from_state in {(e.to_state, e.from_state) for e in events}:
        ids = [e.comment_id for e in events if (e.to_state, e.from_state) == (to_state, from_state)]
        for chunk in _chunks(ids):
            back += [(i, to_state, from_state) for i in db.session.scalars(
                sa.update(Comment).where(Comment.id.in_(chunk), Comment.state == to_state).values(state=from_state)
                .returning(Comment.id).execution_options(synchronize_session=False)).all()]
    if not back:
        return []
    reverted = {i for i, _, _ in back}
    for chunk in _chunks([e.id for e in events if e.comment_id in reverted]):
        db.session.execute(sa.update(AuditEvent).where(AuditEvent.id.in_(chunk)).values(undone_at=now)
                           .execution_options(synchronize_session=False))
    db.session.execute(sa.insert(AuditEvent), [
        {"comment_id": i, "moderator_id": moderator.id, "actor": moderator.username, "from_state": to_state,
         "to_state": from_state, "reason": f"undo {_action_of(events, i)}", "action": "undo", "batch": undo_batch,
         "created_at": now} for i, to_state, from_state in back])
    db.session.expire_all()
    for chunk in _chunks(sorted(reverted)):
        learning.relabel(chunk)
    return [i for i, _, _ in back]


def _action_of(events, comment_id):
    return next(e.action for e in events if e.comment_id == comment_id)


def _revert(comment, event, moderator, undo_batch):
    back_to = {"edit": event.to_state, "reply": UNDONE_REPLY_STATE}.get(event.action, event.from_state)
    if event.action == "edit":
        if comment.body != (event.detail or {}).get("new_body", comment.body):
            return False
        _restore_fields(comment, event)
    elif db.session.execute(
            sa.update(Comment).where(Comment.id == comment.id, Comment.state == event.to_state)
            .values(state=back_to).execution_options(synchronize_session="fetch")).rowcount != 1:
        return False
    event.undone_at = utcnow()
    back = record(comment, event.to_state, back_to, actor="moderator", moderator=moderator,
                  reason=f"undo {event.action}")
    back.action, back.batch = "undo", undo_batch
    db.session.flush()
    learning.record_example(comment)
    return True


def edit(comment_id, moderator, *, body, author_name, author_url, then_approve=False, note=None):
    """A moderator's correction of a comment's text, name or website; the original is kept in its history.

    With `then_approve`, the comment is approved in the same commit and the same undoable batch.
    """
    comment = _fresh(comment_id)
    if comment.state == "trash":
        raise DecisionRefused(f"Comment {comment.id} is in the trash; restore it before editing it.")
    before = {"body": comment.body, "author_name": comment.author_name, "author_url": comment.author_url}
    after = {"body": body, "author_name": author_name, "author_url": author_url or None}
    batch = new_batch()
    if before != after:
        for name, value in after.items():
            setattr(comment, name, value)
        comment.edited_at = utcnow()
        event = record(comment, comment.state, comment.state, actor="moderator", moderator=moderator, reason="edited")
        event.action, event.batch, event.note = "edit", batch, _note(note)
        event.detail = {**before, "new_body": body}
        db.session.flush()
    elif not then_approve:
        raise DecisionRefused("Nothing was changed.")
    if then_approve:
        try:
            _apply(comment, "approve", moderator, None, batch=batch, note=note)
        except DecisionRefused:
            db.session.rollback()  # the edit goes with the refused approval: nothing half-done
            raise
    followups = decision_followups([comment.id]) if then_approve else []
    db.session.commit()
    _after_commit(followups)
    comment.batch = batch
    return comment


def _restore_fields(comment, event):
    """The text, name and website an edit replaced; still "edited" if an earlier edit stands."""
    detail = event.detail
    comment.body, comment.author_name, comment.author_url = detail["body"], detail["author_name"], detail["author_url"]
    comment.edited_at = db.session.scalar(sa.select(sa.func.max(AuditEvent.created_at)).where(
        AuditEvent.comment_id == comment.id, AuditEvent.action == "edit", AuditEvent.undone_at.is_(None),
        AuditEvent.id != event.id))


def reply(parent_id, moderator, body, approve_parent=False):
    """The moderator's own reply, published at once as staff and never spam-checked.

    With `approve_parent`, a comment still awaiting a decision is approved in the same commit.
    """
    parent = _fresh(parent_id)
    if parent.state in ("spam", "trash", "rejected"):
        raise DecisionRefused(f"Comment {parent.id} is {parent.state}; approve it before replying to it.")
    batch, approving = new_batch(), parent.state != "approved"
    if approving and not approve_parent:
        raise DecisionRefused(f"Comment {parent.id} is not approved yet: a reply to it would hang in the air. "
                              "Approve it with the reply.")
    if approving:
        _apply(parent, "approve", moderator, None, batch=batch)
    now = utcnow()
    answer = Comment(thread_id=parent.thread_id, parent_id=parent.id, author_name=moderator.username, body=body,
                     state="approved", staff_id=moderator.id, reasons=[], created_at=now, checked_at=now, decided_at=now)
    db.session.add(answer)
    db.session.flush()
    event = record(answer, None, "approved", actor="moderator", moderator=moderator, reason="moderator's reply")
    event.action, event.batch = "reply", batch
    followups = decision_followups([parent.id]) if approving else []
    db.session.commit()
    _after_commit(followups)
    answer.batch = batch
    return answer


def delete_for_good(comment_ids, moderator):
    """Delete comments in the spam or the trash; their history stays, their replies move up a level.

    Returns (deleted ids, skipped ids). Cannot be undone.
    """
    ids = sorted(set(comment_ids))
    deleted = []
    for chunk in _chunks(ids):
        rows = db.session.execute(sa.select(Comment.id, Comment.state).where(
            Comment.id.in_(chunk), Comment.state.in_(DELETABLE)).with_for_update()).all()
        deleted += _delete_rows(rows, moderator, new_batch())
    db.session.commit()
    return deleted, sorted(set(ids) - set(deleted))


def empty(state, moderator):
    """Delete everything in the spam or the trash ("Empty spam"); returns how many were deleted."""
    return len(_delete_where(Comment.state == state, moderator))


def author_comments(comment_id, by):
    """The comments from the same author (same email) or the same address (same IP) as this one, as a WHERE clause."""
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        raise DecisionRefused("That comment no longer exists.")
    column, value = (Comment.email_hash, comment.email_hash) if by == "author" else (Comment.ip_hash, comment.ip_hash)
    if value is None:
        raise DecisionRefused(f"Comment {comment_id} has no {'email' if by == 'author' else 'IP address'} to match others by.")
    return column == value


def count_in(state):
    """How many comments are in a state: shown before the spam or the trash is emptied."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Comment).where(Comment.state == state))


def count_for_action(where, action):
    """How many comments `where` selects that `action` applies to: shown before a whole-author action runs."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Comment).where(
        where, Comment.state.in_(ACTIONS[action][1])))


def decide_everything(comment_id, by, action, moderator, note=None):
    """One decision on every comment from this comment's author (by="author") or address (by="address")."""
    where = author_comments(comment_id, by)
    ids = db.session.scalars(sa.select(Comment.id).where(where, Comment.state.in_(ACTIONS[action][1]))).all()
    return decide_many(ids, action, moderator, note=note)


def _delete_where(where, moderator):
    deleted = []
    while True:
        # Locked until the commit (PostgreSQL; SQLite writes one at a time): a comment rescued from the spam a
        # moment ago is not deleted as spam.
        rows = db.session.execute(sa.select(Comment.id, Comment.state).where(where).order_by(Comment.id).limit(500)
                                  .with_for_update()).all()
        if not rows:
            break
        deleted += _delete_rows(rows, moderator, new_batch())
        db.session.commit()
    return deleted


def _delete_rows(rows, moderator, batch):
    """Delete these (id, state) rows: an audit event each, and each reply re-attached to the nearest kept ancestor."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    parents = dict(db.session.execute(sa.select(Comment.id, Comment.parent_id).where(Comment.id.in_(ids))).all())
    for child_id, parent_id in db.session.execute(
            sa.select(Comment.id, Comment.parent_id).where(Comment.parent_id.in_(ids), Comment.id.not_in(ids))).all():
        while parent_id in parents:
            parent_id = parents[parent_id]
        db.session.execute(sa.update(Comment).where(Comment.id == child_id).values(parent_id=parent_id))
    db.session.execute(sa.insert(AuditEvent), [
        {"comment_id": row.id, "moderator_id": moderator.id if moderator else None,
         "actor": moderator.username if moderator else "retention", "from_state": row.state, "to_state": "deleted",
         "reason": "deleted for good" if moderator else f"{row.state} older than its retention period",
         "action": "delete", "batch": batch, "created_at": utcnow()} for row in rows])
    db.session.execute(sa.delete(Comment).where(Comment.id.in_(ids)))
    return ids


def empty_expired(retention_days=None):
    """Spam and trash kept longer than their retention period, deleted for good (by the scheduled purge).

    `retention_days` maps a state ("spam", "trash") to days, by default the discussion settings'; 0 or None keeps
    that state forever.
    """
    if retention_days is None:
        settings = spam_settings.current()
        retention_days = {"spam": settings["spam_retention_days"], "trash": settings["trash_retention_days"]}
    deleted = 0
    for state, days in retention_days.items():
        if days:
            cutoff = utcnow() - timedelta(days=days)
            deleted += len(_delete_where(sa.and_(Comment.state == state, sa.func.coalesce(
                Comment.decided_at, Comment.checked_at, Comment.created_at) < cutoff), None))
    return deleted


@dataclass(frozen=True)
class Search:
    """What a moderator looks for: text (or an exact email or IP), and filters; empty means everything."""

    q: str = ""
    score_min: float | None = None
    score_max: float | None = None
    reason: str = ""
    older_than_days: int | None = None
    newer_than_days: int | None = None
    # Blind indexes of an email or an IP searched for: the address itself never travels in a URL (nor in a log).
    email_hash: str = ""
    ip_hash: str = ""

    def __bool__(self):
        return bool(self.q or self.reason or self.email_hash or self.ip_hash or self.older_than_days or self.newer_than_days
                    or self.score_min is not None or self.score_max is not None)


def queue_page(state="held", thread_key=None, after_id=0, limit=50, search=Search(), where=None):
    """One page of comments in a state ("all" for every state), oldest first, narrowed by `search`.

    Keyset-paged on id, so that a page is an index scan however deep it is.
    """
    query = (sa.select(Comment).options(selectinload(Comment.thread), undefer(Comment.author_email), undefer(Comment.author_ip))
             .where(Comment.id > after_id))
    if state != "all":
        query = query.where(Comment.state == state)
    if thread_key:
        if not is_plain(thread_key, THREAD_KEY_MAX):
            return [], False
        query = query.join(Thread).where(Thread.key == thread_key)
    query = query.where(*_search_conditions(search))
    if where is not None:
        query = query.where(where)
    rows = db.session.scalars(query.order_by(Comment.id).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def _search_conditions(search):
    conditions = []
    if search.q:
        conditions.append(_matching(search.q))
    if search.email_hash:
        conditions.append(Comment.email_hash == search.email_hash)
    if search.ip_hash:
        conditions.append(Comment.ip_hash == search.ip_hash)
    # Each word of the reason on its own: "link limit" finds "3 links, the limit is 2".
    conditions += [_in_reasons(word) for word in search.reason.split()]
    if search.score_min is not None:
        conditions.append(Comment.spam_score >= search.score_min)
    if search.score_max is not None:
        conditions.append(Comment.spam_score <= search.score_max)
    if search.older_than_days:
        conditions.append(Comment.created_at < utcnow() - timedelta(days=search.older_than_days))
    if search.newer_than_days:
        conditions.append(Comment.created_at >= utcnow() - timedelta(days=search.newer_than_days))
    return conditions


SPACE = sa.literal_column("' '")
SEARCHED = Comment.body.op("||")(SPACE).op("||")(Comment.author_name).op("||")(SPACE).op("||")(
    sa.func.coalesce(Comment.author_url, sa.literal_column("''")))


def _in_reasons(word):
    """A word in the stored reasons: as typed, or as JSON writes it ("café" is stored as "caf\\u00e9")."""
    stored = sa.cast(Comment.reasons, sa.Text)
    forms = dict.fromkeys((word, json.dumps(word)[1:-1]))
    return sa.or_(*(stored.ilike(f"%{_like_escaped(form)}%", escape="\\") for form in forms))


def _matching(q):
    """An email or an IP address is looked up exactly, through its blind index; anything else is text in the
    comment, the author's name or website."""
    q = q.strip()
    if "@" in q and " " not in q:
        return Comment.email_hash == email_index(q)
    ip = normal_ip(q)
    if ip and _is_ip(q):
        return Comment.ip_hash == ip_index(ip)
    pattern = f"%{_like_escaped(q)}%"
    if db.engine.dialect.name == "postgresql":
        # The expression of the trigram index (migration 0005), word for word, so that PostgreSQL can use it.
        return SEARCHED.ilike(pattern, escape="\\")
    # SQLite's LIKE already ignores case (ASCII, as its lower() does): ilike would lower every value first, for nothing.
    return sa.or_(*(column.like(pattern, escape="\\") for column in (Comment.body, Comment.author_name, Comment.author_url)))


def hashed_query(q):
    """A typed search as what may go in a URL: an email or an IP as its blind index, other text as it is."""
    q = (q or "").strip()
    if "@" in q and " " not in q:
        return {"author": email_index(q)}
    if _is_ip(q):
        return {"address": ip_index(q)}
    return {"q": q} if q else {}


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _like_escaped(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def history(comment_id):
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.comment_id == comment_id).order_by(AuditEvent.created_at, AuditEvent.id)
    ).all()


# Tab counts stop at this many ("10,000+"), so that a busy queue's counts cost an index range, not a table scan.
COUNT_CAP = 10_000
COUNTS_FRESH_SECONDS = 5.0
_counts_cache = {}


def counts_by_state():
    """Comments per state for the tabs, each counted up to COUNT_CAP + 1, re-counted at most every few seconds."""
    key = str(db.engine.url)
    cached = _counts_cache.get(key)
    if cached and time.monotonic() - cached[0] < COUNTS_FRESH_SECONDS:
        return cached[1]
    counts = {}
    for state in QUEUE_STATES:
        capped = sa.select(Comment.id).where(Comment.state == state).limit(COUNT_CAP + 1).subquery()
        counts[state] = db.session.scalar(sa.select(sa.func.count()).select_from(capped))
    _counts_cache[key] = (time.monotonic(), counts)
    return counts


def forget_counts():
    """Count afresh on the next page: after this process's own decision, its moderator sees the new numbers."""
    _counts_cache.clear()


# An author's comments per state stop being counted here ("1,000+"): a prolific author costs no more than this.
AUTHOR_COUNT_CAP = 100


def author_summaries(comments):
    """For each comment's author (by email) and address (by IP): their comments by state, and when first seen.

    {"email": {hash: {"approved": n, ..., "total": n, "first_seen": when}}, "ip": {hash: {...}}}. Each count
    is an index range of at most AUTHOR_COUNT_CAP + 1 entries, so a page costs the same whoever wrote on it.
    """
    summary = {}
    for kind, column in (("email", Comment.email_hash), ("ip", Comment.ip_hash)):
        hashes = sorted({getattr(c, column.key) for c in comments} - {None})
        found = summary.setdefault(kind, {value: {"total": 0} for value in hashes})
        for value, state, count in _capped_counts(column, hashes):
            found[value][state] = count
            found[value]["total"] += count
        if kind == "email":
            for value, first in _first_seen(hashes):
                found[value]["first_seen"] = first
    return summary


def _capped_counts(column, hashes):
    """(hash, state, count) for every pair with comments, each count an index range capped at AUTHOR_COUNT_CAP + 1."""
    pairs = [(value, state) for value in hashes for state in STATES if state != "pending"]
    if not pairs:
        return []
    values = {f"{kind}{n}": value for n, pair in enumerate(pairs) for kind, value in zip("vs", pair)}
    statement = _counts_statement(column.key, len(pairs), db.engine.dialect.name == "postgresql")
    return [row for row in db.session.execute(statement, values).all() if row.n]


def _first_seen(hashes):
    if not hashes:
        return []
    statement = _first_seen_statement(len(hashes), db.engine.dialect.name == "postgresql")
    return db.session.execute(statement, {f"v{n}": v for n, v in enumerate(hashes)}).all()


# Plain SQL, built once per size: a statement of a few hundred small SELECTs, which SQLAlchemy would take longer to
# build than the database takes to run. Only bound values go into them; the column name is one of ours.
@functools.lru_cache(maxsize=64)
def _counts_statement(column, size, lateral):
    """SQLite runs a UNION of small SELECTs fastest; PostgreSQL would spend longer planning it than running it,
    so there it is one VALUES list joined LATERAL to the same capped count, planned once."""
    assert column in ("email_hash", "ip_hash")
    capped = (f"SELECT count(*) FROM (SELECT 1 FROM comments WHERE {column} = {{value}} AND state = {{state}} "
              f"LIMIT {AUTHOR_COUNT_CAP + 1}) AS capped")
    if lateral:
        pairs = ", ".join(f"(:v{n}, :s{n})" for n in range(size))
        return sa.text(f"SELECT pairs.value, pairs.state, counted.n FROM (VALUES {pairs}) AS pairs (value, state) "
                       f"CROSS JOIN LATERAL ({capped.format(value='pairs.value', state='pairs.state')}) AS counted (n)")
    one = "SELECT :v{n} AS value, :s{n} AS state, (" + capped.format(value=":v{n}", state=":s{n}") + ") AS n"
    return sa.text(" UNION ALL ".join(one.format(n=n) for n in range(size)))


@functools.lru_cache(maxsize=64)
def _first_seen_statement(size, lateral):
    if lateral:
        values = ", ".join(f"(:v{n})" for n in range(size))
        statement = sa.text(f"SELECT hashes.value, (SELECT min(created_at) FROM comments WHERE email_hash = hashes.value) "
                            f"AS first FROM (VALUES {values}) AS hashes (value)")
    else:
        one = "SELECT :v{n} AS value, (SELECT min(created_at) FROM comments WHERE email_hash = :v{n}) AS first"
        statement = sa.text(" UNION ALL ".join(one.format(n=n) for n in range(size)))
    return statement.columns(sa.column("value"), sa.column("first", UTCDateTime))


def audit_page(moderator_name=None, action=None, since=None, until=None, before_id=None, limit=100):
    """The site-wide audit trail, newest first, filtered by moderator, action and date; keyset-paged on id."""
    query = sa.select(AuditEvent).options(selectinload(AuditEvent.moderator))
    if moderator_name:
        query = query.where(AuditEvent.actor == moderator_name)
    if action == "check":
        query = query.where(AuditEvent.moderator_id.is_(None), AuditEvent.action.is_(None))
    elif action:
        # Decisions recorded before the `action` column named the action in `reason`.
        query = query.where(sa.or_(AuditEvent.action == action, sa.and_(AuditEvent.action.is_(None),
                                                                          AuditEvent.reason == action)))
    if since:
        query = query.where(AuditEvent.created_at >= since)
    if until:
        query = query.where(AuditEvent.created_at < until)
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    rows = db.session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def add_note(event_id, moderator, note):
    """A moderator's "why" on a decision: their own, or anyone's for an administrator."""
    event = db.session.get(AuditEvent, event_id)
    if event is None:
        raise DecisionRefused("That event does not exist.")
    if event.moderator_id != moderator.id and not moderator.is_admin:
        raise DecisionRefused("Only the moderator who decided, or an administrator, can add a note to a decision.")
    event.note = _note(note)
    db.session.commit()
    return event


def waiting_count():
    """The "N waiting" badge: held comments, from the cached tab counts."""
    return counts_by_state()["held"]


def moderator_names():
    """The people (not the API tokens' identities) who can appear in the audit trail, for its filter."""
    return db.session.scalars(sa.select(Moderator.username).where(Moderator.username.not_like("token:%"))
                              .order_by(Moderator.username)).all()
