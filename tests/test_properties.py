"""Random and hostile input on every form, page and JSON route: never a 5xx, never a half-written row, never lost text."""
import math
import re
import unicodedata
import warnings
from contextlib import contextmanager
from types import SimpleNamespace
from urllib.parse import quote, quote_from_bytes, unquote as urllib_unquote, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from moderation.errors import MESSAGES
from moderation.extensions import db
from moderation.models import AuditEvent, Comment, Setting
from tests import factories
from tests.conftest import csrf_token, form_tokens, sign_in

STATES = ("pending", "held", "approved", "rejected", "spam")
FORM_LIMIT = 160 * 1024  # config.py's MAX_CONTENT_LENGTH: a bigger request is refused before any field is read


def examples(n):
    """Reproducible runs (the same examples every time), no timing flakiness, fixtures shared by the examples.

    A failure is shrunk to its smallest example, but not "explained" (that phase re-runs many requests).
    """
    return settings(derandomize=True, database=None, deadline=None, max_examples=n,
                    phases=(Phase.explicit, Phase.generate, Phase.shrink),
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# --- What people, scripts and attackers type -------------------------------------------------------------------

# Any code point a form can carry as text: lone surrogates cannot be encoded, so they travel as bytes (below).
ANY_CHARACTER = st.characters(codec=None, exclude_categories=("Cs",))
FRAGMENTS = st.sampled_from([
    "", " ", "   ", "\t", "\n", "\r\n", "\r", "\n\n", "\x00", "a\x00b", "\x07", "\x1b[31m", "\x7f", "\x85", "\x9f",
    "\u202e", "\u202egpj.exe", "\u202d", "\u2066", "\u2069", "\u200f", "\u061c", "\ufeff", "\u200b", "\u3000", "\u2028",
    "<script>alert(1)</script>", "\"'><img src=x onerror=alert(1)>", "&amp;", "&#0;", "{{ 7*7 }}", "' OR 1=1 --",
    "99999999999999999999", "-1", "0", "1.5", "-0", "NaN", "Infinity", "1e309", "²", "١٢", "٣٤٥",
    "Ω≈ç√", "مرحبا بالعالم", "שלום", "漢字かな", "Ελληνικά", "𝕳𝖊𝖑𝖑𝖔", "🙂👍🏽", "e\u0301", "Z\u0351\u0360\u0362",
    "%00", "%FF%FE", "%2F", "../../etc/passwd", "javascript:alert(1)", "http://", "www.example.org", "\\",
])


def typed(max_pieces=6):
    """Text as typed: hostile fragments mixed with arbitrary characters of any script."""
    return st.lists(st.one_of(FRAGMENTS, st.text(ANY_CHARACTER, max_size=12)), max_size=max_pieces).map("".join)


def huge(limit):
    """One character repeated to just under, at, and just over a limit (in characters)."""
    return st.builds(lambda piece, n: piece * n, st.sampled_from(["a", "é", "漢", "🙂", " ", "\x00", "\u202e", "ab "]),
                     st.sampled_from([limit - 1, limit, limit + 1, limit + 50]))


PERSON_NAMES = st.sampled_from(["Reader", "Zoë", "李小龍", "محمد", "\u202eevil", "Robert'); DROP TABLE comments;--"])
EMAILS = st.one_of(
    st.sampled_from(["reader@example.org", "zoë@example.org", "用户@例子.广告", "a@b", "@example.org", "reader@",
                     "reader@example.org\x00", "\u202ereader@example.org", "reader@@example.org", " reader@example.org "]),
    st.emails(),
    typed(),
    huge(320).map(lambda local: local + "@example.org"),
)
WEBSITES = st.one_of(
    st.sampled_from(["", "example.org", "https://example.org/a?b=c#d", "javascript:alert(1)", "http://[::1",
                     "http://example.org:x/", "ftp://example.org", "https://ex\uff0eample.org", "//example.org",
                     "http://localhost", "https://例え.jp/パス"]),
    typed(),
    huge(1980).map(lambda path: "https://example.org/" + path),  # 1999, 2000, 2001 and 2050 characters
)
ID_TEXTS = st.one_of(
    st.sampled_from(["", " ", "0", "-1", "+1", " 1", "1 ", "0000000001", "00000000001", "9999999999", "²", "١٢", "1.0",
                     "1e3", "NaN", "Infinity", "0x1", "1\x00", "bulk", "..", "%31", "1/approve"]),
    # Just past the integer types: PostgreSQL's integer, SQLite's (and bigint's) 64 bits.
    st.sampled_from(["2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808",
                     "-9223372036854775809", "99999999999999999999"]),
    st.integers(-2**70, 2**70).map(str),
    typed(2),
)


# --- Reading the database --------------------------------------------------------------------------------------

def _comments():
    """{id: state} of every comment, read afresh (the test's session must not answer from its identity map)."""
    rows = db.session.execute(sa.select(Comment.id, Comment.state)).all()
    db.session.commit()
    return dict(rows)


def _saved_settings():
    rows = db.session.execute(sa.select(Setting.key, Setting.value)).all()
    db.session.commit()
    return dict(rows)


INVISIBLE = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}


