"""The reader's side: the "Leave a Reply" form, its errors, and what the thread page shows."""
import re
import time

import pytest

from moderation.extensions import db
from moderation.models import Comment
from tests import factories
from tests.conftest import form_tokens


def _page(client, key="first-article"):
    return client.get(f"/threads/{key}").get_data(as_text=True)


def _filled_form(make_app, key, **settings):
    """An app built with `settings`, a reader's client, and the form of a new article `key` filled in."""
    app = make_app(**settings)
    with app.app_context():
        factories.make_thread(key)
    client = app.test_client()
    tokens = form_tokens(client.get(f"/threads/{key}").get_data(as_text=True))
    return app, client, {**tokens, "author_name": "Reader", "author_email": f"{key}@example.org", "body": "First."}


def test_a_posted_comment_awaits_moderation_for_its_author_only(app, client, thread, post_form):
    response = post_form(thread.key, body="My first comment here.")
    assert response.status_code == 303
    comment = db.session.scalar(db.select(Comment))
    assert response.headers["Location"].endswith(f"/threads/{thread.key}#comment-{comment.id}")
    assert comment.state == "pending"
    own = _page(client)
    assert "My first comment here." in own and "Your comment is awaiting moderation." in own
    assert f'id="comment-{comment.id}"' in own
    stranger = _page(app.test_client())
    assert "My first comment here." not in stranger


def test_bad_input_answers_422_with_each_error_beside_its_field_and_the_text_kept(client, thread, post_form):
    body = "A long and careful comment that must never be lost. <b>bold</b>"
    response = post_form(thread.key, author_name="", author_email="not-an-email", author_url="javascript:alert(1)", body=body)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="author_name-error">Please enter your name.' in html
    assert 'id="author_email-error">Please enter a valid email address' in html
    assert 'id="author_url-error">Enter a web address starting with http:// or https://.' in html
    assert "A long and careful comment that must never be lost. &lt;b&gt;bold&lt;/b&gt;" in html
    assert 'value="not-an-email"' in html


def test_an_empty_comment_and_an_overlong_one_are_refused_with_a_message(client, thread, post_form):
    assert "Please type a comment." in post_form(thread.key, body="").get_data(as_text=True)
    too_long = post_form(thread.key, body="x" * 10_001)
    assert too_long.status_code == 422
    assert "A comment can be at most 10,000 characters." in too_long.get_data(as_text=True)
    assert post_form(thread.key, body="y" * 10_000, author_email="long@example.org").status_code == 303


def test_a_website_without_a_scheme_gets_one_and_other_schemes_are_refused(app, client, thread, post_form):
    assert post_form(thread.key, author_url="example.org/me").status_code == 303
    assert db.session.scalar(db.select(Comment.author_url)) == "https://example.org/me"
    assert post_form(thread.key, author_url="ftp://example.org/").status_code == 422


def test_an_expired_or_missing_csrf_token_gives_the_form_back_with_the_text(client, thread):
    tokens = form_tokens(client.get(f"/threads/{thread.key}").get_data(as_text=True))
    data = {**tokens, "author_name": "Reader", "author_email": "r@example.org", "body": "Typed before lunch.", "csrf_token": "stale"}
    response = client.post(f"/threads/{thread.key}", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This form expired before it was sent" in html
    assert "Typed before lunch." in html
    # The page carries a fresh token: sending it again works.
    data.update(form_tokens(html))
    assert client.post(f"/threads/{thread.key}", data=data).status_code == 303


def test_a_forged_or_stale_form_stamp_is_refused_with_the_text_kept(make_app):
    app, client, data = _filled_form(make_app, "stamped", MODERATION_FORM_MAX_AGE=0)
    data["body"] = "Written slowly."
    forged = client.post("/threads/stamped", data={**data, "opened": "1.0.forged"})
    assert forged.status_code == 422 and "This form could not be verified" in forged.get_data(as_text=True)
    time.sleep(1.1)
    stale = client.post("/threads/stamped", data=data)
    assert stale.status_code == 422
    assert "This form was opened more than 0 hours ago" in stale.get_data(as_text=True)
    assert "Written slowly." in stale.get_data(as_text=True)


def test_the_seconds_between_opening_and_sending_the_form_are_kept_for_the_checks(app, client, thread, post_form):
    assert post_form(thread.key).status_code == 303
    seconds = db.session.scalar(db.select(Comment.form_seconds))
    assert seconds is not None and 0 <= seconds < 60


def test_save_my_details_sets_a_cookie_only_when_ticked(app, thread, post_form, client):
    response = post_form(thread.key, author_name="Unticked")
    assert "comment_author" not in response.headers.get("Set-Cookie", "")
    response = post_form(thread.key, author_name="Ticked Reader", author_email="ticked@example.org", remember="y")
    cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("comment_author=")]
    assert cookie and "HttpOnly" in cookie[0]
    form = _page(client)
    assert 'value="Ticked Reader"' in form and 'value="ticked@example.org"' in form
    response = post_form(thread.key, author_name="Ticked Reader", body="Again, unticked.")
    assert any(h.startswith("comment_author=;") for h in response.headers.getlist("Set-Cookie"))


