"""Discussion settings in the console: closing threads, replies, page size, auto-approve, trusted and blocked lists."""
import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from moderation.comments import services as comments
from moderation.extensions import db
from moderation.models import Comment, Thread, utcnow
from moderation.spam import settings
from moderation.spam.services import check_comment
from tests import factories
from tests.conftest import comment_fields, csrf_token, form_tokens, sign_in

SETTINGS = {"close_after_days": "0", "thread_depth": "5", "comments_per_page": "0", "auto_approve": "never",
            "spam_retention_days": "15", "trash_retention_days": "30", "trusted_emails": "", "trusted_domains": "",
            "trusted_ips": "", "blocked_emails": "", "blocked_domains": "", "blocked_ips": ""}
CLEAN = "Thanks, this was a clear explanation."
SPAMMY = "PLEASE LIKE AND SUBSCRIBE MY CHANNEL!!!!"


def _admin(app):
    factories.make_moderator("root", is_admin=True)
    client = app.test_client()
    assert sign_in(client, "root").status_code == 303
    return client


def _save(admin, **changes):
    token = csrf_token(admin.get("/moderation/discussion/").get_data(as_text=True))
    return admin.post("/moderation/discussion/", data={**SETTINGS, "csrf_token": token, **changes},
                      follow_redirects=True)


def _saved(admin, **changes):
    response = _save(admin, **changes)
    assert response.status_code == 200 and "Saved:" in response.get_data(as_text=True), response.get_data(as_text=True)
    return response


def _toggle(admin, thread, action):
    token = csrf_token(admin.get("/moderation/discussion/threads").get_data(as_text=True))
    return admin.post(f"/moderation/discussion/threads/{thread.id}/{action}", data={"csrf_token": token},
                      follow_redirects=True)


def _post(client, key, **fields):
    tokens = form_tokens(client.get(f"/threads/{key}").get_data(as_text=True))
    return client.post(f"/threads/{key}", data={**tokens, **comment_fields(**fields)})


def _api_post(client, key, **fields):
    token = client.get(f"/api/v1/threads/{key}/form").get_json()["token"]
    data = {"author_name": "Widget Reader", "author_email": "widget-reader@example.org", "body": "Through the API.",
            "form_token": token, **fields}
    return client.post(f"/api/v1/threads/{key}/comments", json=data)


def _checked(comment):
    check_comment(comment.id)
    db.session.expire_all()
    return db.session.get(Comment, comment.id)


def test_closing_a_thread_refuses_posts_keeps_the_text_and_shows_it_closed_everywhere(app):
    thread = factories.make_thread("closing", "Closing article")
    factories.make_comment(thread, "approved", body="Said before the close.")
    admin, reader = _admin(app), app.test_client()
    assert _post(reader, "closing", body="While open.").status_code == 303

    closed = _toggle(admin, thread, "close").get_data(as_text=True)
    assert "Comments closed on \u201cClosing article\u201d (closing)." in closed
    refused = _post(reader, "closing", body="My late thoughts, kept.")
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert "My late thoughts, kept." in page and "Comments are closed on this article." in page
    shown = reader.get("/threads/closing").get_data(as_text=True)
    assert "Comments are closed." in shown and "Said before the close." in shown and 'class="reply"' not in shown
    assert reader.get("/api/v1/threads/closing/comments").get_json()["comments_open"] is False
    by_api = _api_post(reader, "closing")
    assert by_api.status_code == 403 and by_api.get_json()["error"] == "Comments are closed on this article."

    assert "Comments opened on" in _toggle(admin, thread, "open").get_data(as_text=True)
    assert _post(reader, "closing", body="Open again.").status_code == 303