def as_seen(text):
    """What a person sees of what they typed: control characters (but tab and line breaks) and bidi controls gone."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\t\n" or (unicodedata.category(c) != "Cc" and c not in INVISIBLE))


def has_message(html):
    """A sentence a person can read: an alert on the form, an error beside a field, or the error page's message."""
    return 'role="alert"' in html or 'class="error"' in html or any(str(escape(m)) in html for m in MESSAGES.values())


COOKIE_LIMIT = 4093  # bytes of one Set-Cookie header a browser keeps; a bigger cookie is silently dropped


@contextmanager
def cookie_sizes_checked_below():
    """Werkzeug only warns about a cookie too big to keep; the test asserts on its size instead (see assert_cookies_fit)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The '.*' cookie is too large", category=UserWarning)
        yield


def assert_cookies_fit(response):
    """Every cookie the answer sets is small enough for a browser to keep it: otherwise what it holds is lost."""
    too_big = {value.split("=", 1)[0]: len(value) for value in response.headers.getlist("Set-Cookie")
               if len(value) > COOKIE_LIMIT}
    assert not too_big, f"cookies over {COOKIE_LIMIT} bytes, which browsers drop: {too_big}"


def stays_on_site(location):
    """A browser would stay here: our own host, or a path starting with exactly one slash (and no backslash)."""
    assert not re.search(r"[\x00-\x1f\x7f]", location), f"control characters in Location {location!r}"
    parts = urlsplit(location)
    if parts.scheme or parts.netloc:
        return parts.scheme in ("http", "https") and parts.hostname == "localhost"
    return location.startswith("/") and location[1:2] not in ("/", "\\")


# --- The "Leave a Reply" form ----------------------------------------------------------------------------------

READER_FIELDS = ("author_name", "author_email", "author_url", "body", "parent_id", "remember", "comment_check",
                 "csrf_token", "opened")


@pytest.fixture
def reply_page(app, thread):
    """The article, an approved comment to reply to, and two a reply may not answer (held; another article's)."""
    parent = factories.make_comment(thread, "approved", body="An approved comment to reply to.")
    held = factories.make_comment(thread, "held")
    elsewhere = factories.make_comment(factories.make_thread("other-article"), "approved")
    return SimpleNamespace(key=thread.key, parent_ids=[str(parent.id), str(held.id), str(elsewhere.id)])


READER_VALUES = st.fixed_dictionaries({
    "author_name": st.one_of(PERSON_NAMES, typed(), huge(100)),
    "author_email": EMAILS,
    "author_url": WEBSITES,
    "body": st.one_of(st.just("A thoughtful comment."), typed(), huge(10_000)),
    "remember": st.sampled_from(["", "y", "on", "false", "0", "\x00", "²"]),
    "comment_check": st.sampled_from(["", "", "", "http://spam.example", "\x00"]),
})
# How the fields travel: some left out, some repeated (a list where one value is expected), tokens forged.
TAMPERING = st.fixed_dictionaries({
    "dropped": st.sets(st.sampled_from(READER_FIELDS), max_size=2),
    "repeated": st.sets(st.sampled_from(READER_FIELDS), max_size=2),
    "forged": st.sets(st.sampled_from(["csrf_token", "opened"]), max_size=1),
    "parent": st.one_of(st.just(""), st.integers(0, 2), ID_TEXTS),  # 0, 1, 2: the reply_page's comments
})


def _reader_form(tokens, values, tampering, parent_ids):
    parent = tampering["parent"]
    form = {**tokens, **values, "parent_id": parent_ids[parent] if isinstance(parent, int) else parent}
    for name in tampering["forged"]:
        form[name] = "forged" + form[name][:-6]
    for name in tampering["repeated"]:
        form[name] = [form.get(name, ""), "second value"]
    return {name: value for name, value in form.items() if name not in tampering["dropped"]}


def _first(value):
    return value[0] if isinstance(value, list) else value


def _check_reader_post(response, sent_body, size, before):
    html = response.get_data(as_text=True)
    after = _comments()
    assert response.status_code < 500, html[-2000:]
    assert_cookies_fit(response)
    if response.status_code == 303:
        [new] = set(after) - set(before)
        assert len(after) == len(before) + 1
        assert response.headers["Location"].endswith(f"#comment-{new}")
        stored = db.session.get(Comment, new, populate_existing=True)
        assert stored.body == as_seen(sent_body), "the stored text is not the text the reader typed"
        for text in (stored.author_name, stored.author_email, stored.author_url or "", stored.body):
            assert "\x00" not in text and "\u202e" not in text
        events = db.session.execute(sa.select(AuditEvent.from_state, AuditEvent.to_state, AuditEvent.reason)
                                    .where(AuditEvent.comment_id == new)).all()
        db.session.commit()
        assert events == [(None, "pending", "posted")], f"comment {new} has no 'posted' audit event: {events}"
    else:
        assert 400 <= response.status_code < 500 and after == before, (response.status_code, html[-2000:])
        assert has_message(html), f"a {response.status_code} without a sentence a person can read"
        if response.status_code == 413:
            assert size > FORM_LIMIT, "413 for a request under the limit"
        else:
            assert str(escape(as_seen(sent_body))) in html, "the page lost the text the reader typed"


@examples(60)
@given(values=READER_VALUES, tampering=TAMPERING)
@example(values={"author_name": "\u202eZoë\x00", "author_email": "reader@example.org", "author_url": "example.org",
                 "body": "a\x00b \u202egpj.exe\r\nline two", "remember": "y", "comment_check": ""},
         tampering={"dropped": set(), "repeated": set(), "forged": set(), "parent": 0})
def test_the_reply_form_never_fails_and_never_loses_the_text(app, reply_page, values, tampering):
    client = app.test_client()
    tokens = form_tokens(client.get(f"/threads/{reply_page.key}").get_data(as_text=True))
    form = _reader_form(tokens, values, tampering, reply_page.parent_ids)
    before = _comments()
    with cookie_sizes_checked_below():
        response = client.post(f"/threads/{reply_page.key}", data=form)
    _check_reader_post(response, _first(form.get("body", "")), len(urlencode(form, doseq=True)), before)


BYTES = st.lists(st.one_of(
    st.sampled_from([b"\xff\xfe", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xc0\x80", b"\xc0\xaf", b"\x00", b"\x80",
                     b"\xf4\x90\x80\x80", b"\xe2\x80\xae", b"\xe2\x80", "é".encode(), "🙂".encode(), b"&", b"+", b"%"]),
    st.binary(max_size=8),
    st.text(max_size=8).map(str.encode),
), min_size=1, max_size=8).map(b"".join)


def _as_decoded(raw):
    """Werkzeug keeps a byte that is not UTF-8 as the text "%XX", so a reader's bytes are never dropped."""
    text = raw.decode("utf-8", "surrogateescape")
    return re.sub("[\udc80-\udcff]", lambda m: f"%{ord(m.group()) - 0xDC00:02X}", text)


@examples(30)
@given(body=BYTES, name=st.one_of(st.just(b"Reader"), BYTES))
def test_bytes_that_are_not_utf8_are_kept_as_text_or_refused_never_a_500(app, reply_page, body, name):
    client = app.test_client()
    tokens = form_tokens(client.get(f"/threads/{reply_page.key}").get_data(as_text=True))
    fields = urlencode({**tokens, "author_email": "reader@example.org", "author_url": "", "parent_id": ""})
    raw = f"{fields}&body={quote_from_bytes(body, safe='')}&author_name={quote_from_bytes(name, safe='')}".encode()
    before = _comments()
    with cookie_sizes_checked_below():
        response = client.post(f"/threads/{reply_page.key}", data=raw, content_type="application/x-www-form-urlencoded")
    _check_reader_post(response, _as_decoded(body), len(raw), before)


LONG_WEBSITES = st.builds(lambda piece, n: "https://example.org/" + piece * n,
                          st.sampled_from(["a", "é", "漢", "🙂"]), st.integers(0, 1980))


@examples(20)
@given(website=LONG_WEBSITES)
def test_saved_details_fit_in_the_cookie_that_keeps_them(app, reply_page, website):
    """The "Save my name, email, and website" box: a cookie over 4 KB is dropped by the browser, and nothing is saved."""
    client = app.test_client()
    tokens = form_tokens(client.get(f"/threads/{reply_page.key}").get_data(as_text=True))
    form = {**tokens, "author_name": "Zoë", "author_email": "zoe@example.org", "author_url": website,
            "body": "A thoughtful comment.", "parent_id": "", "remember": "y"}
    with cookie_sizes_checked_below():
        response = client.post(f"/threads/{reply_page.key}", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[-2000:]
    assert_cookies_fit(response)


# --- The public JSON API ---------------------------------------------------------------------------------------

KEY_PIECES = st.sampled_from([".", "..", "%", "%2F", "%2f", "%00", "%FF", "%2e%2e", "%25", "/", "?", "#", "\x00", "\u202e",
                              "é", "漢字", "🙂", " ", "+", "~", "\\", ";", "first-article", "café.2024", "a.b"])
THREAD_KEYS = st.one_of(typed(4), st.lists(KEY_PIECES, max_size=6).map("".join),
                        st.sampled_from(["first-article", "café.2024", "a.b", "x" * 200]),
                        st.integers(1, 20_000).map(lambda n: "k" * n))


@pytest.fixture
def public_threads(app):
    """Articles whose keys hold dots, accents and the longest length a key may have, each with a comment."""
    for key in ("first-article", "café.2024", "a.b", "x" * 200):
        factories.make_comment(factories.make_thread(key), "approved")


@examples(60)
@given(key=THREAD_KEYS, encoded=st.booleans())
@example(key="\x00", encoded=True)  # PostgreSQL: a 500, "text fields cannot contain NUL (0x00) bytes"
def test_an_article_and_its_json_answer_200_or_404_for_any_key(app, public_threads, key, encoded):
    # Encoded: the key as a browser sends it; raw: its percent signs, dots and backslashes as they stand.
    path = quote(key, safe="") if encoded else quote(key, safe="%.\\;+~ ")
    for url in (f"/threads/{path}", f"/api/v1/threads/{path}/comments"):
        response = app.test_client().get(url)
        if response.status_code == 308 and "/" in urllib_unquote(path):
            # A raw "%2F" is a slash: Werkzeug redirects a path with "//" to the path with one, on this site.
            assert stays_on_site(response.headers["Location"]), response.headers["Location"]
            continue
        assert response.status_code in (200, 404), (url, response.status_code, response.get_data(as_text=True)[-2000:])
        if url.startswith("/threads/"):
            assert response.status_code == 404 or "Leave a Reply" in response.get_data(as_text=True)
            continue
        payload = response.get_json()
        assert payload is not None, response.get_data(as_text=True)[:500]
        if response.status_code == 404:  # no route: an empty key, or one Werkzeug cannot route
            assert payload["error"]
            continue
        # The API answers any key it routes: an article's comments, or an empty thread a first comment may start.
        assert all("author_email" not in c for c in payload["comments"])
        assert payload["total"] == len(payload["comments"]) and (payload["total"] > 0) == (payload["title"] is not None)


# --- The moderator console -------------------------------------------------------------------------------------

# Where a page may send the moderator next (`?next=` after sign-in, the `next` field of a decision).
NEXT_PAGES = [
    "", "/", "/moderation/", "/moderation/?state=spam", "//evil.example", "///evil.example", "/\\evil.example",
    "\\\\evil.example", "/\\/evil.example", "\\/evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "http://evil.example/", "https://evil.example", "https:evil.example", "https:/evil.example", "//localhost@evil.example",
    "/moderation/\r\nLocation: http://evil.example", "/\r\n/evil.example", "\r\n//evil.example", "/\t/evil.example",
    "/%0d%0aSet-Cookie: x=1", "/%2F/evil.example", "%2F%2Fevil.example", " //evil.example", "\x00//evil.example",
    "/\x00", "/\u2028/evil.example", "\u3000//evil.example", "data:text/html,<script>alert(1)</script>",
    "http://localhost/moderation/", "/moderation/?q=\u202e", "ftp://evil.example", "/." + "/" * 3 + "evil.example",
]


@pytest.fixture
def console(app, client, moderator, thread):
    """A signed-in moderator's browser, its CSRF token, and two comments in each state."""
    ids = [factories.make_comment(thread, state).id for state in STATES for _ in range(2)]
    assert sign_in(client).status_code == 303
    token = csrf_token(client.get("/moderation/").get_data(as_text=True))
    return SimpleNamespace(client=client, token=token, ids=ids)


def sent_once_or_repeated(values):
    return st.one_of(values, st.lists(values, min_size=2, max_size=3))


QUERY_VALUES = {
    "state": st.one_of(st.sampled_from(STATES + ("HELD", "held ", "all", "", "\x00")), typed(2)),
    "after": ID_TEXTS,
    "limit": ID_TEXTS,
    "thread": st.one_of(st.sampled_from(["first-article", "\x00", "a\x00b", "%00", "\u202e"]), typed(3), huge(2000)),
    "q": st.one_of(typed(), huge(2000)),
}


def query(*names):
    """A query string of those parameters, each left out, sent once, or repeated."""
    return st.fixed_dictionaries({}, optional={name: sent_once_or_repeated(QUERY_VALUES[name]) for name in names})


@examples(50)
@given(params=query("state", "after", "thread", "q", "limit"))
@example(params={"thread": "\x00"})  # PostgreSQL: a 500, "text fields cannot contain NUL (0x00) bytes"
def test_the_queue_page_answers_200_or_404_for_any_filter(console, params):
    before = _comments()
    response = console.client.get("/moderation/", query_string=params)
    assert response.status_code in (200, 404), (response.status_code, response.get_data(as_text=True)[-2000:])
    assert _comments() == before


@examples(40)
@given(data=st.data())
def test_a_comment_page_answers_200_for_a_comment_and_404_for_anything_else(console, data):
    comment_id = data.draw(st.one_of(st.sampled_from(console.ids).map(str), ID_TEXTS), label="comment_id")
    response = console.client.get(f"/moderation/comments/{quote(comment_id, safe='')}")
    # 405 for "bulk": /moderation/comments/bulk is a route of its own, for POST only.
    expected = {200} if _an_id(comment_id) and int(comment_id) in console.ids else {404, 405}
    assert response.status_code in expected, (comment_id, response.status_code, response.get_data(as_text=True)[-2000:])


# Where each action takes a comment, and from which states (DESIGN.md's state diagram).
TAKES = {"approve": "approved", "reject": "rejected", "spam": "spam", "not-spam": "held"}
FROM = {"approve": set(STATES) - {"approved"}, "reject": set(STATES) - {"rejected"},
        "spam": set(STATES) - {"spam"}, "not-spam": {"spam"}}
ACTIONS = st.one_of(st.sampled_from(sorted(TAKES)), st.sampled_from(
    ["", "APPROVE", "approve ", "not_spam", "delete", "bulk", "approve/approve", "%61pprove", "²"]),
    typed(2))


def _follow(client, response):
    """Go where the console sends the moderator, as a browser does: the page must render, and shows the flashed note."""
    location = response.headers.get("Location")
    if location is not None:
        assert stays_on_site(location), location
        page = client.get(location)
        assert page.status_code < 500, (location, page.status_code, page.get_data(as_text=True)[-2000:])


def _an_id(text):
    """What the console accepts as a comment id: ASCII digits within PostgreSQL's integer range."""
    return bool(re.fullmatch("[0-9]{1,10}", text)) and 1 <= int(text) < 2**31


def _expected_after(before, mentioned, action):
    after = dict(before)
    for comment_id in mentioned:
        if comment_id in before and action in TAKES and before[comment_id] in FROM[action]:
            after[comment_id] = TAKES[action]
    return after


@examples(40)
@given(data=st.data())
def test_a_decision_changes_only_its_own_comment_as_the_states_allow(console, data):
    comment_id = data.draw(st.one_of(st.sampled_from(console.ids).map(str), ID_TEXTS), label="comment_id")
    action = data.draw(ACTIONS, label="action")
    next_page = data.draw(st.one_of(st.just("/moderation/"), st.sampled_from(NEXT_PAGES)), label="next")
    before = _comments()
    with cookie_sizes_checked_below():
        response = console.client.post(f"/moderation/comments/{quote(comment_id, safe='')}/{quote(action, safe='/')}",
                                       data={"csrf_token": console.token, "next": next_page})
    status = response.status_code
    assert_cookies_fit(response)
    assert 300 <= status < 500, (status, response.get_data(as_text=True)[-2000:])
    routed = _an_id(comment_id) and action in TAKES
    assert status == 303 if routed else status != 303, (comment_id, action, status)
    assert _comments() == _expected_after(before, [int(comment_id)] if routed else [], action)
    _follow(console.client, response)


BULK_IDS = st.one_of(
    st.lists(st.one_of(st.integers(0, 9), ID_TEXTS), max_size=6),  # an int n stands for console.ids[n]
    st.builds(lambda start, n: [str(i) for i in range(start, start + n)], st.integers(1, 2**31 - 2000),
              st.sampled_from([100, 300, 1000])),
    st.lists(st.integers(1, 2**31 - 1).map(str), min_size=300, max_size=400),
    st.builds(lambda value, n: [value] * n, st.sampled_from(["1", "²", "99999999999999999999", ""]),
              st.sampled_from([300, 20_000])),
)


@examples(40)
@given(ids=BULK_IDS, action=st.one_of(ACTIONS, st.lists(ACTIONS, min_size=2, max_size=2), st.none()))
def test_bulk_changes_only_the_ticked_comments_as_the_states_allow(console, ids, action):
    ids = [str(console.ids[i]) if isinstance(i, int) else i for i in ids]
    form = {"csrf_token": console.token, "ids": ids, **({"action": action} if action is not None else {})}
    size = len(urlencode(form, doseq=True))
    before = _comments()
    with cookie_sizes_checked_below():
        response = console.client.post("/moderation/comments/bulk", data=form)
    status = response.status_code
    assert_cookies_fit(response)
    assert status in (303, 413), (status, response.get_data(as_text=True)[-2000:])
    assert status == 303 or size > FORM_LIMIT
    first_action = _first(action)
    every_id_valid = ids and all(map(_an_id, ids))
    mentioned = {int(i) for i in ids} if status == 303 and every_id_valid else set()
    assert _comments() == _expected_after(before, mentioned, first_action)
    _follow(console.client, response)


@examples(50)
@given(params=query("state", "after", "limit", "thread"))
@example(params={"after": "99999999999999999999"})  # a 500: SQLite's OverflowError, PostgreSQL's "integer out of range"
@example(params={"after": "2147483648"})  # PostgreSQL: a 500, "integer out of range"
@example(params={"thread": "\x00"})  # PostgreSQL: a 500, "text fields cannot contain NUL (0x00) bytes"
def test_the_json_queue_answers_200_or_400_for_any_filter(console, params):
    before = _comments()
    response = console.client.get("/api/v1/moderation/comments", query_string=params)
    assert response.status_code in (200, 400), (response.status_code, response.get_data(as_text=True)[-2000:])
    payload = response.get_json()
    if response.status_code == 400:
        assert payload["error"]
        return
    state = _first(params.get("state", "held"))
    assert all(c["state"] == state and "author_email" not in c for c in payload["comments"])
    assert payload["next"] is None or urlsplit(payload["next"]).hostname == "localhost"
    assert _comments() == before


NUMBERS = st.one_of(
    st.sampled_from(["", " ", "0", "-0", "1", "0.5", "0.95", "0.2", "3", "600", "601", "100", "101", "NaN", "nan", "-NaN",
                     "sNaN", "Infinity", "-Infinity", "inf", "1e309", "-1e309", "1e-400", "99999999999999999999",
                     "-99999999999999999999", "²", "١٢", "٠.٥", "0x10", "1_0", "1,5", "½", " 3 ", "3\x00", "\u202e5"]),
    st.integers(-10**25, 10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    typed(2),
)
WORDS = st.one_of(typed(), st.lists(typed(1), max_size=20).map("\n".join),
                  st.sampled_from([1, 10_000, 210_000]).map(lambda n: "word\n" * n))  # 210,000 lines: 1 MB
SETTINGS_FIELDS = {"link_limit": NUMBERS, "spam_threshold": NUMBERS, "clean_threshold": NUMBERS,
                   "min_form_seconds": NUMBERS, "hold_words": WORDS, "blocked_words": WORDS}
SETTINGS = st.fixed_dictionaries(SETTINGS_FIELDS)
NUMBER_SETTINGS = ("link_limit", "spam_threshold", "clean_threshold", "min_form_seconds")


def _within_ranges(saved):
    link_limit, spam, clean, seconds = (saved[name] for name in NUMBER_SETTINGS)
    assert type(link_limit) is int and 0 <= link_limit <= 100, saved
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in (spam, clean, seconds)), saved
    assert 0 <= clean < spam <= 1 and 0 <= seconds <= 600, saved
    assert all(isinstance(w, str) and w.strip() for w in saved["hold_words"] + saved["blocked_words"]), saved


@pytest.fixture
def administrator(app, thread):
    """A signed-in administrator's browser, and a comment in each state that no setting may touch."""
    for state in STATES:
        factories.make_comment(thread, state)
    factories.make_moderator("root", is_admin=True)
    client = app.test_client()
    assert sign_in(client, "root").status_code == 303
    return client


@examples(60)
@given(values=SETTINGS, dropped=st.sets(st.sampled_from(sorted(SETTINGS_FIELDS)), max_size=1))
@example(values={"link_limit": "2", "spam_threshold": " ", "clean_threshold": "0", "min_form_seconds": "3",
                 "hold_words": "", "blocked_words": ""}, dropped=set())  # a 500: TypeError, None <= Decimal("0")
def test_settings_saved_are_finite_numbers_within_their_ranges(administrator, values, dropped):
    form = {name: value for name, value in values.items() if name not in dropped}
    before, saved_before = _comments(), _saved_settings()
    token = csrf_token(administrator.get("/moderation/settings").get_data(as_text=True))
    response = administrator.post("/moderation/settings", data={**form, "csrf_token": token})
    assert response.status_code in (303, 413, 422), (response.status_code, response.get_data(as_text=True)[-2000:])
    saved = _saved_settings()
    if response.status_code == 303:
        _within_ranges(saved)
    else:
        assert saved == saved_before and has_message(response.get_data(as_text=True))
    assert _comments() == before


@examples(40)
@given(
    credentials=st.one_of(
        st.just(("alice", factories.PASSWORD)),
        st.tuples(st.one_of(st.just("alice"), typed(3), huge(80)), st.one_of(typed(3), huge(1024))),
    ),
    next_page=st.one_of(st.sampled_from(NEXT_PAGES), st.builds(str.__add__, st.sampled_from(NEXT_PAGES), typed(2))),
)
@example(credentials=("\x00", factories.PASSWORD), next_page="/moderation/")  # PostgreSQL: a 500 (NUL in text)
def test_sign_in_never_fails_and_never_sends_the_moderator_off_site(app, moderator, credentials, next_page):
    client = app.test_client()
    token = csrf_token(client.get("/moderation/login").get_data(as_text=True))
    username, password = credentials
    response = client.post("/moderation/login", query_string={"next": next_page},
                           data={"csrf_token": token, "username": username, "password": password})
    html = response.get_data(as_text=True)
    assert response.status_code in (303, 401, 422), (response.status_code, html[-2000:])
    if response.status_code == 303:
        assert stays_on_site(response.headers["Location"]), response.headers["Location"]
    else:
        assert has_message(html)
