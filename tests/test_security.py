"""Security headers, pages with nothing inline for the Content-Security-Policy to block, and the linkifier."""
import re
import time
from html.parser import HTMLParser

import pytest

from moderation.extensions import db
from moderation.models import Comment, Thread
from moderation.text import render_body
from tests import factories
from tests.conftest import csrf_token, sign_in
from tests.test_browser import browser, site  # noqa: F401  (fixtures shared with the other browser tests)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000; includeSubDomains"
CSP_VIOLATION = re.compile(r"Content[ -]Security[ -]Policy", re.IGNORECASE)


class Parsed(HTMLParser):
    """Every start tag with its attributes, and each link's address and text, decoded as a browser would."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags, self.links, self._link = [], [], None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "a":
            self._link = {**dict(attrs), "text": ""}
            self.links.append(self._link)

    def handle_endtag(self, tag):
        if tag == "a":
            self._link = None

    def handle_data(self, data):
        if self._link is not None:
            self._link["text"] += data


def inline_code(html):
    """What a strict policy would block: inline <script> and <style>, style= and on...= attributes, javascript: links."""
    found = []
    for tag, attrs in Parsed(html).tags:
        if (tag == "script" and "src" not in attrs) or tag == "style":
            found.append(f"<{tag}> without src")
        found += [f"<{tag} {name}=>" for name in attrs if name == "style" or name.startswith("on")]
        if (attrs.get("href") or "").strip().lower().startswith("javascript:"):
            found.append(f"<{tag} href=javascript:>")
    return found


def assert_secured(response, console):
    headers = response.headers
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == ("no-referrer" if console else "strict-origin-when-cross-origin")
    if console:
        assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers


@pytest.fixture
def signed_in(client, moderator):
    assert sign_in(client).status_code == 303
    return client


# Headers

def test_public_pages_carry_the_policy_and_keep_their_own_cache_control(client, thread, post_form):
    page = client.get(f"/threads/{thread.key}")
    assert_secured(page, console=False)
    assert page.headers["Cache-Control"] == "private, no-store"  # set by the view, kept
    api = client.get(f"/api/v1/threads/{thread.key}/comments")
    assert api.status_code == 200 and api.is_json
    assert_secured(api, console=False)
    assert "no-store" not in api.headers.get("Cache-Control", "")
    posted = post_form(thread.key)
    assert posted.status_code == 303
    assert_secured(posted, console=False)
    refused = post_form(thread.key, author_name="")
    assert refused.status_code == 422 and refused.headers["Cache-Control"] == "private, no-store"
    assert_secured(client.get("/threads/no-such-article"), console=False)


def test_every_console_answer_is_no_store_and_no_referrer(client, thread, moderator):
    comment = factories.make_comment(thread, "held")
    anonymous = {"queue redirect": client.get("/moderation/"), "login page": client.get("/moderation/login"),
                 "json 401": client.get("/api/v1/moderation/comments")}
    assert anonymous["queue redirect"].status_code == 302 and anonymous["json 401"].status_code == 401
    answers = {**anonymous, "wrong password": sign_in(client, password="wrong"), "sign-in": sign_in(client),
               "queue": client.get("/moderation/"), "json queue": client.get("/api/v1/moderation/comments"),
               "history": client.get(f"/moderation/comments/{comment.id}"),
               "missing": client.get("/moderation/comments/999999"), "not admin": client.get("/moderation/settings")}
    token = csrf_token(answers["queue"].get_data(as_text=True))
    answers["decision"] = client.post(f"/moderation/comments/{comment.id}/reject", data={"csrf_token": token})
    answers["sign-out"] = client.post("/moderation/logout", data={"csrf_token": token})
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {"queue redirect": 302, "login page": 200, "json 401": 401, "wrong password": 401,
                        "sign-in": 303, "queue": 200, "json queue": 200, "history": 200, "missing": 404,
                        "not admin": 403, "decision": 303, "sign-out": 303}
    for answer in answers.values():
        assert_secured(answer, console=True)


def test_a_view_header_is_kept_except_cache_control_on_the_console(make_app):
    app = make_app()

    @app.get("/cached-probe")
    @app.get("/moderation/cached-probe")
    def cached_probe():
        return "probe", {"Cache-Control": "public, max-age=60", "Referrer-Policy": "same-origin"}

    client = app.test_client()
    public, console = client.get("/cached-probe"), client.get("/moderation/cached-probe")
    assert (public.headers["Cache-Control"], public.headers["Referrer-Policy"]) == ("public, max-age=60", "same-origin")
    assert (console.headers["Cache-Control"], console.headers["Referrer-Policy"]) == ("no-store", "same-origin")
    # A path that only starts with the same letters is not the console.
    assert "Cache-Control" not in client.get("/moderationx").headers


def test_hsts_when_the_app_is_built_with_it(make_app):
    # Its absence by default is checked by assert_secured in the tests above.
    client = make_app(MODERATION_HSTS=True).test_client()
    for path in ("/", "/moderation/login", "/moderation/", "/api/v1/threads/none/comments"):
        assert client.get(path).headers["Strict-Transport-Security"] == HSTS


# Nothing inline

def test_no_page_has_inline_script_or_style(app, client, thread, moderator, post_form):
    first = factories.make_comment(thread, "approved", body='Read www.example.org. <b style="x" onclick="y">hi</b>')
    factories.make_comment(thread, "approved", body="A reply, see https://example.org/(a)", parent_id=first.id)
    held = factories.make_comment(thread, "held", body="<script>alert(1)</script> javascript:alert(1)")
    admin = app.test_client()
    factories.make_moderator("root", is_admin=True)
    pages = {"index": client.get("/"), "thread": client.get(f"/threads/{thread.key}"),
             "thread with errors": post_form(thread.key, author_name="", author_email="not-an-email"),
             "login": client.get("/moderation/login"), "error": client.get("/threads/no-such-article")}
    sign_in(client)
    sign_in(admin, "root")
    pages.update({"queue": client.get("/moderation/"), "comment": client.get(f"/moderation/comments/{held.id}"),
                  "settings": admin.get("/moderation/settings")})
    assert {name: page.status_code for name, page in pages.items()} == {
        "index": 200, "thread": 200, "thread with errors": 422, "login": 200, "error": 404,
        "queue": 200, "comment": 200, "settings": 200}
    for name, page in pages.items():
        html = page.get_data(as_text=True)
        assert inline_code(html) == [], name
        assert "/static/app.css" in html, name
    assert "/static/review.js" in pages["queue"].get_data(as_text=True)


def test_the_stylesheet_and_the_script_are_served_from_the_site(client):
    css, js = client.get("/static/app.css"), client.get("/static/review.js")
    assert css.status_code == js.status_code == 200
    assert css.mimetype == "text/css" and js.mimetype in {"text/javascript", "application/javascript"}
    assert "main.wide { max-width: 72rem; }" in css.get_data(as_text=True)
    assert 'addEventListener("keydown"' in js.get_data(as_text=True)
    css.close()
    js.close()


# The linkifier

def _links(text):
    return [(link["href"], link["text"]) for link in Parsed(str(render_body(text))).links]


@pytest.mark.parametrize("text, link", [
    ("Read https://example.org/a.", "https://example.org/a"),
    ("Really? https://example.org/a?!", "https://example.org/a"),
    ("(see https://example.org/a)", "https://example.org/a"),
    ("(see https://example.org/a).", "https://example.org/a"),
    ("https://example.org/a),;:", "https://example.org/a"),
    ("https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)"),
    ("(https://en.wikipedia.org/wiki/Foo_(bar)).", "https://en.wikipedia.org/wiki/Foo_(bar)"),
    ("http://example.org/x.html, and more", "http://example.org/x.html"),
])
def test_trailing_punctuation_and_unbalanced_parentheses_stay_outside_the_link(text, link):
    assert _links(text) == [(link, link)]
    assert str(render_body(text)).replace(f'<a href="{link}" rel="nofollow ugc">{link}</a>', link) == f"<p>{text}</p>"


def test_an_ampersand_in_a_query_survives_in_the_address_and_the_text():
    url = "https://example.org/search?q=a&lang=en&x=1"
    html = str(render_body(f"Try {url} now"))
    assert '<a href="https://example.org/search?q=a&amp;lang=en&amp;x=1" rel="nofollow ugc">' in html
    assert _links(f"Try {url} now") == [(url, url)]
    typed = "https://example.org/?a=1&amp;b=2"  # what the commenter typed, entity and all
    assert _links(typed) == [(typed, typed)]


def test_www_links_get_https_and_every_link_is_nofollow_ugc():
    assert _links("Visit www.example.org/page, or WWW.Example.org.") == [
        ("https://www.example.org/page", "www.example.org/page"), ("https://WWW.Example.org", "WWW.Example.org")]
    assert _links("foowww.example.org and http:// or http://. and www. or www.,") == []
    assert all(link["rel"] == "nofollow ugc" for link in Parsed(str(render_body("http://a.org www.b.org"))).links)


@pytest.mark.parametrize("text", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                  "ftp://example.org/file", "vbscript:msgbox(1)", "mailto:someone@example.org"])
def test_other_schemes_stay_text(text):
    html = str(render_body(text))
    assert "<a" not in html and Parsed(html).tags == [("p", {})]


def test_a_link_typed_by_a_commenter_stays_escaped_text():
    html = str(render_body('<a href="https://evil.example/" onclick="steal()">click</a> <a href=javascript:x>y</a>'))
    assert "&lt;a href=" in html and "&lt;/a&gt;" in html
    parsed = Parsed(html)
    assert {tag for tag, _ in parsed.tags} == {"p", "a"}
    assert [(link["href"], link["text"]) for link in parsed.links] == [("https://evil.example/", "https://evil.example/")]
    assert inline_code(html) == []


def test_paragraphs_and_line_breaks_are_kept():
    assert str(render_body("One\nline two\n\n  \nhttps://example.org\n")) == (
        '<p>One<br>\nline two</p>\n<p><a href="https://example.org" rel="nofollow ugc">https://example.org</a></p>')


HOSTILE = ("http://", "www.", "(", '<a href="', "&amp;")


@pytest.mark.parametrize("text", [
    "".join(HOSTILE) * 8000,
    " ".join(HOSTILE * 8000),
    "\n".join(piece * 4000 for piece in HOSTILE) + ")" * 100_000,
    "http://x" + ".)" * 100_000,
], ids=["run", "spaced", "blocks", "parentheses"])
def test_a_hostile_comment_renders_in_linear_time(text):
    text = text[:200_000]
    started = time.perf_counter()
    html = str(render_body(text))
    # Generous: quadratic work on 200,000 characters takes minutes, linear work a fraction of a second.
    assert time.perf_counter() - started < 2
    assert {tag for tag, _ in Parsed(html).tags} <= {"p", "br", "a"}


# In Chromium

def _state(app, body):
    with app.app_context():
        return db.session.scalar(db.select(Comment.state).where(Comment.body == body))


def _focused(page):
    return page.evaluate("document.activeElement.id")


def _ticked(page):
    return page.eval_on_selector_all("input[name=ids]", "boxes => boxes.map(box => box.checked)")


@pytest.mark.browser
@pytest.mark.pipeline
def test_the_queue_runs_under_the_policy_in_chromium(site, browser):  # noqa: F811
    app, base = site
    with app.app_context():
        thread = db.session.scalar(db.select(Thread))
        first, second = (factories.make_comment(thread, "held", body=f"Policy comment {n}.").id for n in (1, 2))
    page = browser.new_page()
    messages, errors = [], []
    page.on("console", lambda message: messages.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/moderation/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Policy comment 2.").wait_for()
    assert page.eval_on_selector("main", "main => getComputedStyle(main).maxWidth") == "1152px"  # main.wide: 72rem
    assert page.eval_on_selector("header form", "form => getComputedStyle(form).display") == "inline"

    tick_all = page.get_by_label("Tick all")
    tick_all.click()
    assert _ticked(page) == [True, True]
    tick_all.click()
    assert _ticked(page) == [False, False]
    page.locator("h1").click()  # take the focus off the checkbox: shortcuts are ignored while in a field
    page.keyboard.press("j")
    assert _focused(page) == f"queue-{first}"
    page.keyboard.press("x")
    assert _ticked(page) == [True, False]
    page.keyboard.press("j")
    assert _focused(page) == f"queue-{second}"
    page.keyboard.press("k")
    assert _focused(page) == f"queue-{first}"
    page.keyboard.press("r")
    page.get_by_text(f"Comment {first} rejected.").wait_for()
    assert (_state(app, "Policy comment 1."), _state(app, "Policy comment 2.")) == ("rejected", "held")
    assert [m for m in messages if CSP_VIOLATION.search(m)] == [] and errors == []

    # The check above can see a violation: inline script added now is refused, and the refusal is logged.
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
                  " document.body.appendChild(s); }")
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran") is None
    assert [m for m in messages if CSP_VIOLATION.search(m)]


@pytest.mark.parametrize("hops, scheme", [(1, "https"), (0, "http")])
def test_x_forwarded_proto_is_believed_only_from_a_trusted_proxy(make_app, hops, scheme):
    """Behind MODERATION_PROXY_HOPS=1 the TLS proxy's X-Forwarded-Proto and -Host make the service's own absolute
    links https on the public host (the reader's cookie is Secure too: test_privacy_at_rest); with no proxy
    trusted, a client cannot claim https or another host with a header."""
    app = make_app(MODERATION_PROXY_HOPS=hops)
    with app.app_context():
        thread = factories.make_thread("proto")
        for _ in range(3):
            factories.make_comment(thread, "held")
        factories.make_moderator("alice")
    client = app.test_client()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "comments.example.org"}
    token = csrf_token(client.get("/moderation/login", headers=https).get_data(as_text=True))
    signed_in = client.post("/moderation/login", headers=https,
                            data={"csrf_token": token, "username": "alice", "password": factories.PASSWORD})
    assert signed_in.status_code == 303
    page = client.get("/api/v1/moderation/comments?limit=2", headers=https).get_json()
    if scheme == "https":
        assert page["next"].startswith("https://comments.example.org/api/v1/moderation/comments?")
    else:
        assert page["next"].startswith("http://localhost/api/v1/moderation/comments?")