def test_a_thread_older_than_close_after_days_is_closed_and_a_newer_one_open(app):
    old = factories.make_thread("old-news", "Old news")
    new = factories.make_thread("fresh-news", "Fresh news")
    old.created_at, new.created_at = utcnow() - timedelta(days=31), utcnow() - timedelta(days=29)
    db.session.commit()
    admin, reader = _admin(app), app.test_client()
    assert _post(reader, "old-news", body="Before the setting.").status_code == 303

    _saved(admin, close_after_days="30")
    refused = _post(reader, "old-news", body="Too late for this one.")
    assert refused.status_code == 403 and "Too late for this one." in refused.get_data(as_text=True)
    assert "Comments are closed." in reader.get("/threads/old-news").get_data(as_text=True)
    assert reader.get("/api/v1/threads/old-news/comments").get_json()["comments_open"] is False
    assert _api_post(reader, "old-news").status_code == 403
    assert reader.get("/api/v1/threads/fresh-news/comments").get_json()["comments_open"] is True
    assert _post(reader, "fresh-news", body="Still in time.").status_code == 303
    listed = admin.get("/moderation/discussion/threads").get_data(as_text=True)
    assert re.search(r"Old news.*?Closed by age", listed, re.S) and re.search(r"Fresh news.*?Open", listed, re.S)
    row = db.session.get(Thread, old.id)
    db.session.refresh(row)
    assert row.comments_open is True, "closing by age rewrites no row"


def test_thread_depth_1_hides_reply_and_refuses_a_reply(app):
    thread = factories.make_thread("flat", "Flat article")
    parent = factories.make_comment(thread, "approved", body="A comment to answer.")
    admin, reader = _admin(app), app.test_client()
    assert 'class="reply"' in reader.get("/threads/flat").get_data(as_text=True)

    _saved(admin, thread_depth="1")
    page = reader.get(f"/threads/flat?replytocom={parent.id}").get_data(as_text=True)
    assert 'class="reply"' not in page and "Replying to a comment." not in page
    refused = _post(reader, "flat", parent_id=str(parent.id), body="My answer, kept.")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "My answer, kept." in text
    assert "Replies are turned off on this site; your comment can still be posted on its own." in text
    by_api = _api_post(reader, "flat", parent_id=parent.id)
    assert by_api.status_code == 422 and "Replies are turned off" in by_api.get_json()["fields"]["parent_id"]
    assert _post(reader, "flat", body="On its own.").status_code == 303


def _depth(nodes):
    return 1 + max((_depth(children) for _, children in nodes), default=0) if nodes else 0


def _api_depth(items):
    return 1 + max((_api_depth(item["replies"]) for item in items), default=0) if items else 0


def test_thread_depth_3_nests_three_deep_and_deeper_replies_sit_at_the_third_level(app):
    thread = factories.make_thread("deep", "Deep article")
    chain = [factories.make_comment(thread, "approved", body="Level 1")]
    for level in range(2, 7):
        chain.append(factories.make_comment(thread, "approved", body=f"Level {level}", parent_id=chain[-1].id))
    admin, reader = _admin(app), app.test_client()
    assert _api_depth(reader.get("/api/v1/threads/deep/comments").get_json()["comments"]) == 5

    _saved(admin, thread_depth="3")
    tree = comments.comment_tree(comments.visible_comments(thread))
    assert _depth(tree) == 3
    [(top, [(second, third_level)])] = tree
    assert (top.id, second.id) == (chain[0].id, chain[1].id)
    assert [c.id for c, _ in third_level] == [c.id for c in chain[2:]]
    assert _api_depth(reader.get("/api/v1/threads/deep/comments").get_json()["comments"]) == 3
    page = reader.get("/threads/deep").get_data(as_text=True)
    assert page.count('<ol class="children">') == 2


def test_comments_per_page_pages_the_thread_and_the_api(app):
    thread = factories.make_thread("long", "Long article")
    for n in range(1, 6):
        factories.make_comment(thread, "approved", body=f"Top comment {n}.")
    admin, reader = _admin(app), app.test_client()
    everything = reader.get("/threads/long").get_data(as_text=True)
    assert all(f"Top comment {n}." in everything for n in range(1, 6)) and "Newer comments" not in everything

    _saved(admin, comments_per_page="2")
    first = reader.get("/threads/long").get_data(as_text=True)
    assert "Top comment 2." in first and "Top comment 3." not in first and "Newer comments" in first
    last = reader.get("/threads/long?page=3").get_data(as_text=True)
    assert "Top comment 5." in last and "Top comment 4." not in last and "Older comments" in last
    assert "Page 3 of 3" in last
    api = reader.get("/api/v1/threads/long/comments").get_json()
    assert [c["body"] for c in api["comments"]] == ["Top comment 1.", "Top comment 2."] and api["next"]
    posted = _post(reader, "long", body="The newest, on the last page.")
    assert posted.status_code == 303 and "page=3" in posted.headers["Location"]
    assert "The newest, on the last page." in reader.get(posted.headers["Location"]).get_data(as_text=True)


