"""A moderator's account and decisions, as the review services see them: sign-in, the queue, one or many decisions."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from moderation.extensions import db
from moderation.models import ModeratorSession, utcnow
from moderation.review import services as review
from tests import factories
from tests.conftest import csrf_token, sign_in


def test_a_bulk_decision_reports_the_comments_done_and_those_skipped(app, thread, moderator):
    held = factories.make_comment(thread, "held")
    approved = factories.make_comment(thread, "approved")
    done, skipped, _ = review.decide_many([held.id, approved.id, 999_999], "approve", moderator)
    assert (done, skipped) == ([held.id], [approved.id, 999_999])


def test_each_comment_of_a_bulk_decision_names_its_moderator_in_the_history(app, thread, moderator):
    comments = [factories.make_comment(thread, "held") for _ in range(2)]
    review.decide_many([c.id for c in comments], "reject", moderator)
    for comment in comments:
        last = review.history(comment.id)[-1]
        assert (last.actor, last.moderator_id, last.from_state, last.to_state) == ("alice", moderator.id, "held", "rejected")


def test_a_wrong_current_password_is_named_beside_its_field(app, client, moderator):
    sign_in(client)
    page = client.get("/moderation/password").get_data(as_text=True)
    response = client.post("/moderation/password", data={"csrf_token": csrf_token(page), "current": "not my password",
                                                           "new": "another passphrase", "again": "another passphrase"})
    assert response.status_code == 422
    assert '<p class="error">That is not your current password.</p>' in response.get_data(as_text=True)


def test_a_new_moderators_password_must_be_8_to_1024_characters_and_the_name_free(app):
    for password, message in (("x" * 7, "A password needs at least 8 characters."),
                              ("x" * 1025, "A password can be at most 1,024 characters.")):
        with pytest.raises(ValueError, match=f"^{message}$"):
            review.create_moderator("bob", password)
    assert review.create_moderator("bob", "x" * 8).username == "bob"
    assert review.create_moderator("carol", "x" * 1024, is_admin=True).is_admin
    with pytest.raises(ValueError, match="^A moderator named 'bob' already exists.$"):
        review.create_moderator("bob", "another long password")


def test_signing_in_needs_the_right_password_of_an_active_moderator(app, moderator):
    assert review.authenticate("alice", factories.PASSWORD) == moderator
    assert review.authenticate("alice", "not the password") is None
    assert review.authenticate("nobody", factories.PASSWORD) is None
    moderator.active = False
    db.session.commit()
    assert review.authenticate("alice", factories.PASSWORD) is None


def test_a_sign_in_lasts_the_configured_days_and_ends_with_the_moderator(app, moderator):
    token = review.open_session(moderator)
    assert review.session_moderator(token) == moderator
    for not_a_token in (None, "", 12345, token + "x"):
        assert review.session_moderator(not_a_token) is None
    opened = db.session.scalar(sa.select(ModeratorSession))
    opened.created_at = utcnow() - timedelta(days=app.config["MODERATION_SESSION_DAYS"], minutes=1)
    db.session.commit()
    assert review.session_moderator(token) is None
    opened.created_at = utcnow() - timedelta(days=app.config["MODERATION_SESSION_DAYS"] - 1)
    moderator.active = False
    db.session.commit()
    assert review.session_moderator(token) is None


def test_the_queue_is_paged_oldest_first_per_state_and_article(app, thread, moderator):
    other = factories.make_thread("another-article")
    held = [factories.make_comment(thread, "held") for _ in range(3)]
    elsewhere = factories.make_comment(other, "held")
    factories.make_comment(thread, "approved")
    page, more = review.queue_page("held", limit=2)
    assert ([c.id for c in page], more) == ([held[0].id, held[1].id], True)
    page, more = review.queue_page("held", after_id=held[1].id, limit=2)
    assert ([c.id for c in page], more) == ([held[2].id, elsewhere.id], False)
    page, more = review.queue_page("held", thread_key="another-article")
    assert ([c.id for c in page], more) == ([elsewhere.id], False)
    assert review.queue_page("held", thread_key="nul\x00key") == ([], False)
    review.forget_counts()
    assert review.counts_by_state() == {"held": 4, "approved": 1, "pending": 0, "spam": 0, "rejected": 0, "trash": 0}


def test_a_decision_on_a_comment_that_is_gone_or_in_the_wrong_state_says_so(app, thread, moderator):
    with pytest.raises(review.DecisionRefused, match="^That comment no longer exists.$"):
        review.decide(999_999, "approve", moderator)
    spam = factories.make_comment(thread, "held")
    with pytest.raises(review.DecisionRefused,
                       match=f"^Comment {spam.id} is held; it cannot be returned to the queue as not spam.$"):
        review.decide(spam.id, "not-spam", moderator)
    decided = review.decide(spam.id, "spam", moderator, reason="link farm")
    assert (decided.state, review.history(spam.id)[-1].reason) == ("spam", "link farm")
    assert review.decide(spam.id, "not-spam", moderator).state == "held"
    assert review.history(spam.id)[-1].reason == "not-spam"
