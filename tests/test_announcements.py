"""What is news reaches the listeners (webhooks, subscribers) once: every new comment and change of state, by any path."""
import threading
import time

import pytest
import sqlalchemy as sa

from moderation import announcements
from moderation.extensions import db
from moderation.models import AuditEvent, Comment
from moderation.review import services as review
from tests import factories
from tests.conftest import build_app, empty_tables


class Heard:
    """A listener that keeps what it was told, with the same two calls as the real ones."""

    def __init__(self):
        self.owed, self.sent = [], []

    def owe(self, event, comment, at):
        self.owed.append((event, comment.id))
        return [len(self.owed)]

    def send(self, ids):
        self.sent += ids


@pytest.fixture
def heard(monkeypatch):
    listener = Heard()
    monkeypatch.setattr(announcements, "listeners", lambda: (listener,))
    return listener


def test_a_posted_comment_its_verdict_and_a_decision_are_each_announced_once(app, post_form, thread, moderator, heard):
    from workers import tasks

    assert post_form(thread.key).status_code == 303
    with app.app_context():
        comment_id = db.session.scalar(sa.select(Comment.id))
        assert announcements.announce()[0] == 1
        assert heard.owed == [("created", comment_id)] and heard.sent == [1]
        tasks.check_comment(comment_id)  # the worker announces the verdict at once
        assert heard.owed[1:] == [("held", comment_id)]
        review.decide(comment_id, "approve", db.session.merge(moderator))
        announcements.announce()
        assert heard.owed[2:] == [("approved", comment_id)]
        assert announcements.announce() == (0, 0)
        assert len(heard.owed) == 3


def test_an_edit_or_a_note_is_no_change_of_state_and_announces_nothing(app, thread, moderator, heard):
    with app.app_context():
        comment = factories.make_comment(db.session.merge(thread), state="approved")
        announcements.announce()
        heard.owed.clear()
        review.edit(comment.id, db.session.merge(moderator), body="Edited.", author_name="Reader", author_url=None)
        announcements.announce()
        assert heard.owed == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.announced_at.is_(None))) == 0


def test_a_bulk_decision_announces_every_comment_it_moved(app, thread, moderator, heard):
    with app.app_context():
        ids = [factories.make_comment(db.session.merge(thread), state="held").id for _ in range(3)]
        announcements.announce()
        heard.owed.clear()
        review.decide_many(ids, "spam", db.session.merge(moderator))
        announcements.announce()
        assert sorted(heard.owed) == [("spam", i) for i in ids]


def test_nothing_is_sent_when_the_commit_fails_and_the_next_run_announces_it(app, thread, heard, monkeypatch):
    with app.app_context():
        comment = factories.make_comment(db.session.merge(thread), state="held")

        def refuse():
            raise sa.exc.OperationalError("COMMIT", {}, Exception("the database went away"))

        with monkeypatch.context() as patched, pytest.raises(sa.exc.OperationalError):
            patched.setattr(db.session, "commit", refuse)
            announcements.announce()
        db.session.rollback()
        assert heard.sent == []
        announcements.announce()
        assert heard.owed[-2:] == [("created", comment.id), ("held", comment.id)]
        assert heard.sent == [3, 4]


def test_two_runs_at_once_announce_each_comment_once(database_url, heard, monkeypatch):
    """Two workers announcing at the same moment: each comment and change goes to one of them, never both, on
    SQLite (one writer at a time: the second claim waits and finds them taken) and PostgreSQL (locked rows skipped)."""
    app = build_app(database_url)
    with app.app_context():
        thread = factories.make_thread()
        for _ in range(20):
            factories.make_comment(thread, state="held")
    told = heard.owe

    def slowly(event, comment, at):
        time.sleep(0.005)  # the listeners' work, during which the other run reads
        return told(event, comment, at)

    monkeypatch.setattr(heard, "owe", slowly)
    barrier = threading.Barrier(2)

    def run():
        with app.app_context():
            barrier.wait()
            while announcements.announce(limit=5) != (0, 0):
                pass
            db.session.remove()

    runs = [threading.Thread(target=run) for _ in range(2)]
    for each in runs:
        each.start()
    for each in runs:
        each.join()
    try:
        assert len(heard.owed) == 40 and len(set(heard.owed)) == 40
    finally:
        empty_tables(app)