def test_approved_comments_are_threaded_oldest_first_with_permalinks(app, client, thread):
    first = factories.make_comment(thread, "approved", body="First, top level.")
    second = factories.make_comment(thread, "approved", body="Second, top level.")
    reply = factories.make_comment(thread, "approved", body="A reply to the first.", parent_id=first.id)
    factories.make_comment(thread, "held", body="Held, not shown.")
    factories.make_comment(thread, "spam", body="Spam, not shown.")
    html = _page(client)
    assert html.index("First, top level.") < html.index("A reply to the first.") < html.index("Second, top level.")
    assert re.search(rf'id="comment-{first.id}".*?<ol class="children">.*?id="comment-{reply.id}"', html, re.S)
    assert f'href="#comment-{second.id}"' in html
    assert "Held, not shown." not in html and "Spam, not shown." not in html


def test_commenter_markup_never_runs_and_urls_become_nofollow_links(app, client, thread):
    factories.make_comment(thread, "approved", author_url="https://reader.example.org/",
                           body='<script>alert("x")</script>\n\nSee https://docs.example.org/page for more.')
    html = _page(client)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert '<a href="https://docs.example.org/page" rel="nofollow ugc">' in html
    assert 'href="https://reader.example.org/" rel="nofollow ugc"' in html
    assert html.count("<p>") >= 2


def test_a_reply_must_answer_an_approved_comment_of_the_same_thread(app, client, thread, post_form):
    other = factories.make_thread("other-article")
    held = factories.make_comment(thread, "held")
    elsewhere = factories.make_comment(other, "approved")
    approved = factories.make_comment(thread, "approved")
    for bad in (held.id, elsewhere.id, 999_999):
        response = post_form(thread.key, parent_id=str(bad), body="My reply text.")
        assert response.status_code == 422
        assert "The comment you are replying to is not available" in response.get_data(as_text=True)
        assert "My reply text." in response.get_data(as_text=True)
    assert post_form(thread.key, parent_id=str(approved.id)).status_code == 303


def test_closed_threads_and_unknown_threads(app, client, post_form):
    closed = factories.make_thread("closed", comments_open=False)
    assert "Comments are closed." in _page(client, closed.key)
    response = post_form(closed.key, body="Too late?")
    assert response.status_code == 403 and "Too late?" in response.get_data(as_text=True)
    assert client.get("/threads/no-such-article").status_code == 404


def test_the_same_address_posting_again_within_the_flood_interval_gets_429_and_keeps_the_text(make_app):
    app, client, data = _filled_form(make_app, "flood", MODERATION_FLOOD_INTERVAL=15)
    assert client.post("/threads/flood", data=data).status_code == 303
    second = client.post("/threads/flood", data={**data, "body": "Two, typed fast."})
    assert second.status_code == 429
    assert "Two, typed fast." in second.get_data(as_text=True)
    assert "too quickly" in second.get_data(as_text=True)


def test_the_home_page_lists_the_threads(client, thread):
    assert "The first article" in client.get("/").get_data(as_text=True)


def test_the_rate_limit_answers_429_with_the_form_and_the_text(make_app):
    app, client, data = _filled_form(make_app, "limited", RATELIMIT_ENABLED=True, MODERATION_POST_LIMIT="1 per minute")
    assert client.post("/threads/limited", data=data).status_code == 303
    limited = client.post("/threads/limited", data={**data, "author_email": "r2@example.org", "body": "Kept after the limit."})
    assert limited.status_code == 429
    assert "Kept after the limit." in limited.get_data(as_text=True)
    assert 'value="r2@example.org"' in limited.get_data(as_text=True)


def test_behind_one_proxy_the_readers_address_is_the_forwarded_one(make_app):
    app, client, data = _filled_form(make_app, "proxied", MODERATION_PROXY_HOPS=1)
    assert client.post("/threads/proxied", data=data, headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 303
    with app.app_context():
        assert db.session.scalar(db.select(Comment.author_ip)) == "198.51.100.7"


def test_a_refused_reply_comes_back_as_a_comment_of_its_own_ready_to_post(app, client, thread, post_form):
    held = factories.make_comment(thread, "held")
    html = post_form(thread.key, parent_id=str(held.id), body="My reply text.").get_data(as_text=True)
    assert html.count('role="alert">The comment you are replying to is not available; your comment can still be '
                      'posted on its own.</p>') == 1
    assert 'name="parent_id" value=""' in html, "sent again, the text is posted on its own"


def test_the_home_page_lists_the_newest_article_first(client, thread):
    factories.make_thread("second-article", "The second article")
    html = client.get("/").get_data(as_text=True)
    assert html.index("The second article") < html.index("The first article")


def test_a_thread_key_no_address_can_carry_is_refused_with_the_rule(app):
    from moderation.comments.services import create_thread

    for key in ("a/b", " padded", "nul\x00key", "x" * 201, ""):
        with pytest.raises(ValueError) as refused:
            create_thread(key, "A title")
        assert str(refused.value) == ("A thread key is 1 to 200 characters, without '/', spaces around it or "
                                      "control characters.")
    assert create_thread("x" * 200, "Longest").key == "x" * 200
