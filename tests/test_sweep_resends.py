"""What a sweep sends again: each stale pending comment's check, by its id, with one attempt more counted."""
from datetime import timedelta

import pytest
from flask import current_app

from moderation.extensions import db
from moderation.models import Comment, utcnow
from moderation.queue import CHECK_COMMENT
from moderation.spam.services import hold_unchecked, sweep_pending
from tests import factories


@pytest.fixture
def sent(app):
    """The check tasks on the broker's queue (the in-memory one of the tests), emptied first."""
    connection = current_app.extensions["celery"].connection_for_write()
    queue = connection.SimpleQueue(current_app.config["MODERATION_QUEUE"])
    queue.clear()

    def drain():
        checks = []
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                return checks
            message.ack()
            if message.headers["task"] == CHECK_COMMENT:
                checks.append(message.payload[0])

    yield drain
    queue.close()
    connection.release()


def _stale(thread, state="pending", **fields):
    comment = factories.make_comment(thread, state, **fields)
    comment.created_at = utcnow() - timedelta(seconds=600)
    db.session.commit()
    return comment


def test_the_sweep_sends_each_stale_comments_check_again_by_its_id(thread, sent):
    first, second = _stale(thread), _stale(thread)
    assert sweep_pending() == [first.id, second.id]
    assert sent() == [[first.id], [second.id]]


def test_a_decided_comment_is_never_swept(thread, sent):
    for state in ("approved", "held", "spam", "rejected"):
        _stale(thread, state)
    assert sweep_pending() == [] and sent() == []


def test_a_comment_out_of_attempts_does_not_stop_the_sweep_of_the_next(thread, sent):
    exhausted, next_one = _stale(thread, check_attempts=3), _stale(thread, check_attempts=1)
    assert sweep_pending() == [next_one.id]
    db.session.expire_all()
    assert db.session.get(Comment, exhausted.id).state == "held"
    assert db.session.get(Comment, next_one.id).check_attempts == 2


def test_holding_a_comment_that_is_gone_does_nothing(app):
    assert hold_unchecked(999_999, "no verdict after 3 attempts") is None
