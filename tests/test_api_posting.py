"""Posting through the JSON API, as the widget on another site's page does: form token, author token, errors."""
import json
import time

import pytest

from moderation.extensions import db
from moderation.models import Comment, Thread
from tests import factories
from tests.conftest import SITE
from workers.tasks import check_comment


def _fields(client, key="article", **fields):
    token = client.get(f"/api/v1/threads/{key}/form").get_json()["token"]
    data = {"author_name": "Widget Reader", "author_email": "widget-reader@example.org", "author_url": "",
            "body": "Posted through the API.", "form_token": token}
    data.update(fields)
    return data


def _post(client, key="article", headers=None, **fields):
    return client.post(f"/api/v1/threads/{key}/comments", json=_fields(client, key, **fields), headers=headers or {})


def _bodies(answer):
    return [c["body"] for c in answer["comments"]]


def test_a_post_is_pending_and_only_its_author_token_shows_it(api):
    factories.make_thread("article")
    client = api.test_client()
    response = _post(client, headers={"Origin": SITE})
    assert response.status_code == 201
    posted = response.get_json()
    assert posted["comment"]["state"] == "pending" and posted["comment"]["body"] == "Posted through the API."
    assert response.headers["Location"] == "/api/v1/threads/article/comments"
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "widget-reader" not in response.get_data(as_text=True)
    token = posted["author_token"]

    assert _bodies(client.get("/api/v1/threads/article/comments").get_json()) == [], "nobody else sees it"
    own = client.get("/api/v1/threads/article/comments", headers={"X-Author-Token": token})
    assert own.headers["Cache-Control"] == "private, no-store"
    [mine] = own.get_json()["comments"]
    assert (mine["body"], mine["awaiting_moderation"]) == ("Posted through the API.", True)

    other = _post(client, body="Someone else's comment.", author_email="someone-else@example.org").get_json()
    theirs = client.get("/api/v1/threads/article/comments", headers={"X-Author-Token": other["author_token"]})
    assert _bodies(theirs.get_json()) == ["Someone else's comment."]
    for forged in ("forged", token[:-2] + "xx", "x" * 5000, ""):
        answer = client.get("/api/v1/threads/article/comments", headers={"X-Author-Token": forged})
        assert answer.status_code == 200 and _bodies(answer.get_json()) == []


def test_the_author_token_carries_over_to_the_next_post(api):
    factories.make_thread("article")
    client = api.test_client()
    token = _post(client).get_json()["author_token"]
    _post(client, body="A second comment from the same reader.", headers={"X-Author-Token": token})
    shown = client.get("/api/v1/threads/article/comments", headers={"X-Author-Token": token}).get_json()
    assert _bodies(shown) == ["Posted through the API.", "A second comment from the same reader."]


def test_a_post_is_checked_like_any_other(api):
    factories.make_thread("article")
    client = api.test_client()
    robot = _post(client, comment_check="http://spam.example").get_json()["comment"]["id"]
    person = _post(client, body="A person's comment.").get_json()["comment"]["id"]
    check_comment(robot)
    check_comment(person)
    db.session.expire_all()
    assert db.session.get(Comment, robot).state == "spam"
    assert db.session.get(Comment, person).state == "held"
    assert db.session.get(Comment, person).author_email == "widget-reader@example.org"


def test_the_first_post_from_a_listed_site_creates_the_thread(api):
    client = api.test_client()
    response = _post(client, key="new-article", title="A new article", url=f"{SITE}/posts/new-article",
                     headers={"Origin": SITE})
    assert response.status_code == 201
    thread = db.session.scalar(db.select(Thread).where(Thread.key == "new-article"))
    assert (thread.title, thread.url) == ("A new article", f"{SITE}/posts/new-article")


def test_a_new_thread_keeps_no_address_of_another_site(api):
    client = api.test_client()
    _post(client, key="elsewhere", title="Elsewhere", url="https://phishing.example/login", headers={"Origin": SITE})
    thread = db.session.scalar(db.select(Thread).where(Thread.key == "elsewhere"))
    assert thread.title == "Elsewhere" and thread.url is None