def test_the_policy_saved_in_the_console_overrides_the_configured_one(make_app):
    app = make_app(MODERATION_AUTO_APPROVE="clean")
    with app.app_context():
        thread = factories.make_thread()
        assert _checked(factories.make_comment(thread, "pending", body=CLEAN, form_seconds=30)).state == "approved"
        admin = _admin(app)
        assert "MODERATION_AUTO_APPROVE decides" in admin.get("/moderation/discussion/").get_data(as_text=True)

        saved = _saved(admin, auto_approve="never").get_data(as_text=True)
        assert "it overrides MODERATION_AUTO_APPROVE" in saved
        held = _checked(factories.make_comment(thread, "pending", body=CLEAN + " Again.", form_seconds=30))
        assert held.state == "held"
        _saved(admin, auto_approve="clean")
        approved = _checked(factories.make_comment(thread, "pending", body=CLEAN + " Once more.", form_seconds=30))
        assert approved.state == "approved"


BLOCKED = [
    ("blocked_emails", "Spammer@Example.net", {"email": "spammer@example.net"}, "blocked email"),
    ("blocked_domains", "example.net", {"email": "someone@mail.example.net"}, "blocked domain example.net"),
    ("blocked_domains", "Bücher.example", {"email": "leser@bücher.example"}, "blocked domain xn--bcher-kva.example"),
    ("blocked_domains", "spam.example.net", {"author_url": "https://www.spam.example.net/p"},
     "blocked domain spam.example.net"),
    ("blocked_ips", "203.0.113.0/24", {"author_ip": "203.0.113.9"}, "blocked IP"),
    ("blocked_ips", "2001:db8::7", {"author_ip": "2001:db8::7"}, "blocked IP"),
    ("blocked_ips", "::ffff:192.0.2.0/120", {"author_ip": "192.0.2.77"}, "blocked IP"),
]


@pytest.mark.parametrize("field, entry, author, reason", BLOCKED)
def test_each_kind_of_blocked_entry_marks_the_comment_spam_with_a_reason(app, field, entry, author, reason):
    thread = factories.make_thread()
    _saved(_admin(app), **{field: entry})
    blocked = _checked(factories.make_comment(thread, "pending", body=CLEAN, form_seconds=30, **author))
    assert blocked.state == "spam" and reason in blocked.reasons, blocked.reasons
    other = _checked(factories.make_comment(thread, "pending", body=CLEAN + " Indeed.", form_seconds=30,
                                            email="bystander@example.com", author_ip="198.51.100.1"))
    assert other.state == "held", other.reasons


TRUSTED = [
    ("trusted_emails", "friend@example.com", {"email": "Friend@example.com"}, "trusted email"),
    ("trusted_domains", "example.com", {"email": "staff@news.example.com"}, "trusted domain"),
    ("trusted_ips", "198.51.100.0/24", {"author_ip": "198.51.100.20"}, "trusted IP"),
]


@pytest.mark.parametrize("field, entry, author, reason", TRUSTED)
def test_each_kind_of_trusted_entry_approves_even_what_the_model_calls_spam(app, field, entry, author, reason):
    thread = factories.make_thread()
    stranger = _checked(factories.make_comment(thread, "pending", body=SPAMMY, email="stranger@example.org"))
    assert stranger.state == "spam"
    _saved(_admin(app), **{field: entry})
    trusted = _checked(factories.make_comment(thread, "pending", body=SPAMMY + " Really.", **author))
    assert trusted.state == "approved" and trusted.reasons[-1] == reason, trusted.reasons


