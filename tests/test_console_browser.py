"""The console in Chromium as a moderator works it: keyboard decisions without page loads, undo, everything from one
author, edit then approve, and a phone's screen."""
import threading

import pytest
from werkzeug.serving import make_server

from moderation.extensions import db
from moderation.models import Comment, Thread
from tests import factories
from tests.conftest import build_app, empty_tables
from tests.test_browser import browser  # noqa: F401 - the Chromium fixture

pytestmark = [pytest.mark.browser]


@pytest.fixture
def console(tmp_path):
    """The app over HTTP on a free port (decisions need no worker), a thread and a moderator."""
    app = build_app(f"sqlite:///{tmp_path / 'console.sqlite3'}")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with app.app_context():
        thread_id = factories.make_thread("console-article", "An article with a busy queue").id
        factories.make_moderator("alice")
    yield app, f"http://127.0.0.1:{server.server_port}", thread_id
    server.shutdown()
    empty_tables(app)


def _held(app, thread_id, body, **fields):
    with app.app_context():
        thread = db.session.get(Thread, thread_id)
        return factories.make_comment(thread, "held", body=body, **fields).id


def _state(app, comment_id):
    with app.app_context():
        return db.session.scalar(db.select(Comment.state).where(Comment.id == comment_id))


def _body(app, comment_id):
    with app.app_context():
        return db.session.scalar(db.select(Comment.body).where(Comment.id == comment_id))


def _signed_in(browser, base, **context):  # noqa: F811
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/moderation/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/moderation/")
    return page


def test_approve_with_the_keyboard_then_undo_with_u(console, browser):  # noqa: F811
    app, base, thread_id = console
    ids = [_held(app, thread_id, f"Queue comment {n}.") for n in (1, 2, 3)]
    page = _signed_in(browser, base)
    page.evaluate("window.samePage = true")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("a")
    page.get_by_text(f"Comment {ids[1]} approved.").wait_for()
    assert _state(app, ids[1]) == "approved"
    assert page.evaluate("window.samePage === true"), "the decision loaded a page"
    assert page.locator("tr.queue-row").count() == 2
    assert page.locator(".tabs a[data-state=held] .count").inner_text() == "2"
    assert page.locator("#waiting").inner_text() == "2 waiting"

    page.keyboard.press("u")
    page.get_by_text("Undone: 1 comment back as before.").wait_for()
    assert _state(app, ids[1]) == "held"
    assert page.locator(f"#queue-{ids[1]}").count() == 1, "the comment is not back in the queue"

    page.keyboard.press("?")
    assert page.locator("dialog#shortcuts").is_visible() and "undo the last decision" in page.locator("dialog#shortcuts").inner_text()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search"


def test_everything_from_one_author_is_marked_spam_in_one_go(console, browser):  # noqa: F811
    app, base, thread_id = console
    theirs = [_held(app, thread_id, f"Buy cheap things {n}.", email="run@example.com") for n in (1, 2, 3)]
    other = _held(app, thread_id, "A real reader's comment.", email="reader@example.org")
    page = _signed_in(browser, base)
    page.locator(f"#queue-{theirs[0]}").get_by_role("link", name="everything from this author (3)").click()
    page.select_option("select[name=action]", "spam")
    page.get_by_role("button", name="Count").click()
    page.get_by_role("button", name="Mark as spam: 3 comments").click()
    page.get_by_text("3 comments marked as spam.").wait_for()
    assert [_state(app, i) for i in theirs] == ["spam"] * 3 and _state(app, other) == "held"
    assert page.locator("tr.queue-row").count() == 1
    page.get_by_role("button", name="Undo").click()
    page.get_by_text("Undone: 3 comments back as before.").wait_for()
    assert [_state(app, i) for i in theirs] == ["held"] * 3


def test_edit_then_approve_from_the_queue(console, browser):  # noqa: F811
    app, base, thread_id = console
    comment = _held(app, thread_id, "Nice article. Visit http://pills.example.com for more.")
    page = _signed_in(browser, base)
    page.keyboard.press("j")
    page.keyboard.press("e")
    page.get_by_text("Edit then approve").click()
    page.get_by_label("Comment", exact=True).fill("Nice article.")
    page.get_by_label("Note (why, optional)").fill("removed the advert")
    page.get_by_role("button", name="Save and approve").click()
    page.get_by_text(f"Saved and approved: comment {comment}.").wait_for()
    assert (_state(app, comment), _body(app, comment)) == ("approved", "Nice article.")
    assert "removed the advert" in page.locator("table.history").inner_text()
    page.goto(f"{base}/threads/console-article")
    assert page.get_by_text("Nice article.").is_visible() and "pills.example.com" not in page.content()


def test_the_queue_fits_a_phone(console, browser):  # noqa: F811
    app, base, thread_id = console
    _held(app, thread_id, "A comment with a rather long unbroken address https://example.org/" + "x" * 120,
          author_url="https://example.org/" + "y" * 150)
    page = _signed_in(browser, base, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the queue is {width} px wide on a 375 px screen: it scrolls sideways"
    approve = page.locator("button[data-action=approve]").bounding_box()
    assert approve["height"] >= 44, "the buttons are too small for a thumb"
    page.locator("button[data-action=approve]").tap()
    page.get_by_text("approved.").wait_for()


def test_u_never_undoes_an_older_decision_after_one_that_failed(console, browser):  # noqa: F811
    app, base, thread_id = console
    theirs = [_held(app, thread_id, f"Run {n}.", email="run@example.com") for n in (1, 2)]
    other = _held(app, thread_id, "Someone else's.", email="reader@example.org")
    page = _signed_in(browser, base)
    page.goto(f"{base}/moderation/comments/{theirs[0]}/everything-from/author?action=spam")
    page.get_by_role("button", name="Mark as spam: 2 comments").click()
    page.get_by_text("2 comments marked as spam.").wait_for()
    with app.app_context():
        from moderation.review import services as review
        review.decide(other, "trash", factories.make_moderator("bob"))
    page.locator(f"#queue-{other}").focus()
    page.keyboard.press("s")
    page.get_by_text("it cannot be marked as spam").wait_for()
    page.keyboard.press("u")
    page.wait_for_timeout(700)
    assert [_state(app, i) for i in theirs] == ["spam", "spam"], "u undid an older decision than the last one"