def test_an_unknown_thread_is_not_created_by_a_script_or_an_unlisted_site(api):
    client = api.test_client()
    script = _post(client, key="made-up")
    assert script.status_code == 404 and "MODERATION_ALLOWED_ORIGINS" in script.get_json()["error"]
    unlisted = _post(client, key="made-up", headers={"Origin": "https://elsewhere.example"})
    assert unlisted.status_code == 403 and "MODERATION_ALLOWED_ORIGINS" in unlisted.get_json()["error"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Thread)) == 0


@pytest.mark.parametrize("fields, expected", [
    ({"author_email": "not an address"}, {"author_email": "Please enter a valid email address, like name@example.org."}),
    ({"author_name": "  ", "body": ""}, {"author_name": "Please enter your name.", "body": "Please type a comment."}),
    ({"author_url": "javascript:alert(1)"}, {"author_url": "Enter a web address starting with http:// or https://."}),
    ({"body": "x" * 10_001}, {"body": "A comment can be at most 10,000 characters."}),
    ({"form_token": "1.0.forged"}, {"form_token": "This form could not be verified, so nothing was posted. "
                                                  "Your comment is still below: please send it again."}),
    ({"body": 5, "parent_id": "first"}, {"body": "Input should be a valid string",
                                         "parent_id": "Input should be a valid integer, unable to parse string as an integer"}),
])
def test_bad_fields_are_a_422_with_the_forms_words_per_field(api, fields, expected):
    factories.make_thread("article")
    response = _post(api.test_client(), **fields)
    assert response.status_code == 422
    assert response.get_json()["fields"] == expected
    assert db.session.scalar(db.select(db.func.count()).select_from(Comment)) == 0


def test_a_reply_needs_an_approved_parent_on_the_same_thread(api):
    thread = factories.make_thread("article")
    parent = factories.make_comment(thread, "approved")
    held = factories.make_comment(thread, "held")
    client = api.test_client()
    assert _post(client, parent_id=parent.id).status_code == 201
    refused = _post(client, parent_id=held.id)
    assert refused.status_code == 422 and "not available" in refused.get_json()["fields"]["parent_id"]


def test_an_old_form_token_is_refused_with_a_sentence(make_app):
    app = make_app(MODERATION_FORM_MAX_AGE=1)
    with app.app_context():
        factories.make_thread("article")
        client = app.test_client()
        data = _fields(client)
        time.sleep(2.1)
        response = client.post("/api/v1/threads/article/comments", json=data)
        assert response.status_code == 422
        assert "more than" in response.get_json()["fields"]["form_token"]


@pytest.mark.parametrize("data, content_type", [("{not json", "application/json"), ("[1, 2]", "application/json"),
                                                ("author_name=x", "application/x-www-form-urlencoded")])
def test_a_body_that_is_not_a_json_object_is_a_400_that_says_so(api, data, content_type):
    response = api.test_client().post("/api/v1/threads/article/comments", data=data, content_type=content_type)
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]


def test_an_oversized_body_is_a_413_in_json(api):
    response = api.test_client().post("/api/v1/threads/article/comments", data=json.dumps({"body": "x" * 200_000}),
                                      content_type="application/json")
    assert response.status_code == 413 and "error" in response.get_json()


def test_posting_again_too_soon_is_a_429_with_the_wait(make_app):
    app = make_app(MODERATION_FLOOD_INTERVAL=60)
    with app.app_context():
        factories.make_thread("article")
        client = app.test_client()
        assert _post(client).status_code == 201
        again = _post(client, body="Straight away again.")
        assert again.status_code == 429
        assert again.get_json()["retry_after"] == 60 and again.headers["Retry-After"] == "60"


def test_the_rate_limit_is_a_429_in_json(make_app):
    app = make_app(RATELIMIT_ENABLED=True, MODERATION_POST_LIMIT="2 per minute")
    with app.app_context():
        factories.make_thread("article")
        client = app.test_client()
        statuses = [_post(client, body=f"Comment {n}.").status_code for n in range(3)]
        assert statuses == [201, 201, 429]
        limited = _post(client, body="Once more.")
        assert "error" in limited.get_json() and int(limited.headers["Retry-After"]) > 0


