"""Isso's own published client (embed.min.js from the `isso` package) in Chromium, on a page of another origin with
Isso's markup only, against our server: read, post, reply, wait for a moderator, edit and delete in the window."""
import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from moderation.demo import page_server
from moderation.extensions import db
from moderation.isso.client import installed_file
from moderation.isso.uris import key_for
from moderation.models import Comment, utcnow
from moderation.review import services as review
from tests import factories
from tests.conftest import build_app, empty_tables
from tests.services import IN_CI
from tests.test_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.test_production import _free_port

pytestmark = [pytest.mark.browser]
PATH = "/posts/an-isso-article/"
# What a site running Isso has under its articles; only the address changes.
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>An Isso article</title></head>
<body><article><h1>An Isso article</h1><p>Words of the article.</p></article>
<script data-isso="{service}/isso/" data-isso-lang="en" src="{service}/isso/js/embed.min.js"></script>
<section id="isso-thread" data-title="An Isso article"></section>
</body></html>"""
VIEW = "async (url) => (await fetch(url, {credentials: 'include'})).status"


@pytest.fixture
def sites(sqlite_url):
    """Our service, and an article on another origin of the same site (another port: blog. and comments.)."""
    if installed_file("js/embed.min.js") is None:
        message = "the `isso` package (Isso's published client) is not installed: pip install -e '.[test]'"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    host_port = _free_port()
    host = f"http://127.0.0.1:{host_port}"
    app = build_app(sqlite_url, MODERATION_ALLOWED_ORIGINS=(host,))
    service = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    page = HOST_PAGE.format(service=f"http://127.0.0.1:{service.server_port}").encode()
    host_server = page_server(host_port, lambda path: page)
    threading.Thread(target=host_server.serve_forever, daemon=True).start()
    with app.app_context():
        thread = factories.make_thread(key_for(PATH), "An Isso article")
        factories.make_comment(thread, state="approved", body="Already here before the move.",
                               author_name="Earlier Reader")
        factories.make_moderator("alice")
    yield app, f"http://127.0.0.1:{service.server_port}", f"{host}{PATH}"
    host_server.shutdown()
    host_server.server_close()
    service.shutdown()
    empty_tables(app)


def _comment(app, body):
    with app.app_context():
        db.session.remove()
        return db.session.scalar(sa.select(Comment).where(Comment.body == body))


def _approve(app, body):
    with app.app_context():
        review.decide(_comment(app, body).id, "approve", review.find_moderator("alice"))


def _post(page, text, box=None):
    box = box or page.locator("#isso-thread > .isso-postbox")
    box.locator("textarea").fill(text)
    box.locator("[name=author]").fill("Isso Reader")
    box.locator("[name=email]").fill("isso-browser-reader@example.org")
    box.locator("input[type=submit]").click()
    return page.locator(".isso-comment", has=page.locator(".isso-text", has_text=text)).first


def test_isso_s_own_client_reads_posts_replies_edits_and_deletes_through_our_server(sites, browser):  # noqa: F811
    app, service, article = sites
    reader = browser.new_context().new_page()
    reader.set_default_timeout(10_000)
    reader.goto(article)
    earlier = reader.locator(".isso-comment", has_text="Already here before the move.")
    earlier.wait_for()
    assert reader.locator(".isso-thread-heading").inner_text() == "One Comment"
    assert reader.locator("label[for=isso-postbox-email]").inner_text() == "E-mail", "our config: email required"

    mine = _post(reader, "My first comment, through Isso's client.")
    mine.wait_for()
    assert "Comment in queue for moderation." in mine.locator(".isso-note").first.inner_text()
    earlier.locator("a.isso-reply").first.click()
    reply = _post(reader, "My reply to the earlier reader.", box=earlier.locator(".isso-postbox"))
    reply.wait_for()
    assert earlier.locator(".isso-follow-up", has_text="My reply to the earlier reader.").count() == 1
    assert _comment(app, "My reply to the earlier reader.").state == "pending"

    reader.reload()
    reader.locator(".isso-comment", has_text="My first comment").locator(".isso-note").first.wait_for()
    assert reader.locator(".isso-note", has_text="Comment in queue for moderation.").count() == 2, "theirs alone"

    stranger = browser.new_context().new_page()
    stranger.goto(article)
    stranger.locator(".isso-comment", has_text="Already here before the move.").wait_for()
    stranger.wait_for_load_state("networkidle")
    assert "My first comment" not in stranger.content()

    _approve(app, "My first comment, through Isso's client.")
    stranger.reload()
    approved = stranger.locator(".isso-comment", has_text="My first comment")
    approved.wait_for()
    assert approved.locator(".isso-note").first.inner_text() == ""
    assert approved.locator("a.isso-edit").count() == 0, "no edit link for someone else's comment"
    assert "isso-browser-reader@" not in stranger.content()

    reply = reader.locator(f"#isso-{_comment(app, 'My reply to the earlier reader.').id} > .isso-text-wrapper")
    reply.locator("a.isso-edit").click()
    reply.locator("textarea").fill("My reply, edited in the window.")
    reply.locator("a.isso-edit").click()
    reply.locator(".isso-text", has_text="My reply, edited in the window.").wait_for()
    assert _comment(app, "My reply, edited in the window.").state == "pending"

    reply.locator("a.isso-delete").click()
    reply.locator("a.isso-delete", has_text="Confirm").click()
    reply.wait_for(state="detached")
    assert _comment(app, "My reply, edited in the window.").state == "trash"

    # Fifteen minutes later: the browser still holds the cookie, and the server no longer takes it.
    first = _comment(app, "My first comment, through Isso's client.")
    assert reader.evaluate(VIEW, f"{service}/isso/id/{first.id}") == 200, "in the window, the cookie is good"
    with app.app_context():
        db.session.execute(sa.update(Comment).where(Comment.id == first.id)
                           .values(created_at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
    statuses = reader.evaluate("""async ([url, body]) => {
        const options = {credentials: "include", headers: {"Content-Type": "application/json"}};
        const edit = await fetch(url, {...options, method: "PUT", body: body});
        const remove = await fetch(url, {...options, method: "DELETE"});
        return [edit.status, remove.status];
    }""", [f"{service}/isso/id/{first.id}", json.dumps({"text": "Too late to change."})])
    assert statuses == [403, 403] and reader.evaluate(VIEW, f"{service}/isso/id/{first.id}") == 403
    assert _comment(app, "My first comment, through Isso's client.").state == "approved"
