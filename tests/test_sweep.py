"""The scheduled sweep: a comment left pending is sent again, and held for a person if it never settles."""
from datetime import timedelta

from moderation.extensions import db
from moderation.models import Comment, utcnow
from tests import factories
from workers.tasks import sweep_pending


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
