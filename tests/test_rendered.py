"""A thread's readers are shown what was made once per version of the thread: never stale, whoever changed it and
however, each comment's HTML made when it was written, and the same number of queries for 5 comments or 50."""
import pytest
import sqlalchemy as sa
from cachetools import LRUCache

from moderation.comments import rendered
from moderation.comments import services as comments
from moderation.extensions import db
from moderation.models import Comment, Thread
from moderation.review import services as review
from moderation.text import render_body
from tests import factories
from tests.conftest import SITE, comment_fields, form_tokens


def _page(client, key="first-article"):
    response = client.get(f"/threads/{key}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _bodies(client, key="first-article", headers=None):
    response = client.get(f"/api/v1/threads/{key}/comments", headers=headers or {})
    assert response.status_code == 200
    return [comment["body"] for comment in response.get_json()["comments"]]


def _shown(client, text, key="first-article"):
    """Whether the text is on the article's page and in its JSON alike (they must never disagree)."""
    on_page, in_json = text in _page(client, key), text in _bodies(client, key)
    assert on_page == in_json, f"the page and the JSON disagree about {text!r}"
    return on_page


def test_every_change_a_reader_would_see_reaches_the_kept_page_at_once(app, client, thread, moderator):
    first = factories.make_comment(thread, state="approved", body="First words.")
    held = factories.make_comment(thread, state="held", body="Held words.")
    assert _shown(client, "First words.") and not _shown(client, "Held words.")
    review.decide(held.id, "approve", moderator)
    assert _shown(client, "Held words.")
    review.edit(first.id, moderator, body="Edited words.", author_name="Renamed Reader", author_url=None)
    assert _shown(client, "Edited words.") and not _shown(client, "First words.")
    assert "Renamed Reader" in _page(client)
    review.decide(first.id, "unapprove", moderator)
    assert not _shown(client, "Edited words.")
    review.decide(held.id, "trash", moderator)
    assert not _shown(client, "Held words.")
    assert review.restore(held.id, moderator)
    assert _shown(client, "Held words.")


def test_a_change_written_by_any_other_program_reaches_the_kept_page(app, client, thread, make_app):
    """The version is kept by the database itself: a worker on another machine, a script, a plain UPDATE."""
    comment = factories.make_comment(thread, state="held", body="Approved elsewhere.")
    assert not _shown(client, "Approved elsewhere.")
    other = make_app()
    with other.app_context():
        db.session.execute(sa.update(Comment).where(Comment.id == comment.id).values(state="approved"))
        db.session.commit()
    assert _shown(client, "Approved elsewhere.")
    db.session.execute(sa.update(Comment).where(Comment.id == comment.id).values(body_html="<p>Changed by SQL.</p>"))
    db.session.commit()
    assert "Changed by SQL." in _page(client)
    db.session.execute(sa.delete(Comment).where(Comment.id == comment.id))
    db.session.commit()
    assert "Changed by SQL." not in _page(client) and _bodies(client) == []


def test_a_change_nobody_sees_leaves_the_version_alone(app, thread, moderator):
    """Posts awaiting moderation and a held comment's decisions do not make every reader's page again."""
    factories.make_comment(thread, state="approved")
    before = db.session.scalar(sa.select(Thread.version).where(Thread.id == thread.id))
    held = factories.make_comment(thread, state="held")
    review.decide(held.id, "spam", moderator)
    db.session.execute(sa.update(Comment).where(Comment.thread_id == thread.id).values(check_attempts=3))
    db.session.commit()
    assert db.session.scalar(sa.select(Thread.version).where(Thread.id == thread.id)) == before


def test_a_thread_made_again_under_the_same_key_shows_none_of_the_old_comments(app, client, thread):
    factories.make_comment(thread, state="approved", body="From the old article.")
    assert _shown(client, "From the old article.")
    db.session.delete(db.session.get(Thread, thread.id))
    db.session.commit()
    comments.create_thread("first-article", "The article again")
    assert not _shown(client, "From the old article.")
    assert "The article again" in _page(client)


def test_a_readers_own_comment_awaiting_moderation_is_shown_to_them_alone(app, thread, moderator):
    factories.make_comment(thread, state="approved", body="Everyone sees this.")
    author, other = app.test_client(), app.test_client()
    assert "Everyone sees this." in _page(other)
    tokens = form_tokens(_page(author))
    posted = author.post("/threads/first-article", data={**tokens, **comment_fields(body="My own words.")})
    assert posted.status_code == 303
    mine = _page(author)
    assert "My own words." in mine and "Your comment is awaiting moderation." in mine
    assert "My own words." not in _page(other)
    assert "My own words." in _page(author), "the author's page is made for them, not taken from the others'"
    review.decide(db.session.scalar(sa.select(Comment.id).where(Comment.body == "My own words.")), "approve",
                  moderator)
    for client in (author, other):
        page = _page(client)
        assert "My own words." in page and "Your comment is awaiting moderation." not in page


def test_a_widget_readers_own_comment_is_theirs_alone_and_the_public_answer_stays_public(api):
    factories.make_thread("article")
    client = api.test_client()
    token = client.get("/api/v1/threads/article/form").get_json()["token"]
    posted = client.post("/api/v1/threads/article/comments", headers={"Origin": SITE}, json={
        "author_name": "Widget Reader", "author_email": "widget-reader@example.org", "body": "Mine, for now.",
        "form_token": token}).get_json()
    assert _bodies(client, "article") == []
    own = client.get("/api/v1/threads/article/comments", headers={"X-Author-Token": posted["author_token"]})
    assert [c["body"] for c in own.get_json()["comments"]] == ["Mine, for now."]
    assert own.headers["Cache-Control"] == "private, no-store"
    public = client.get("/api/v1/threads/article/comments")
    assert public.headers["Cache-Control"].startswith("public") and public.get_json()["comments"] == []


def test_the_etag_answers_304_until_the_thread_changes(app, client, thread, moderator):
    factories.make_comment(thread, state="approved", body="Unchanged.")
    first = client.get("/api/v1/threads/first-article/comments")
    etag = first.headers["ETag"]
    again = client.get("/api/v1/threads/first-article/comments", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    held = factories.make_comment(thread, state="held", body="New now.")
    review.decide(held.id, "approve", moderator)
    changed = client.get("/api/v1/threads/first-article/comments", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert [c["body"] for c in changed.get_json()["comments"]] == ["Unchanged.", "New now."]


def test_each_comment_is_made_into_html_when_it_is_written(app, client, thread, moderator):
    comment = factories.make_comment(thread, state="approved", body="See https://example.org/page.\n\nBye.")
    assert comment.body_html == str(render_body(comment.body))
    review.edit(comment.id, moderator, body="Now <b>plain</b>.", author_name="Reader", author_url=None)
    stored = db.session.scalar(sa.select(Comment.body_html).where(Comment.id == comment.id))
    assert stored == "<p>Now &lt;b&gt;plain&lt;/b&gt;.</p>"
    # What the pages show is the stored HTML, not the text made again on every read.
    db.session.execute(sa.update(Comment).where(Comment.id == comment.id).values(body_html="<p>As stored.</p>"))
    db.session.commit()
    assert "As stored." in _page(client)
    [answer] = client.get("/api/v1/threads/first-article/comments").get_json()["comments"]
    assert answer["html"] == "<p>As stored.</p>"


def _statements(app, read):
    """How many SQL statements `read()` sent."""
    sent = []
    listener = lambda *args: sent.append(args[2])  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        read()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    return len(sent)


def _thread_of(count, key):
    """A thread of `count` approved comments, one in three a reply, written for a reader's first read."""
    thread = factories.make_thread(key, key)
    parent = None
    for n in range(count):
        comment = factories.make_comment(thread, state="approved", body=f"Comment {n} of {key}.",
                                         parent_id=parent.id if parent and n % 3 == 0 else None)
        parent = comment
    return thread


@pytest.mark.parametrize("gravatar", [False, True])
def test_reading_a_thread_costs_the_same_queries_for_5_comments_or_50(make_app, gravatar):
    app = make_app(MODERATION_GRAVATAR=gravatar)
    with app.app_context():
        _thread_of(1, "warm"), _thread_of(5, "small"), _thread_of(50, "large")
        client = app.test_client()
        client.get("/threads/warm")  # the session, the settings: read once per process or browser
        for path in ("/threads/{key}", "/api/v1/threads/{key}/comments"):
            small = _statements(app, lambda: client.get(path.format(key="small")))
            large = _statements(app, lambda: client.get(path.format(key="large")))
            assert small == large, f"{path}: {small} statements for 5 comments, {large} for 50"


def test_a_readers_comment_turning_back_to_awaiting_meanwhile_is_never_kept_for_everyone(app, thread, moderator):
    """Between asking whether this reader has comments awaiting and reading the thread, a moderator's undo puts
    one back to held: the page kept for everyone must not hold it."""
    factories.make_comment(thread, state="approved", body="Everyone sees this.")
    author, other = app.test_client(), app.test_client()
    tokens = form_tokens(_page(author))
    assert author.post("/threads/first-article", data={**tokens, **comment_fields(body="Mine, rejected.")}
                       ).status_code == 303
    mine = db.session.scalar(sa.select(Comment.id).where(Comment.body == "Mine, rejected."))
    review.decide(mine, "reject", moderator)
    review.decide(factories.make_comment(thread, state="held").id, "approve", moderator)  # a new version: made again

    undone = []

    def undone_meanwhile(conn, cursor, statement, parameters, context, executemany):
        if not undone and statement.lstrip().startswith("SELECT comments.id") and "ORDER BY comments.created_at" in \
                statement:
            undone.append(True)
            with db.engine.begin() as other_connection:
                other_connection.execute(sa.update(Comment).where(Comment.id == mine).values(state="held"))

    sa.event.listen(db.engine, "before_cursor_execute", undone_meanwhile)
    try:
        _page(author)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", undone_meanwhile)
    assert undone, "the undo came between the two questions"
    assert "Mine, rejected." not in _page(other)


def test_a_thread_bigger_than_what_a_process_keeps_is_still_shown(app, client, thread, monkeypatch):
    monkeypatch.setattr(rendered, "_kept", LRUCache(maxsize=5_000, getsizeof=lambda value: len(value[0])))
    factories.make_comment(thread, state="approved", body="Long words. " * 600)
    assert "Long words." in _page(client)
    assert _bodies(client) == ["Long words. " * 600]