@pytest.mark.parametrize("against, comment", [
    ({"blocked_words": "casino"}, {"body": "Free casino chips"}),
    ({"blocked_domains": "example.org"}, {"author_url": "https://example.org/"}),
    ({}, {"honeypot": True}),
])
def test_a_blocked_word_a_blocked_entry_or_the_honeypot_overrules_trust(app, against, comment):
    thread = factories.make_thread()
    admin = _admin(app)
    if "blocked_words" in against:
        token = csrf_token(admin.get("/moderation/settings").get_data(as_text=True))
        admin.post("/moderation/settings", data={"csrf_token": token, "link_limit": "2", "hold_words": "",
                                                 "spam_threshold": "0.9", "clean_threshold": "0.2",
                                                 "min_form_seconds": "3", **against})
        against = {}
    _saved(admin, trusted_emails="friend@example.com", **against)
    fields = {"body": CLEAN, **comment}
    checked = _checked(factories.make_comment(thread, "pending", email="friend@example.com", **fields))
    assert checked.state == "spam" and "trusted email" not in checked.reasons, checked.reasons


def test_bad_list_lines_are_refused_beside_their_field_and_the_typed_text_is_kept(app):
    admin = _admin(app)
    typed = {"trusted_ips": "192.0.2.1\nnot-an-ip\n192.0.2.*", "blocked_emails": "fine@example.net\nnobody",
             "blocked_domains": "https://example.net/", "trusted_domains": "example.com"}
    response = _save(admin, **typed)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Line 2, \u201cnot-an-ip\u201d: not an IP address or a network" in html
    assert "Line 3, \u201c192.0.2.*\u201d: not an IP address or a network" in html
    assert "Line 2, \u201cnobody\u201d: An email address must have an @-sign." in html
    assert "Line 1, \u201chttps://example.net/\u201d: write the domain alone" in html
    assert re.search(r'id="trusted_ips"[^>]*>\s*192\.0\.2\.1\nnot-an-ip\n192\.0\.2\.\*</textarea>\s*'
                     r'<p class="error" id="trusted_ips-error">Line 2', html)
    assert "fine@example.net" in html
    assert settings.current()["trusted_domains"] == (), "nothing was saved"

    both = _save(admin, trusted_emails="twice@example.net", blocked_emails="Twice@example.net")
    assert both.status_code == 422
    assert re.search(r'id="trusted_emails"[^>]*>\s*twice@example.net</textarea>\s*<p class="error"[^>]*>'
                     r'On the blocked list too: twice@example.net', both.get_data(as_text=True))


def test_the_lists_are_sealed_in_the_database_and_never_logged(app, no_email_in_any_log):
    admin = _admin(app)
    saved = _saved(admin, blocked_emails="hidden-person@example.net", trusted_ips="192.0.2.55",
                   blocked_domains="secret-domain.example")
    html = saved.get_data(as_text=True)
    assert ("Saved: Trusted IPs (an address or a network); Blocked emails; Blocked domains (of the email or the "
            "website). Workers use the change within 2 seconds.") in html
    assert html.count("hidden-person@example.net") == 1, "in its list only: the flash names settings, not entries"
    stored = " ".join(str(v) for v in db.session.execute(sa.text("SELECT value FROM settings")).scalars())
    assert stored and not any(s in stored for s in ("hidden-person", "192.0.2.55", "secret-domain"))
    assert "hidden-person@example.net" in admin.get("/moderation/discussion/").get_data(as_text=True)
    assert settings.current()["blocked_emails"] == ("hidden-person@example.net",)
    check_comment(factories.make_comment(factories.make_thread(), "pending", email="hidden-person@example.net",
                                         author_ip="192.0.2.55").id)
    logged = "\n".join(no_email_in_any_log.lines)
    assert not any(s in logged for s in ("hidden-person", "192.0.2.55", "secret-domain"))


def test_retention_defaults_and_saved_values_are_readable_by_the_emptying(app):
    assert (settings.current()["spam_retention_days"], settings.current()["trash_retention_days"]) == (15, 30)
    _saved(_admin(app), spam_retention_days="0", trash_retention_days="7")
    assert (settings.current()["spam_retention_days"], settings.current()["trash_retention_days"]) == (0, 7)


