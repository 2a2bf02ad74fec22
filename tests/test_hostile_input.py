"""What people (and scripts) type that once broke the service: each answered with a clear message, never a 500."""
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from moderation.comments import services as comments
from moderation.extensions import db
from moderation.models import Comment, Setting
from tests import factories
from tests.conftest import build_app, comment_fields, csrf_token, empty_tables, form_tokens, sign_in

HUGE = "99999999999999999999"


@pytest.fixture
def signed_in(client, moderator):
    assert sign_in(client).status_code == 303
    return client


def _count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Comment))


@pytest.mark.parametrize("website", ["http://[::1", "http://[", "https://example.org:port/", "http://[::1]x/"])
def test_a_malformed_website_is_refused_beside_its_field(client, thread, post_form, website):
    response = post_form(thread.key, author_url=website, body="My text survives.")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="author_url-error">Enter a web address starting with http:// or https://.' in html
    assert "My text survives." in html and _count() == 0


@pytest.mark.parametrize("field, value, stored", [
    ("body", "Before\x00after, with a bell\x07.", "Beforeafter, with a bell."),
    ("author_name", "Nul\x00Name", "NulName"),
    ("author_url", "https://exam\x00ple.org/", "https://example.org/"),
])
def test_nul_and_other_control_characters_are_dropped_and_the_comment_posted(app, thread, post_form, field, value, stored):
    assert post_form(thread.key, **{field: value}).status_code == 303
    assert getattr(db.session.scalar(sa.select(Comment)), field) == stored


def test_line_breaks_and_tabs_stay_in_the_text(app, thread, post_form):
    assert post_form(thread.key, body="One\r\n\tindented\rtwo").status_code == 303
    assert db.session.scalar(sa.select(Comment.body)) == "One\n\tindented\ntwo"


def test_right_to_left_overrides_are_removed_from_names(app, client, thread, post_form):
    assert post_form(thread.key, author_name="\u202egro.elpmaxe\u202c Reader\u2066").status_code == 303
    assert db.session.scalar(sa.select(Comment.author_name)) == "gro.elpmaxe Reader"


def test_a_failed_statement_shows_no_personal_data(postgresql_url):
    """The database's error (here PostgreSQL refusing a NUL that bypassed the form) never carries the values."""
    app = build_app(postgresql_url)
    with app.app_context():
        _refused_insert(factories.make_thread("refused"))
        empty_tables(app)


def _refused_insert(thread):
    with pytest.raises(DBAPIError) as raised:
        comments.post_comment(thread, author_name="Secret Name", author_email="hidden.person@example.org",
                              author_url=None, body="Private\x00text", parent_id=None, honeypot="", ip="192.0.2.1",
                              user_agent="UA")
    db.session.rollback()
    message = str(raised.value)
    assert "Secret Name" not in message and "Private" not in message and "hidden.person" not in message
    assert "parameters hidden" in message


@pytest.mark.parametrize("parent", [HUGE, "²", "١٢", "-1", "0", "1.5", "1e3", " 7x"])
def test_a_reply_to_an_impossible_comment_id_is_refused_with_the_text_kept(client, thread, post_form, parent):
    response = post_form(thread.key, parent_id=parent, body="Replying anyway.")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Replying anyway." in html and "replying to is not" in html


def test_a_console_url_or_page_marker_with_a_huge_id_is_a_404_or_ignored(signed_in, thread):
    factories.make_comment(thread, "held", body="Still listed.")
    assert signed_in.get(f"/moderation/comments/{HUGE}").status_code == 404
    assert signed_in.get("/moderation/comments/²").status_code == 404
    token = csrf_token(signed_in.get("/moderation/").get_data(as_text=True))
    assert signed_in.post(f"/moderation/comments/{HUGE}/approve", data={"csrf_token": token}).status_code == 404
    for after in (HUGE, "²", "-5", "x"):
        response = signed_in.get(f"/moderation/?after={after}")
        assert response.status_code == 200
    assert signed_in.get(f"/api/v1/moderation/comments?after={HUGE}&limit={HUGE}").status_code == 200


