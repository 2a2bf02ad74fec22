"""The scheduled sweep: a comment left pending is sent again, and held for a person if it never settles."""
from datetime import timedelta

import sqlalchemy as sa

from moderation.extensions import db
from moderation.models import Comment, utcnow
from moderation.spam import settings as spam_settings
from tests import factories
from tests.conftest import build_app, empty_tables
from workers.tasks import check_comment, sweep_pending


def _age(comment, seconds):
    comment.created_at = utcnow() - timedelta(seconds=seconds)
    db.session.commit()


def test_only_comments_pending_longer_than_the_setting_are_sent_again(thread):
    stale = factories.make_comment(thread, "pending")
    fresh = factories.make_comment(thread, "pending")
    _age(stale, 600)
    assert sweep_pending() == 1
    db.session.expire_all()
    assert db.session.get(Comment, stale.id).check_attempts == 1
    assert db.session.get(Comment, fresh.id).check_attempts == 0
    assert sweep_pending() == 0, "a comment just sent again waits another interval"


def test_a_comment_whose_check_never_finishes_is_held_with_the_reason(thread):
    stuck = factories.make_comment(thread, "pending", check_attempts=3)
    _age(stuck, 600)
    sweep_pending()
    db.session.expire_all()
    comment = db.session.get(Comment, stuck.id)
    assert comment.state == "held"
    assert comment.reasons == ["spam check failed: no verdict after 3 attempts"]


def test_the_sweep_survives_a_broker_that_is_down(make_app):
    app = make_app(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    with app.app_context():
        comment = factories.make_comment(factories.make_thread(), "pending")
        _age(comment, 600)
        assert sweep_pending() == 0
        db.session.expire_all()
        assert db.session.get(Comment, comment.id).state == "pending"


def test_a_check_that_keeps_meeting_a_database_error_is_held_with_the_reason(postgresql_url):
    """The check's database keeps refusing (here: a lock held past the lock timeout, as during a long migration);
    the task retries, and when the retries run out the comment is held for a person with the reason."""
    app = build_app(postgresql_url, SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": "-c lock_timeout=100"}})
    blocker = sa.create_engine(postgresql_url, poolclass=sa.pool.NullPool).connect()
    try:
        with app.app_context():
            comment_id = factories.make_comment(factories.make_thread(), "pending").id
            db.session.remove()
            spam_settings.forget_cached()  # the check must read the settings, as a worker's first check does
            blocker.execute(sa.text("LOCK TABLE settings IN ACCESS EXCLUSIVE MODE"))
            # In this process Celery runs each retry at once instead of after its backoff.
            check_comment.apply(args=[comment_id])
            blocker.rollback()
            db.session.expire_all()
            comment = db.session.get(Comment, comment_id)
            assert comment.state == "held"
            assert comment.reasons == ["spam check failed: the database failed with OperationalError (6 tries)"]
    finally:
        blocker.rollback()
        blocker.close()
        empty_tables(app)
