"""The widget on another site's page, in Chromium: the host page on http://localhost:<port>, the service on
http://127.0.0.1:<port>, a real worker checking what is posted."""
import gzip
import threading
import uuid

import pytest
from werkzeug.serving import make_server

from moderation.demo import page_server
from moderation.extensions import db
from moderation.models import Comment
from moderation.review import services as review
from tests import factories
from tests.conftest import build_app, empty_tables
from tests.test_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.test_production import _free_port
from tests.worker import Worker, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.pipeline]
KEY = "widget-article"
HOST_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>A host article</title></head>
<body><article><h1>A host article</h1><p>Words of the article.</p>
<p><a data-comment-count="{key}" href="#comments">Comments</a></p></article>
<section id="comments" data-thread="{key}" data-title="A host article"></section>
<script src="{service}/embed.js" defer></script>
</body></html>"""


@pytest.fixture
def sites(tmp_path):
    """The service (with a worker) and a host site on another origin whose article embeds the widget."""
    host_port = _free_port()
    host = f"http://localhost:{host_port}"
    database_url = f"sqlite:///{tmp_path / 'widget.sqlite3'}"
    broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    app = build_app(database_url, CELERY_BROKER_URL=broker_url, MODERATION_ALLOWED_ORIGINS=(host,))
    worker = Worker({"DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url})
    service = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    service_base = f"http://127.0.0.1:{service.server_port}"
    pages = {lang: HOST_PAGE.format(key=KEY, service=service_base, lang=lang).encode() for lang in ("en", "de", "fr")}

    # /de/article is the German site's article, /fr/article the French one's.
    host_server = page_server(host_port, lambda path: pages.get(path.strip("/").split("/")[0], pages["en"]))
    threading.Thread(target=host_server.serve_forever, daemon=True).start()
    yield app, service_base, host
    host_server.shutdown()
    host_server.server_close()
    service.shutdown()
    worker.stop()
    empty_tables(app)


def _state(app, body):
    with app.app_context():
        db.session.remove()
        return db.session.scalar(db.select(Comment.state).where(Comment.body == body))


def _tab_to(page, name, presses=15):
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.name") == name:
            return
    raise AssertionError(f"Tab never reached the {name} field")


def test_a_reader_posts_with_the_keyboard_and_sees_their_comment_awaiting_after_a_reload(sites, browser):  # noqa: F811
    app, service, host = sites
    body = f"Posted from another site's page {uuid.uuid4().hex[:6]}."
    reader = browser.new_context()
    page = reader.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{host}/article")
    page.get_by_role("heading", name="Leave a Reply").wait_for()
    assert page.get_by_text("Your email address will not be published.").is_visible()
    assert page.locator("a[data-comment-count]").inner_text() == "No comments"

    _tab_to(page, "body")
    page.keyboard.type(body)
    page.keyboard.press("Tab")
    page.keyboard.type("Keyboard Reader")
    page.keyboard.press("Tab")
    page.keyboard.type("keyboard-reader@example.org")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the website is optional; the robots' field takes no focus
    assert page.evaluate("document.activeElement.name") == "remember"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    page.get_by_text("Your comment was posted and is awaiting moderation.").wait_for()
    mine = page.locator("li.cw-comment", has_text=body)
    assert "Your comment is awaiting moderation." in mine.inner_text()
    assert page.locator("textarea[name=body]").input_value() == ""
    wait_for(lambda: _state(app, body) == "held", timeout=30)

    page.reload()
    page.locator("li.cw-comment", has_text=body).wait_for()
    assert "Your comment is awaiting moderation." in page.locator("li.cw-comment", has_text=body).inner_text()
    assert page.locator("input[name=author_name]").input_value() == "Keyboard Reader", "details saved when ticked"
    assert not [c for c in reader.cookies() if "127.0.0.1" in c["domain"]], "no cookie of the service's site"

    stranger = browser.new_context().new_page()
    stranger.goto(f"{host}/article")
    stranger.get_by_role("heading", name="Leave a Reply").wait_for()
    stranger.wait_for_load_state("networkidle")
    assert body not in stranger.content(), "nobody else sees a comment awaiting moderation"

    with app.app_context():
        comment_id = db.session.scalar(db.select(Comment.id).where(Comment.body == body))
        review.decide(comment_id, "approve", factories.make_moderator("alice"))
    stranger.reload()
    stranger.locator("li.cw-comment", has_text=body).wait_for()
    assert stranger.locator("a[data-comment-count]").inner_text() == "1 comment"
    assert "keyboard-reader@example.org" not in stranger.content()


def test_errors_are_shown_beside_their_fields_and_the_text_stays(sites, browser):  # noqa: F811
    app, service, host = sites
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{host}/article")
    page.get_by_role("heading", name="Leave a Reply").wait_for()
    page.get_by_label("Comment *").fill("A long and careful comment I do not want to type again.")
    page.get_by_label("Name *").fill("Careful Reader")
    page.get_by_label("Email *").fill("not an address")
    page.get_by_role("button", name="Post Comment").click()
    error = page.get_by_text("Please enter a valid email address, like name@example.org.")
    error.wait_for()
    assert page.get_by_label("Email *").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Comment *").input_value() == "A long and careful comment I do not want to type again."
    assert page.get_by_role("alert").first.inner_text() == "Your comment was not posted yet: please correct what is marked below."

    page.route(f"{service}/api/v1/threads/*/comments", lambda route: route.abort()
               if route.request.method == "POST" else route.continue_())
    page.get_by_label("Email *").fill("careful-reader@example.org")
    page.get_by_role("button", name="Post Comment").click()
    page.get_by_text("The comment service could not be reached, so nothing was posted.").wait_for()
    assert page.get_by_label("Comment *").input_value() == "A long and careful comment I do not want to type again."
    assert _state(app, "A long and careful comment I do not want to type again.") is None


@pytest.mark.parametrize("lang, heading, awaiting, bad_email", [
    ("de", "Schreibe einen Kommentar", "Dein Kommentar muss noch freigegeben werden.",
     "Bitte gib eine gültige E-Mail-Adresse ein, etwa name@example.org."),
    ("fr", "Laisser un commentaire", "Votre commentaire est en attente de modération.",
     "Veuillez saisir une adresse e-mail valide, comme nom@example.org."),
])
def test_the_widget_speaks_the_host_pages_language(sites, browser, lang, heading, awaiting, bad_email):  # noqa: F811
    app, service, host = sites
    page = browser.new_context(locale="en-US").new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{host}/{lang}/article")
    page.get_by_role("heading", name=heading).wait_for()
    page.locator("textarea[name=body]").fill("Ein Kommentar, un commentaire.")
    page.locator("input[name=author_name]").fill("Leserin")
    page.locator("input[name=author_email]").fill("keine Adresse")
    page.locator("button[type=submit]").click()
    page.get_by_text(bad_email).wait_for()
    page.locator("input[name=author_email]").fill(f"reader-{lang}@example.org")
    page.locator("button[type=submit]").click()
    page.get_by_text(awaiting).wait_for()


def _open(browser, host, path="article"):  # noqa: F811
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{host}/{path}")
    page.locator("#comments h2").wait_for()
    page.wait_for_load_state("networkidle")
    return page


def _fill(page, body, email="widget-reader@example.org"):
    page.get_by_label("Comment *").fill(body)
    page.get_by_label("Name *").fill("Widget Reader")
    page.get_by_label("Email *").fill(email)


def test_a_closed_thread_shows_its_comments_without_reply_or_form(sites, browser):  # noqa: F811
    app, service, host = sites
    with app.app_context():
        thread = factories.make_thread(KEY, "A host article")
        factories.make_comment(thread, "approved", body="Said before it closed.")
        thread.comments_open = False
        db.session.commit()
    page = _open(browser, host)
    page.get_by_text("Said before it closed.").wait_for()
    page.get_by_text("Comments are closed.").wait_for()
    assert page.locator("button.cw-reply").count() == 0
    assert not page.get_by_label("Comment *").is_visible()


def test_staff_replies_are_marked_and_reply_buttons_go_when_replies_are_off(sites, browser):  # noqa: F811
    from moderation.review.services import reply
    from moderation.spam import settings as spam_settings

    app, service, host = sites
    with app.app_context():
        thread = factories.make_thread(KEY, "A host article")
        asked = factories.make_comment(thread, "approved", body="A reader's question.")
        reply(asked.id, factories.make_moderator("editor"), "The editor's answer.")
    page = _open(browser, host)
    page.get_by_text("The editor's answer.").wait_for()
    assert page.locator(".cw-staff").all_inner_texts() == ["Staff"]
    assert page.locator("button.cw-reply").count() == 2
    with app.app_context():
        spam_settings.save({"thread_depth": 1})
    page = _open(browser, host)
    page.get_by_text("The editor's answer.").wait_for()
    assert page.locator("button.cw-reply").count() == 0, "Reply is offered where the site takes no replies"
    assert page.get_by_label("Comment *").is_visible(), "the form for a new comment is still there"


def test_the_authors_comment_is_shown_after_posting_on_a_long_thread(sites, browser):  # noqa: F811
    app, service, host = sites
    with app.app_context():
        thread = factories.make_thread(KEY, "A host article")
        for n in range(55):
            factories.make_comment(thread, "approved", body=f"Earlier comment {n}.")
    page = _open(browser, host)
    page.get_by_text("Earlier comment 49.").wait_for()
    _fill(page, "Posted at the end of a long thread.")
    page.get_by_role("button", name="Post Comment").click()
    mine = page.locator("li.cw-comment", has_text="Posted at the end of a long thread.")
    mine.wait_for()
    assert "Your comment is awaiting moderation." in mine.inner_text()


def test_after_an_expired_form_the_next_send_is_not_taken_for_a_robot(sites, browser):  # noqa: F811
    """The form token ran out while the reader typed: they are told, click again a moment later, and the
    comment goes through as a person's (not held as sent faster than a person types)."""
    app, service, host = sites
    app.config["MODERATION_FORM_MAX_AGE"] = 2
    page = _open(browser, host)
    page.get_by_label("Comment *").focus()  # the form token is handed out when the reader starts
    _fill(page, "Typed slowly, sent twice.")
    page.wait_for_timeout(3_500)  # the token's age is counted in whole seconds
    page.get_by_role("button", name="Post Comment").click()
    page.get_by_text("This form was opened more than").first.wait_for()
    assert page.get_by_label("Comment *").input_value() == "Typed slowly, sent twice."
    page.wait_for_timeout(1_000)
    app.config["MODERATION_FORM_MAX_AGE"] = 3600
    page.wait_for_timeout(2_500)
    page.get_by_role("button", name="Post Comment").click()
    page.get_by_text("Your comment was posted and is awaiting moderation.").wait_for()
    wait_for(lambda: _state(app, "Typed slowly, sent twice.") == "held", timeout=30)
    with app.app_context():
        reasons = db.session.scalar(db.select(Comment.reasons).where(Comment.body == "Typed slowly, sent twice."))
    assert not any("a person takes at least" in reason for reason in reasons), reasons


def test_the_widget_is_small(client):
    sizes = {}
    for name, mimetype in (("/embed.js", "text/javascript"), ("/embed.css", "text/css")):
        with client.get(name) as response:
            assert response.status_code == 200 and response.mimetype == mimetype
            assert response.headers["Cache-Control"] == "public, max-age=3600"
            sizes[name] = len(gzip.compress(response.get_data()))
    assert sum(sizes.values()) < 15_000, sizes