def test_bulk_with_impossible_ids_says_so_and_changes_nothing(signed_in, thread):
    held = factories.make_comment(thread, "held")
    token = csrf_token(signed_in.get("/moderation/").get_data(as_text=True))
    for ids in ([HUGE], ["²"], [str(held.id), HUGE], ["abc"]):
        response = signed_in.post("/moderation/comments/bulk", data={"csrf_token": token, "action": "approve", "ids": ids},
                                  follow_redirects=True)
        assert response.status_code == 200
        assert "not comments of this queue" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Comment, held.id).state == "held"


@pytest.mark.parametrize("field, value", [
    ("spam_threshold", "NaN"), ("spam_threshold", "Infinity"), ("clean_threshold", "NaN"),
    ("min_form_seconds", "-Infinity"), ("spam_threshold", "sNaN"), ("link_limit", HUGE),
])
def test_settings_refuse_numbers_that_are_not_numbers(client, app, field, value):
    factories.make_moderator("root", is_admin=True)
    sign_in(client, "root")
    page = client.get("/moderation/settings").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "link_limit": "2", "hold_words": "", "blocked_words": "",
            "spam_threshold": "0.9", "clean_threshold": "0.2", "min_form_seconds": "3", field: value}
    response = client.post("/moderation/settings", data=data)
    assert response.status_code == 422
    assert "Enter a number." in response.get_data(as_text=True) or "Between" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Setting)) == 0


@pytest.mark.parametrize("forwarded", ["x" * 300, "not-an-address", "2001:db8::1" + ":ffff" * 30, "198.51.100.7, evil"])
def test_a_forwarded_address_that_is_not_one_is_not_stored(make_app, forwarded):
    app = make_app(MODERATION_PROXY_HOPS=1)
    with app.app_context():
        factories.make_thread("forwarded")
        client = app.test_client()
        tokens = form_tokens(client.get("/threads/forwarded").get_data(as_text=True))
        response = client.post("/threads/forwarded", data={**tokens, **comment_fields()},
                               headers={"X-Forwarded-For": forwarded})
        assert response.status_code == 303
        assert db.session.scalar(sa.select(Comment.author_ip)) in (None, "198.51.100.7")


def test_a_request_too_large_to_be_a_comment_is_refused_with_an_explanation(client, thread):
    tokens = form_tokens(client.get(f"/threads/{thread.key}").get_data(as_text=True))
    response = client.post(f"/threads/{thread.key}", data={**tokens, **comment_fields(body="x" * 1_000_000)})
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "a comment can be at most 10,000 characters" in html and "your text is still in the form" in html
    assert len(html) < 20_000, "the refusal does not echo the upload"
    assert _count() == 0


def test_the_longest_comment_in_any_script_still_fits_the_request_limit(app, client, thread, post_form):
    """A browser percent-encodes the form: 10,000 four-byte characters are 120,000 bytes on the wire."""
    assert post_form(thread.key, body="😀" * 10_000).status_code == 303
    assert post_form(thread.key, body="字" * 10_001, author_email="cjk@example.org").status_code == 422


def test_the_comment_box_tells_the_browser_its_limit(client, thread):
    html = client.get(f"/threads/{thread.key}").get_data(as_text=True)
    assert 'maxlength="10000"' in html


@pytest.mark.parametrize("next_url", ["/moderation/\r\nSet-Cookie: x=1", "//evil.example/", "/\\evil.example/",
                                      "https://evil.example/", "javascript:alert(1)", "/moderation/\u2028x"])
def test_sign_in_never_follows_a_next_address_off_the_site_or_with_line_breaks(client, moderator, next_url):
    token = csrf_token(client.get("/moderation/login").get_data(as_text=True))
    response = client.post("/moderation/login", query_string={"next": next_url},
                           data={"csrf_token": token, "username": "alice", "password": factories.PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/moderation/"


def test_sign_in_follows_a_next_address_on_the_site(client, moderator):
    token = csrf_token(client.get("/moderation/login").get_data(as_text=True))
    response = client.post("/moderation/login", query_string={"next": "/moderation/?state=spam"},
                           data={"csrf_token": token, "username": "alice", "password": factories.PASSWORD})
    assert response.headers["Location"] == "/moderation/?state=spam"