def test_a_refused_first_comment_leaves_no_thread_behind(api):
    client = api.test_client()
    refused = _post(client, key="squat", title="BUY CHEAP PILLS", parent_id=2147483647, headers={"Origin": SITE})
    assert refused.status_code == 422
    assert db.session.scalar(db.select(db.func.count()).select_from(Thread)) == 0
    assert "BUY CHEAP PILLS" not in client.get("/").get_data(as_text=True)


def test_a_thread_a_widget_brought_is_listed_once_a_comment_on_it_is_approved(api):
    factories.make_comment(factories.make_thread("older", "An older article"), "approved")
    client = api.test_client()
    posted = _post(client, key="fresh", title="Fresh article", headers={"Origin": SITE}).get_json()
    assert "Fresh article" not in client.get("/").get_data(as_text=True), "not listed on a robot's word"
    comment = db.session.get(Comment, posted["comment"]["id"])
    comment.state = "approved"
    db.session.commit()
    assert "Fresh article" in client.get("/").get_data(as_text=True)


def test_the_page_address_is_kept_without_its_query(api):
    client = api.test_client()
    _post(client, key="news", title="News", url=f"{SITE}/post?email=alice@example.org&utm=1#top", headers={"Origin": SITE})
    thread = db.session.scalar(db.select(Thread).where(Thread.key == "news"))
    assert thread.url == f"{SITE}/post"
    for hostile in (f"{SITE}/a\x00b", "javascript:alert(1)", f"{SITE}/" + "x" * 3000):
        key = f"odd-{len(hostile)}-{hostile[-1].encode().hex()}"
        assert _post(client, key=key, title="Odd", url=hostile, headers={"Origin": SITE}).status_code == 201
        assert db.session.scalar(db.select(Thread.url).where(Thread.key == key)) is None


def test_a_long_page_title_is_cut_not_refused(api):
    response = _post(api.test_client(), key="long", title="T" * 1000, headers={"Origin": SITE})
    assert response.status_code == 201
    assert db.session.scalar(db.select(Thread.title).where(Thread.key == "long")) == "T" * 300


def test_two_first_comments_on_one_new_article_at_once_both_land(api):
    """The other request creates the thread between this one's look-up and its insert: this one joins it."""
    import sqlalchemy as sa

    client = api.test_client()
    first = _fields(client, key="race", title="Race")
    other = sa.create_engine(api.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
    raced = []

    def create_it_first(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO THREADS") and not raced:
            raced.append(True)
            with other.begin() as connection:
                connection.execute(sa.text("INSERT INTO threads (key, title, comments_open, created_at) "
                                           "VALUES ('race', 'Race', :yes, CURRENT_TIMESTAMP)"), {"yes": True})

    sa.event.listen(db.engine, "before_cursor_execute", create_it_first)
    try:
        response = client.post("/api/v1/threads/race/comments", json=first, headers={"Origin": SITE})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", create_it_first)
        other.dispose()
    assert raced and response.status_code == 201, response.get_json()
    assert db.session.scalar(db.select(db.func.count()).select_from(Thread).where(Thread.key == "race")) == 1


@pytest.mark.parametrize("path", ["/api/v1/threads/article/comments", "/api/v1/moderation/comments/1",
                                  "/api/v1/moderation/comments/bulk"])
def test_thousands_of_nested_brackets_are_a_400(api, path):
    response = api.test_client().post(path, data="[" * 5000, content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]


def test_the_author_token_adds_the_authors_pending_comments_to_everyone_elses_approved_ones(api):
    thread = factories.make_thread("article")
    factories.make_comment(thread, "approved", body="Someone else's approved comment.")
    client = api.test_client()
    token = _post(client).get_json()["author_token"]
    shown = client.get("/api/v1/threads/article/comments", headers={"X-Author-Token": token}).get_json()
    assert _bodies(shown) == ["Someone else's approved comment.", "Posted through the API."]
    mine = db.session.scalar(db.select(Comment).where(Comment.body == "Posted through the API."))
    mine.state, mine.decided_at = "rejected", mine.created_at
    db.session.commit()
    shown = client.get("/api/v1/threads/article/comments", headers={"X-Author-Token": token}).get_json()
    assert _bodies(shown) == ["Someone else's approved comment."], "a rejected comment is no longer its author's to see"