def test_the_thread_list_filters_pages_and_counts_approved_comments(app):
    alpha = factories.make_thread("alpha-post", "Alpha post")
    factories.make_thread("beta-news", "Beta 100% news")
    for state in ("approved", "approved", "held", "spam"):
        factories.make_comment(alpha, state)
    admin = _admin(app)
    listed = admin.get("/moderation/discussion/threads").get_data(as_text=True)
    assert listed.index("Beta 100% news") < listed.index("Alpha post"), "newest first"
    assert re.search(r"Alpha post.*?<td>2</td>", listed, re.S)
    filtered = admin.get("/moderation/discussion/threads?q=ALPHA").get_data(as_text=True)
    assert "Alpha post" in filtered and "Beta 100% news" not in filtered
    assert "Beta 100% news" in admin.get("/moderation/discussion/threads?q=100%").get_data(as_text=True)
    assert "Alpha post" not in admin.get("/moderation/discussion/threads?q=100%").get_data(as_text=True)


@pytest.mark.parametrize("method, path", [
    ("GET", "/moderation/discussion/"), ("POST", "/moderation/discussion/"),
    ("GET", "/moderation/discussion/threads"), ("POST", "/moderation/discussion/threads/{id}/close"),
])
def test_only_administrators_reach_the_discussion_pages(app, moderator, method, path):
    thread = factories.make_thread()
    path = path.format(id=thread.id)
    anonymous = app.test_client().open(path, method=method)
    assert anonymous.status_code == 302 and "/moderation/login" in anonymous.headers["Location"]
    client = app.test_client()
    sign_in(client)
    token = csrf_token(client.get("/moderation/").get_data(as_text=True))
    assert client.open(path, method=method, data={**SETTINGS, "csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Thread, thread.id).comments_open is True


def test_an_expired_form_changes_nothing_and_says_so(app):
    thread = factories.make_thread("kept-open")
    admin = _admin(app)
    answer = admin.post(f"/moderation/discussion/threads/{thread.id}/close", data={"csrf_token": "stale"},
                        follow_redirects=True)
    assert "That page had expired, so nothing was changed." in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Thread, thread.id).comments_open is True
    saved = admin.post("/moderation/discussion/", data={**SETTINGS, "csrf_token": "stale", "thread_depth": "2"})
    assert saved.status_code == 422 and "nothing was saved" in saved.get_data(as_text=True)
    assert settings.current()["thread_depth"] == 5


@pytest.mark.pipeline
def test_a_running_worker_uses_a_saved_blocked_email_within_two_seconds(request, tmp_path):
    from tests.test_pipeline import PROMISED_SECONDS, _start, _state
    from tests.worker import wait_for

    app, worker = _start(request, tmp_path, "postgresql+redis")
    with app.app_context():
        factories.make_thread("lists", "Lists article")
        factories.make_moderator("root", is_admin=True)
    reader, admin = app.test_client(), app.test_client()
    assert sign_in(admin, "root").status_code == 303
    address = "listed-later@example.net"
    first = _post(reader, "lists", author_email=address, body="Before the list.")
    first_id = int(first.headers["Location"].rsplit("comment-", 1)[1])
    assert wait_for(lambda: _state(admin, first_id))["state"] == "held"

    _saved(admin, blocked_emails=address)
    time.sleep(PROMISED_SECONDS + 0.2)
    second = _post(reader, "lists", author_email=address, body="After the list.")
    second_id = int(second.headers["Location"].rsplit("comment-", 1)[1])
    checked = wait_for(lambda: _state(admin, second_id))
    assert checked["state"] == "spam" and "blocked email" in checked["reasons"], checked["reasons"]
    assert address not in worker.log


def test_after_a_key_rotation_the_lists_can_be_sealed_again_under_the_new_key(app):
    from config import TestingConfig, new_data_key
    from moderation.privacy.services import use_keys

    _saved(_admin(app), blocked_emails="rotated@example.net")
    new = new_data_key()
    try:
        use_keys(app, (new, TestingConfig.TEST_DATA_KEY))
        assert settings.reseal() == len(settings.SEALED)
        use_keys(app, (new,))
        settings.forget_cached()
        assert settings.current()["blocked_emails"] == ("rotated@example.net",)
    finally:
        use_keys(app, (TestingConfig.TEST_DATA_KEY,))
