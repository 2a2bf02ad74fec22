"""An administrator changes the spam settings; the next checks use them."""
import pytest

from moderation.extensions import db
from moderation.models import Comment
from tests import factories
from tests.conftest import csrf_token, sign_in
from workers.tasks import check_comment

FORM = {"link_limit": "2", "hold_words": "", "blocked_words": "", "spam_threshold": "0.9",
        "clean_threshold": "0.2", "min_form_seconds": "3"}


def _admin(app):
    factories.make_moderator("root", is_admin=True)
    client = app.test_client()
    assert sign_in(client, "root").status_code == 303
    return client


def test_only_administrators_see_the_settings(client, moderator):
    sign_in(client)
    assert client.get("/moderation/settings").status_code == 403


def test_a_saved_blocked_word_marks_the_next_comment_spam(app, thread):
    admin = _admin(app)
    token = csrf_token(admin.get("/moderation/settings").get_data(as_text=True))
    saved = admin.post("/moderation/settings", data={**FORM, "csrf_token": token, "blocked_words": "roulette\nslots"},
                       follow_redirects=True)
    assert "Settings saved." in saved.get_data(as_text=True)
    comment = factories.make_comment(thread, "pending", body="Play slots tonight")
    check_comment(comment.id)
    db.session.expire_all()
    checked = db.session.get(Comment, comment.id)
    assert checked.state == "spam" and "blocked word 'slots' in the content" in checked.reasons


def test_a_comment_sent_faster_than_a_person_types_is_held(app, thread):
    comment = factories.make_comment(thread, "pending", body="Thanks for the article.", form_seconds=0.4)
    check_comment(comment.id)
    db.session.expire_all()
    assert "form sent 0.4 s after the page was opened (a person takes at least 3 s)" in db.session.get(Comment, comment.id).reasons


def test_bad_settings_are_refused_beside_the_field_and_kept(app):
    admin = _admin(app)
    token = csrf_token(admin.get("/moderation/settings").get_data(as_text=True))
    response = admin.post("/moderation/settings", data={**FORM, "csrf_token": token, "spam_threshold": "0.1",
                                                        "hold_words": "kept word"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The spam threshold must be above the clean threshold." in html and "kept word" in html


@pytest.mark.parametrize("field, value", [("body", "Thanks, the refund policy part was clear."),
                                          ("author_name", "Refund Desk"), ("author_url", "https://refund.example.org")])
def test_a_saved_moderation_word_holds_a_comment_that_would_have_been_approved(make_app, field, value):
    """Where clean comments are published at once, a moderation word (anywhere: text, name, website) still
    sends the comment to a person, with the word and the field in the reason."""
    app = make_app(MODERATION_AUTO_APPROVE="clean")
    with app.app_context():
        thread = factories.make_thread()
        clean = factories.make_comment(thread, "pending", body="Thanks, the policy part was clear.", form_seconds=30)
        check_comment(clean.id)
        assert _reload(clean).state == "approved", _reload(clean).reasons

        admin = _admin(app)
        token = csrf_token(admin.get("/moderation/settings").get_data(as_text=True))
        saved = admin.post("/moderation/settings", data={**FORM, "csrf_token": token, "hold_words": "refund"},
                           follow_redirects=True)
        assert "Settings saved." in saved.get_data(as_text=True)
        worded = factories.make_comment(thread, "pending", form_seconds=30,
                                        **{"body": "Thanks, the policy part was clear, again.", field: value})
        check_comment(worded.id)
        checked = _reload(worded)
        where = {"body": "content", "author_name": "name", "author_url": "website"}[field]
        assert checked.state == "held"
        assert f"moderation word 'refund' in the {where}" in checked.reasons, checked.reasons


def _reload(comment):
    db.session.expire_all()
    return db.session.get(Comment, comment.id)
