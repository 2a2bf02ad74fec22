"""A reader learns nothing about anyone else's email address from what the service answers them."""
import re

import pytest
import sqlalchemy as sa

from moderation.extensions import db
from moderation.models import Comment
from tests import factories
from tests.conftest import comment_fields, form_tokens
from workers.tasks import check_comment

VICTIM = "victim.person@example.org"
PUBLIC_TEXT = "I have followed this project since its first release, thank you."


def _what_the_poster_sees(app, key, email, ip, body=PUBLIC_TEXT):
    """Post from a fresh browser, let the checks run, and return the page as that browser sees it."""
    client = app.test_client()
    tokens = form_tokens(client.get(f"/threads/{key}").get_data(as_text=True))
    response = client.post(f"/threads/{key}", data={**tokens, **comment_fields(author_email=email, body=body)},
                           environ_overrides={"REMOTE_ADDR": ip})
    assert response.status_code == 303
    check_comment(db.session.scalar(sa.select(sa.func.max(Comment.id))))
    page = client.get(f"/threads/{key}").get_data(as_text=True)
    # Ids, times and form tokens differ from one post to the next; what the reader reads must not.
    page = re.sub(r'(comment-|replytocom=|value=")[^"&#<>]*', r"\1", page)
    return re.sub(r"<time[^>]*>[^<]*</time>", "", page)


@pytest.mark.parametrize("mode", ["never", "trusted", "clean"])
def test_copying_a_public_comment_under_a_guessed_email_tells_nothing(make_app, mode):
    app = make_app(MODERATION_AUTO_APPROVE=mode)
    with app.app_context():
        thread = factories.make_thread("guessing")
        factories.make_comment(thread, "approved", email=VICTIM, body=PUBLIC_TEXT, reader_hash="v" * 64)
        right = _what_the_poster_sees(app, "guessing", VICTIM, "192.0.2.1")
        wrong = _what_the_poster_sees(app, "guessing", "wrong.guess@example.org", "198.51.100.2")
        assert right == wrong
        assert right.count("Your comment is awaiting moderation.") == 1
        states = db.session.scalars(sa.select(Comment.state).order_by(Comment.id)).all()
        assert states[1:] == ["spam", "held"], "moderators still see what the checks found"


def test_a_reader_sees_their_own_comment_awaiting_moderation_even_when_the_checks_call_it_spam(app, client, thread,
                                                                                                 post_form):
    assert post_form(thread.key, body="Mine, whatever the checks think.", comment_check="filled by a bot").status_code == 303
    comment_id = db.session.scalar(sa.select(Comment.id))
    assert check_comment(comment_id) == "spam"
    page = client.get(f"/threads/{thread.key}").get_data(as_text=True)
    assert "Mine, whatever the checks think." in page and "Your comment is awaiting moderation." in page


def test_a_comment_a_moderator_marked_as_spam_is_no_longer_shown_to_its_author(app, client, thread, post_form, moderator):
    from moderation.review import services as review

    assert post_form(thread.key, body="Decided by a person.").status_code == 303
    comment_id = db.session.scalar(sa.select(Comment.id))
    check_comment(comment_id)
    review.decide(comment_id, "spam", moderator)
    assert "Decided by a person." not in client.get(f"/threads/{thread.key}").get_data(as_text=True)


def test_the_flood_check_counts_addresses_not_emails(make_app):
    """Another browser, another address, the same email within seconds: accepted, so a 429 never means
    "this email just posted". The worker holds the burst for a moderator instead."""
    app = make_app(MODERATION_FLOOD_INTERVAL=15)
    with app.app_context():
        factories.make_thread("flood-email")
        for n, ip in enumerate(("192.0.2.10", "198.51.100.20")):
            client = app.test_client()
            tokens = form_tokens(client.get("/threads/flood-email").get_data(as_text=True))
            fields = comment_fields(author_email=VICTIM, body=f"Burst {n}.")
            assert client.post("/threads/flood-email", data={**tokens, **fields},
                               environ_overrides={"REMOTE_ADDR": ip}).status_code == 303
        first, second = db.session.scalars(sa.select(Comment.id).order_by(Comment.id)).all()
        check_comment(first)
        check_comment(second)
        db.session.expire_all()
        burst = db.session.get(Comment, second)
        assert burst.state == "held"
        assert "2 comments from the same email address within 15 s" in burst.reasons


def test_the_flood_refusal_says_nothing_about_an_email(make_app):
    app = make_app(MODERATION_FLOOD_INTERVAL=15)
    with app.app_context():
        factories.make_thread("flood-words")
        client = app.test_client()
        answers = []
        for email in ("first@example.org", VICTIM):
            tokens = form_tokens(client.get("/threads/flood-words").get_data(as_text=True))
            answers.append(client.post("/threads/flood-words", data={**tokens, **comment_fields(author_email=email)}))
        assert answers[1].status_code == 429
        assert "email" not in answers[1].get_data(as_text=True).split("Leave a Reply")[1].split("<form")[0].lower()
