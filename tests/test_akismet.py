"""The optional Akismet check, through akismet's own TestSyncClient (no network)."""
import akismet
import pytest

from moderation.extensions import db
from moderation.models import Comment
from moderation.review import services as review
from moderation.spam import learning
from tests import factories
from workers.tasks import check_comment

AKISMET = {"MODERATION_AKISMET_KEY": "test-key", "MODERATION_AKISMET_URL": "https://blog.example.org"}
DOCUMENTED = {"user_ip", "user_agent", "referrer", "permalink", "comment_type", "comment_author",
              "comment_author_email", "comment_author_url", "comment_content"}


class Unreachable(akismet.TestSyncClient):
    calls = 0

    def comment_check(self, *args, **kwargs):
        type(self).calls += 1
        raise akismet.RequestError("Akismet did not answer in time")


class Recording(akismet.TestSyncClient):
    """Akismet's own test client, answering `comment_check_response`, that remembers every call and its fields."""
    calls = []

    def comment_check(self, *args, **kwargs):
        type(self).calls.append(("comment-check", kwargs))
        return super().comment_check(*args, **kwargs)

    def submit_spam(self, *args, **kwargs):
        type(self).calls.append(("submit-spam", kwargs))
        return super().submit_spam(*args, **kwargs)

    def submit_ham(self, *args, **kwargs):
        type(self).calls.append(("submit-ham", kwargs))
        return super().submit_ham(*args, **kwargs)


def recording(answer):
    return type(f"Recording{answer.name.title()}", (Recording,), {"comment_check_response": answer, "calls": []})


def _comment(app, **fields):
    thread = factories.make_thread()
    thread.url = "https://blog.example.org/post"
    return factories.make_comment(thread, "pending", author_ip="192.0.2.10", user_agent="Firefox",
                                  referrer="https://blog.example.org/post", author_url="https://reader.example.org",
                                  body="Nice write-up, thank you.", **fields)


def _reload(comment):
    db.session.expire_all()
    return db.session.get(Comment, comment.id)


def test_akismet_spam_sends_the_documented_fields_and_keeps_them(make_app):
    app = make_app(**AKISMET, MODERATION_AKISMET_CLIENT="test-spam")
    with app.app_context():
        comment = _comment(app)
        check_comment(comment.id)
        comment = _reload(comment)
        assert comment.state == "spam" and "Akismet: spam" in comment.reasons and comment.spam_score == 1.0
        assert DOCUMENTED <= set(comment.akismet_payload["sent"])
        assert comment.akismet_payload["sent"]["permalink"] == "https://blog.example.org/post"
        assert comment.akismet_payload["verdict"] == "spam"


def test_akismet_ham_is_a_reason_too(make_app):
    app = make_app(**AKISMET, MODERATION_AKISMET_CLIENT="test-ham")
    with app.app_context():
        comment = _reload(_comment(app))
        check_comment(comment.id)
        comment = _reload(comment)
        assert comment.state == "held" and "Akismet: not spam" in comment.reasons


def test_a_moderator_overruling_akismet_is_reported_once(make_app):
    app = make_app(**AKISMET, MODERATION_AKISMET_CLIENT="test-spam")
    with app.app_context():
        comment = _comment(app)
        check_comment(comment.id)
        review.decide(comment.id, "not-spam", factories.make_moderator())
        assert learning.report_decision(comment.id) == "ham"
        assert _reload(comment).akismet_payload["reported"] is False
        assert learning.report_decision(comment.id) is None, "a redelivered report is not sent twice"


def test_akismet_down_retries_then_holds_the_comment_with_the_reason(make_app):
    app = make_app(**AKISMET, MODERATION_AKISMET_CLIENT=Unreachable)
    with app.app_context():
        comment = _comment(app)
        Unreachable.calls = 0
        # Run in this process, where Celery performs each retry at once instead of after its backoff.
        check_comment.apply(args=[comment.id])
        assert Unreachable.calls == 6, "the first try and five retries"
        comment = _reload(comment)
        assert comment.state == "held"
        assert comment.reasons == ["spam check failed: Akismet could not be reached (6 tries)"]


def test_without_a_key_akismet_is_not_asked(app, thread):
    comment = factories.make_comment(thread, "pending")
    check_comment(comment.id)
    assert _reload(comment).akismet_payload is None


@pytest.mark.parametrize("answer, action, sent", [
    (akismet.CheckResponse.SPAM, "not-spam", "submit-ham"),
    (akismet.CheckResponse.HAM, "spam", "submit-spam"),
    (akismet.CheckResponse.DISCARD, "not-spam", "submit-ham"),
])
def test_a_moderator_overruling_akismet_sends_the_right_correction_with_the_checked_fields(make_app, answer, action, sent):
    client = recording(answer)
    app = make_app(**AKISMET, MODERATION_AKISMET_CLIENT=client)
    with app.app_context():
        comment = _comment(app, email="overruled@example.org")
        check_comment(comment.id)
        if action == "not-spam" and _reload(comment).state != "spam":
            review.decide(comment.id, "spam", factories.make_moderator("first"))
        review.decide(comment.id, action, factories.make_moderator())
        learning.report_decision(comment.id)
        (check_name, checked), (report_name, reported) = client.calls
        assert (check_name, report_name) == ("comment-check", sent)
        assert reported == checked, "the correction must describe the comment exactly as it was checked"
        assert reported["comment_content"] == "Nice write-up, thank you."
        assert reported["comment_author_email"] == "overruled@example.org"


@pytest.mark.parametrize("answer, action", [(akismet.CheckResponse.SPAM, "spam"), (akismet.CheckResponse.HAM, "approve")])
def test_a_moderator_agreeing_with_akismet_sends_it_nothing(make_app, answer, action):
    client = recording(answer)
    app = make_app(**AKISMET, MODERATION_AKISMET_CLIENT=client)
    with app.app_context():
        comment = _comment(app)
        check_comment(comment.id)
        state = _reload(comment).state
        if (action, state) != ("spam", "spam"):
            review.decide(comment.id, action, factories.make_moderator())
        assert learning.report_decision(comment.id) is None
        assert [name for name, _ in client.calls] == ["comment-check"]


def test_blatant_spam_akismet_would_discard_goes_to_spam_with_its_reason(make_app):
    client = recording(akismet.CheckResponse.DISCARD)
    app = make_app(**AKISMET, MODERATION_AKISMET_CLIENT=client)
    with app.app_context():
        comment = _comment(app)
        check_comment(comment.id)
        comment = _reload(comment)
        assert comment.state == "spam" and "Akismet: blatant spam" in comment.reasons
        assert comment.akismet_payload["verdict"] == "discard"
