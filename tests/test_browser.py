"""A real reader and a real moderator in Chromium, against a real server and a real worker."""
import threading
import uuid

import pytest
from werkzeug.serving import make_server

from moderation.extensions import db
from moderation.models import Comment, Thread
from tests import factories
from tests.conftest import build_app, empty_tables
from tests.services import CHROMIUM, need
from tests.worker import Worker, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.pipeline]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def site(tmp_path):
    """The app served over HTTP on a free port, with a worker on the embedded SQLite broker."""
    database_url = f"sqlite:///{tmp_path / 'site.sqlite3'}"
    broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    app = build_app(database_url, CELERY_BROKER_URL=broker_url)
    worker = Worker({"DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with app.app_context():
        factories.make_thread("browser-article", "Read in a real browser")
        factories.make_moderator("alice")
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    worker.stop()
    empty_tables(app)


@pytest.fixture
def browser():
    need("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _state(app, body):
    with app.app_context():
        return db.session.scalar(db.select(Comment.state).where(Comment.body == body))


def test_reader_posts_moderator_approves_visitor_reads(site, browser, tmp_path):
    app, base = site
    body = f"Seen through Chromium {uuid.uuid4().hex[:6]}."
    reader = browser.new_page()
    reader.goto(f"{base}/threads/browser-article")
    reader.get_by_label("Comment *").fill(body)
    reader.get_by_label("Name *").fill("Browser Reader")
    reader.get_by_label("Email *").fill("browser-reader@example.org")
    reader.get_by_role("button", name="Post Comment").click()
    reader.get_by_text("Your comment is awaiting moderation.").wait_for()
    assert body in reader.content()
    reader.screenshot(path=str(tmp_path / "reader.png"))
    wait_for(lambda: _state(app, body) == "held")

    moderator = browser.new_context().new_page()
    moderator.goto(f"{base}/moderation/login")
    moderator.get_by_label("Username").fill("alice")
    moderator.get_by_label("Password").fill(factories.PASSWORD)
    moderator.get_by_role("button", name="Sign in").click()
    row = moderator.locator("tr", has_text=body)
    row.get_by_role("button", name="Approve").click()
    moderator.get_by_text("approved.").wait_for()
    assert _state(app, body) == "approved"

    visitor = browser.new_context().new_page()
    visitor.goto(f"{base}/threads/browser-article")
    assert visitor.get_by_text(body).is_visible()
    assert "awaiting moderation" not in visitor.content()
    assert "browser-reader@example.org" not in visitor.content()


def test_a_moderator_works_the_queue_with_the_keyboard(site, browser):
    app, base = site
    with app.app_context():
        thread = db.session.scalar(db.select(Thread))
        for n in (1, 2):
            factories.make_comment(thread, "held", body=f"Keyboard comment {n}.")
    moderator = browser.new_page()
    moderator.goto(f"{base}/moderation/login")
    moderator.get_by_label("Username").fill("alice")
    moderator.get_by_label("Password").fill(factories.PASSWORD)
    moderator.get_by_role("button", name="Sign in").click()
    moderator.get_by_text("Keyboard comment 1.").wait_for()
    moderator.wait_for_load_state()
    moderator.keyboard.press("j")
    moderator.keyboard.press("j")
    moderator.keyboard.press("s")
    moderator.get_by_text("marked as spam.").wait_for()
    moderator.wait_for_load_state()
    moderator.keyboard.press("j")
    moderator.keyboard.press("a")
    moderator.get_by_text("approved.").wait_for()
    moderator.wait_for_load_state()
    assert (_state(app, "Keyboard comment 1."), _state(app, "Keyboard comment 2.")) == ("approved", "spam")


def _sign_in(browser, base):
    page = browser.new_context().new_page()
    page.goto(f"{base}/moderation/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def _focused_comment(page):
    return page.evaluate("document.activeElement.getAttribute('aria-label') + ' ' + document.activeElement.id")


def test_every_queue_shortcut_does_what_the_keys_line_says(site, browser):
    """j/k move, a/r/s decide the focused row, x ticks it for the bulk action, n returns spam to the queue;
    a key typed into a field stays typing."""
    app, base = site
    with app.app_context():
        thread = db.session.scalar(db.select(Thread))
        ids = {n: factories.make_comment(thread, "held", body=f"Shortcut comment {n}.").id for n in range(1, 6)}
        wrongly = factories.make_comment(thread, "spam", body="Wrongly marked as spam.").id
    page = _sign_in(browser, base)
    page.set_default_timeout(10_000)
    page.get_by_text("Shortcut comment 1.").wait_for()
    page.wait_for_load_state()

    page.keyboard.press("j")
    assert _focused_comment(page).endswith(f"queue-{ids[1]}")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert _focused_comment(page).endswith(f"queue-{ids[2]}"), "k goes back one row"
    page.evaluate("window.samePage = true")
    page.keyboard.press("r")
    page.get_by_text("rejected.").wait_for()
    assert _state(app, "Shortcut comment 2.") == "rejected"
    assert page.evaluate("window.samePage === true"), "the decision reloaded the page"
    assert page.locator(f"#queue-{ids[2]}").count() == 0, "the decided comment is still in the queue"
    assert _focused_comment(page).endswith(f"queue-{ids[3]}"), "the next comment is not the one to work on"

    # Tick 1 and 4 with x, then apply the bulk action to them.
    page.keyboard.press("k")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")
    ticked = page.eval_on_selector_all("input[name=ids]:checked", "boxes => boxes.map(b => Number(b.value))")
    assert sorted(ticked) == sorted([ids[1], ids[4]])
    page.select_option("select[name=action]", "spam")
    page.get_by_role("button", name="Apply to ticked").click()
    page.get_by_text("2 comments marked as spam.").wait_for()
    assert (_state(app, "Shortcut comment 1."), _state(app, "Shortcut comment 4.")) == ("spam", "spam")
    assert page.locator("tr.queue-row").count() == 2 and page.evaluate("window.samePage === true")

    assert _focused_comment(page).endswith(f"queue-{ids[3]}")
    page.keyboard.press("a")
    page.get_by_text("approved.").wait_for()
    assert _state(app, "Shortcut comment 3.") == "approved"

    page.goto(f"{base}/moderation/?state=spam")
    page.get_by_text("Wrongly marked as spam.").wait_for()
    page.wait_for_load_state()
    rows = page.eval_on_selector_all("tr.queue-row", "rows => rows.map(r => r.id)")
    for _ in range(rows.index(f"queue-{wrongly}") + 1):
        page.keyboard.press("j")
    page.keyboard.press("n")
    page.get_by_text("returned to the queue as not spam").wait_for()
    page.wait_for_load_state()
    assert _state(app, "Wrongly marked as spam.") == "held"
    assert _state(app, "Shortcut comment 5.") == "held", "no key decided a comment it was not on"
