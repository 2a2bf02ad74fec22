"""The check task under failure: transient errors back off and end in a held comment; permanent ones are raised."""
import logging

import akismet
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_retry

from moderation.extensions import db
from moderation.models import Comment
from tests import factories
from workers.tasks import check_comment

AKISMET = {"MODERATION_AKISMET_KEY": "test-key", "MODERATION_AKISMET_URL": "https://blog.example.org"}


def failing_akismet(error):
    """Akismet's own test client, raising `error` (a class or a factory) from every check and counting the calls."""

    def comment_check(self, *args, **kwargs):
        type(self).calls += 1
        raise error()

    return type("FailingAkismet", (akismet.TestSyncClient,), {"comment_check": comment_check, "calls": 0})


def _pending(app):
    return factories.make_comment(factories.make_thread(), "pending").id


def _reasons(comment_id):
    db.session.expire_all()
    comment = db.session.get(Comment, comment_id)
    return comment.state, comment.reasons


@pytest.fixture
def retries():
    """Every retry Celery schedules: (delay in seconds, the error it retries)."""
    seen = []

    def scheduled(request=None, reason=None, **kwargs):
        seen.append((reason.when, repr(reason.exc)))

    task_retry.connect(scheduled, weak=False)
    yield seen
    task_retry.disconnect(scheduled)


class Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def task_warnings():
    """What the tasks warn an operator about. On the tasks' own logger: the first migration of a run
    replaces the root logger's handlers (caplog's among them)."""
    warnings, logger = Warnings(), logging.getLogger("workers.tasks")
    logger.addHandler(warnings)
    yield warnings.lines
    logger.removeHandler(warnings)


def test_an_unreachable_akismet_is_retried_after_1_2_4_8_16_seconds_then_the_comment_is_held(make_app, retries,
                                                                                              task_warnings):
    client = failing_akismet(lambda: akismet.RequestError("Akismet did not answer in time"))
    app = make_app(**AKISMET, MODERATION_AKISMET_CLIENT=client)
    with app.app_context():
        comment_id = _pending(app)
        # Run in this process, where Celery performs each retry at once and reports the delay it would wait.
        check_comment.apply(args=[comment_id])
        error = "RequestError('Akismet did not answer in time')"
        assert retries == [(1, error), (2, error), (4, error), (8, error), (16, error)]
        assert client.calls == 6
        assert _reasons(comment_id) == ("held", ["spam check failed: Akismet could not be reached (6 tries)"])
    assert task_warnings == [f"'moderation.check_comment' for comment {comment_id} gave up after 5 retries: {error}"]


def test_a_refused_akismet_key_is_raised_at_once_and_the_comment_stays_pending(make_app, retries):
    client = failing_akismet(lambda: akismet.APIKeyError("invalid key"))
    app = make_app(**AKISMET, MODERATION_AKISMET_CLIENT=client)
    with app.app_context():
        comment_id = _pending(app)
        with pytest.raises(akismet.APIKeyError):
            check_comment(comment_id)
        assert (client.calls, retries) == (1, [])
        assert _reasons(comment_id) == ("pending", [])


@pytest.mark.parametrize("stopped", [
    SoftTimeLimitExceeded,
    # The limit struck inside a call, which then failed on its own account.
    lambda: _raised_from(akismet.RequestError("the request was interrupted"), SoftTimeLimitExceeded()),
], ids=["inside the check", "inside a call that then failed"])
def test_a_check_stopped_by_its_time_limit_is_held_with_that_reason_and_not_retried(make_app, retries, stopped):
    app = make_app(**AKISMET, MODERATION_AKISMET_CLIENT=failing_akismet(stopped), MODERATION_CHECK_TIME_LIMIT=12)
    with app.app_context():
        comment_id = _pending(app)
        assert check_comment(comment_id) == "held"
        assert retries == []
        assert _reasons(comment_id) == ("held", ["spam check failed: the check took longer than 12 s and was stopped"])


def _raised_from(error, cause):
    try:
        raise error from cause
    except type(error) as raised:
        return raised


def test_a_database_error_raised_while_handling_an_akismet_timeout_is_named_as_the_databases(app):
    import httpx
    from sqlalchemy.exc import OperationalError

    from workers.tasks import _what_failed

    try:
        try:
            raise httpx.ReadTimeout("Akismet did not answer")
        except httpx.ReadTimeout:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    except OperationalError as error:
        with app.app_context():
            assert _what_failed(error) == "the database failed with OperationalError"
