"""Two sessions deciding one comment at the same moment: exactly one wins, the other is told.

Each racer runs in its own thread with its own app context, so its own database connection. Both
read the comment first; a barrier at the UPDATE makes both reach their write having read the same
state, which is the interleaving a moderator clicking a second after a colleague produces.
"""
import threading

import pytest
import sqlalchemy as sa

from moderation.extensions import db
from moderation.models import AuditEvent, Comment
from moderation.review import services as review
from moderation.spam import services as checking
from tests import factories


class RaceAtTheUpdate:
    """Holds every racer at its UPDATE of the comments table until all of them have got there."""

    def __init__(self, engine, racers):
        self.engine, self.barrier, self.racing = engine, threading.Barrier(racers, timeout=20), threading.local()

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._hold)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._hold)

    def _hold(self, conn, cursor, statement, parameters, context, executemany):
        if getattr(self.racing, "armed", False) and _changes_state(statement):
            self.racing.armed = False
            self.barrier.wait()

    def run(self, app, *steps):
        """Run each step in its own thread and app context; returns what each returned or raised."""
        outcomes = [None] * len(steps)

        def racer(index, step):
            with app.app_context():
                self.racing.armed = True
                try:
                    outcomes[index] = step()
                except Exception as error:  # the loser's refusal is an outcome, not a failure of the test
                    outcomes[index] = error
                    db.session.rollback()
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=racer, args=(i, step)) for i, step in enumerate(steps)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads), "a racer never finished"
        return outcomes


def _changes_state(statement):
    words = statement.lstrip().lower()
    return words.startswith("update comments set") and "state=" in words.replace(" ", "")


def _events(comment_id):
    """The decisions in a comment's history (the factory's own "created" event left out)."""
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.comment_id == comment_id, AuditEvent.from_state.is_not(None))
                              .order_by(AuditEvent.id)).all()


def _state(comment_id):
    db.session.expire_all()
    return db.session.get(Comment, comment_id).state


def test_two_moderators_deciding_one_comment_at_once_only_one_wins(app, thread):
    alice, bob = factories.make_moderator("alice"), factories.make_moderator("bob")
    comment = factories.make_comment(thread, "held")
    comment_id, alice_id, bob_id = comment.id, alice.id, bob.id
    db.session.commit()

    def decide(moderator_id, action):
        return lambda: review.decide(comment_id, action, db.session.get(type(alice), moderator_id)).state

    with RaceAtTheUpdate(db.engine, 2) as race:
        outcomes = race.run(app, decide(alice_id, "approve"), decide(bob_id, "spam"))

    won = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, review.DecisionRefused)]
    assert len(won) == 1 and len(refused) == 1, outcomes
    assert "changed by someone else a moment ago" in str(refused[0])
    assert _state(comment_id) == won[0]
    events = _events(comment_id)
    assert [(e.from_state, e.to_state) for e in events] == [("held", won[0])], "the history must show one decision"


def test_a_moderator_and_the_checker_at_once_leave_one_verdict_and_one_event(app, thread):
    alice = factories.make_moderator("alice")
    comment = factories.make_comment(thread, "pending", body="Buy cheap pills now " * 3)
    comment_id, alice_id = comment.id, alice.id
    db.session.commit()

    def moderate():
        return review.decide(comment_id, "approve", db.session.get(type(alice), alice_id)).state

    with RaceAtTheUpdate(db.engine, 2) as race:
        outcomes = race.run(app, moderate, lambda: checking.check_comment(comment_id))

    moderator_result, checker_result = outcomes
    events = _events(comment_id)
    assert len(events) == 1, [(e.actor, e.to_state) for e in events]
    if isinstance(moderator_result, review.DecisionRefused):
        # The checker got there first: its verdict stands and the moderator is told.
        assert checker_result == events[0].to_state == _state(comment_id)
        assert events[0].actor != "alice"
    else:
        # The moderator got there first: the checker leaves the decided comment alone.
        assert moderator_result == "approved" and checker_result is None
        assert (events[0].actor, _state(comment_id)) == ("alice", "approved")


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_the_same_bulk_decision_from_two_moderators_is_applied_once(app, thread, action):
    alice, bob = factories.make_moderator("alice"), factories.make_moderator("bob")
    ids = [factories.make_comment(thread, "held").id for _ in range(3)]
    alice_id, bob_id = alice.id, bob.id
    db.session.commit()

    def bulk(moderator_id):
        return lambda: review.decide_many(ids, action, db.session.get(type(alice), moderator_id))

    with RaceAtTheUpdate(db.engine, 2) as race:
        outcomes = race.run(app, bulk(alice_id), bulk(bob_id))

    # Each comment is decided by exactly one of them; the other counts it as skipped.
    done = [set(o[0]) for o in outcomes if isinstance(o, tuple)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(done) + len(refused) == 2
    for comment_id in ids:
        assert len(_events(comment_id)) == 1
        assert sum(comment_id in d for d in done) == 1
