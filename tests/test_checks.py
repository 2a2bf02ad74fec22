"""The first spam checks, run by the check_comment task called as a plain function with an id."""
import pytest

from moderation.extensions import db
from moderation.models import AuditEvent, Comment
from tests import factories
from workers.tasks import check_comment


def _checked(comment):
    check_comment(comment.id)
    db.session.expire_all()
    return db.session.get(Comment, comment.id)


def test_a_clean_comment_is_held_for_a_person_with_only_the_models_low_score(thread):
    comment = _checked(factories.make_comment(thread, "pending", body="Nice article, I learned a lot about threads."))
    assert comment.state == "held"
    assert len(comment.reasons) == 1 and comment.reasons[0].startswith("model: 0.")
    assert comment.spam_score < 0.2
    assert comment.checked_at is not None


def test_more_than_two_links_is_held_with_that_reason(make_app):
    # The model alone would call this spam; with its threshold out of reach, the rule decides.
    app = make_app(MODERATION_SPAM_THRESHOLD=1.01)
    with app.app_context():
        body = "See https://a.example.org and https://b.example.org and www.c.example.org"
        comment = _checked(factories.make_comment(factories.make_thread(), "pending", body=body))
        assert comment.state == "held"
        assert comment.reasons[0] == "3 links, the limit is 2"


@pytest.mark.parametrize("field, value, where", [
    ("body", "Visit my CASINO now", "content"),
    ("author_name", "casino king", "name"),
    ("email", "casino@example.org", "email"),
    ("author_url", "https://casino.example.org", "website"),
    ("user_agent", "CasinoBot/1.0", "user agent"),
])
def test_a_blocked_word_anywhere_is_spam(make_app, field, value, where):
    app = make_app(MODERATION_BLOCKED_WORDS=("casino",))
    with app.app_context():
        thread = factories.make_thread()
        comment = _checked(factories.make_comment(thread, "pending", **{field: value}))
        assert comment.state == "spam"
        assert comment.reasons[0] == f"blocked word 'casino' in the {where}"


def test_a_blocked_ip_is_spam(make_app):
    app = make_app(MODERATION_BLOCKED_WORDS=("203.0.113.",))
    with app.app_context():
        comment = _checked(factories.make_comment(factories.make_thread(), "pending", author_ip="203.0.113.9"))
        assert comment.state == "spam" and "in the IP" in comment.reasons[0]


def test_a_filled_honeypot_is_spam(thread):
    comment = _checked(factories.make_comment(thread, "pending", honeypot=True))
    assert comment.state == "spam"


def test_the_same_text_from_the_same_author_on_the_same_thread_is_spam(thread):
    first = _checked(factories.make_comment(thread, "pending", body="Same words.", email="twice@example.org"))
    again = _checked(factories.make_comment(thread, "pending", body="Same words.", email="twice@example.org"))
    other_author = _checked(factories.make_comment(thread, "pending", body="Same words.", email="else@example.org"))
    assert first.state == "held" and other_author.state == "held"
    assert again.state == "spam" and again.reasons[0] == f"duplicate of comment {first.id} by the same author on this article"


def test_a_redelivered_check_changes_nothing(thread):
    comment = _checked(factories.make_comment(thread, "pending"))
    assert check_comment(comment.id) is None
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.comment_id == comment.id)).all()
    assert [(e.from_state, e.to_state, e.actor) for e in events] == [(None, "pending", "test"), ("pending", "held", "spam check")]


@pytest.mark.parametrize("mode, trusted, expected", [
    ("never", True, "held"), ("trusted", False, "held"), ("trusted", True, "approved"), ("clean", False, "approved"),
])
def test_auto_approve_follows_the_setting(make_app, mode, trusted, expected):
    app = make_app(MODERATION_AUTO_APPROVE=mode)
    with app.app_context():
        thread = factories.make_thread()
        if trusted:
            factories.make_comment(thread, "approved", email="known@example.org", reader_hash="b" * 64)
        comment = _checked(factories.make_comment(thread, "pending", email="known@example.org", reader_hash="b" * 64,
                                                  body="Thanks, this was a clear explanation."))
        assert comment.state == expected


def test_a_typed_email_alone_does_not_make_a_trusted_author(make_app):
    """Anyone can type an approved author's email; only that author's browser is trusted."""
    app = make_app(MODERATION_AUTO_APPROVE="trusted")
    with app.app_context():
        thread = factories.make_thread()
        factories.make_comment(thread, "approved", email="known@example.org", reader_hash="b" * 64)
        for stranger in ("c" * 64, None):
            comment = _checked(factories.make_comment(thread, "pending", email="known@example.org", reader_hash=stranger,
                                                      body=f"Pretending to be someone else ({stranger})."))
            assert comment.state == "held"
