"""Atom feeds of approved comments: well-formed Atom a feed reader reads back, newest first, never an email."""
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import feedparser
import pytest

from moderation.extensions import db
from moderation.privacy.services import erase_person
from moderation.review import services as review
from moderation.spam import settings
from tests import factories

ATOM = "{http://www.w3.org/2005/Atom}"
THR = "{http://purl.org/syndication/thread/1.0}"
START = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def _at(minutes):
    return START + timedelta(minutes=minutes)


def _read(response):
    """The feed as a reader gets it: well-formed Atom 1.0 by feedparser, and by the elements RFC 4287 requires."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    body = response.get_data()
    parsed = feedparser.parse(body, response_headers={"content-type": response.headers["Content-Type"]})
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated", "author/" + ATOM + "name"):
        assert root.find(ATOM + name) is not None and root.find(ATOM + name).text, name
    assert {link.get("rel") for link in root.findall(f"{ATOM}link")} == {"self", "alternate"}
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated", "published", "author/" + ATOM + "name"):
            assert entry.find(ATOM + name) is not None and entry.find(ATOM + name).text, name
        assert entry.find(f"{ATOM}link[@rel='alternate']").get("href").startswith(("http://", "https://"))
        assert entry.find(f"{ATOM}content").get("type") == "html"
        assert entry.find(f"{ATOM}author/{ATOM}email") is None
    return parsed, root


def test_a_thread_feed_holds_its_approved_comments_newest_first(client, thread):
    first = factories.make_comment(thread, "approved", body="The first word.", created_at=_at(1))
    second = factories.make_comment(thread, "approved", body="A second thought.", created_at=_at(2),
                                    author_url="https://reader.example.net/")
    for minute, state in enumerate(("held", "pending", "spam", "rejected", "trash"), start=3):
        factories.make_comment(thread, state, body=f"A {state} comment.", created_at=_at(minute))
    parsed, root = _read(client.get("/threads/first-article/feed.atom"))

    assert parsed.feed.title == "Comments on The first article"
    assert parsed.feed.id == "http://localhost/threads/first-article/feed.atom"
    assert parsed.feed.link == "http://localhost/threads/first-article"
    assert [e.id for e in parsed.entries] == [f"http://localhost/threads/first-article#comment-{c.id}"
                                             for c in (second, first)]
    newest = parsed.entries[0]
    assert newest.title == f"Comment by {second.author_name} on The first article"
    assert (newest.author_detail.name, newest.author_detail.href) == (second.author_name, "https://reader.example.net/")
    assert newest.link == f"http://localhost/threads/first-article#comment-{second.id}"
    assert newest.content[0].value == "<p>A second thought.</p>"
    assert newest.published == "2025-03-01T12:02:00Z"
    assert root.find(f"{ATOM}updated").text == "2025-03-01T12:02:00Z"
    text = client.get("/threads/first-article/feed.atom").get_data(as_text=True)
    assert not [state for state in ("held", "pending", "spam", "rejected", "trash") if f"A {state} comment" in text]


def test_no_email_appears_in_either_feed_even_when_every_author_gave_one(client, thread):
    for n in range(3):
        factories.make_comment(thread, "approved", email=f"feed-reader-{n}@example.org",
                               author_url="https://reader.example.net/")
    for address in ("/threads/first-article/feed.atom", "/feed.atom"):
        text = client.get(address).get_data(as_text=True)
        assert "feed-reader" not in text and "@" not in text and "<email>" not in text


def test_odd_characters_come_out_escaped_and_read_back_as_typed(client):
    key = "Ça va? 100% & #1 😀"
    title = 'Tom & "Jerry" <script>alert(1)</script> ‏שלום‏'
    odd = factories.make_thread(key, title)
    name = "Zoë <b>&amp;</b> مرحبا 😀"
    body = "Look: <script>alert('x')</script> & \"quotes\" ‘curly’ עברית 🎉"
    factories.make_comment(odd, "approved", body=body, author_name=name)
    response = client.get(f"/threads/{quote(key, safe='')}/feed.atom")
    parsed, root = _read(response)

    raw = response.get_data(as_text=True)
    assert "<script" not in raw and "<b>" not in raw
    assert parsed.entries[0].title == f"Comment by {name} on {title}"
    assert parsed.entries[0].author_detail.name == name
    # What the page shows: the text escaped as HTML, which a reader's program shows as the characters typed.
    assert parsed.entries[0].content[0].value == (
        "<p>Look: &lt;script&gt;alert('x')&lt;/script&gt; &amp; \"quotes\" ‘curly’ עברית 🎉</p>")
    # The feed's own address, as written in it, finds the feed again.
    own = root.find(f"{ATOM}link[@rel='self']").get("href")
    assert own.startswith("http://localhost/threads/") and " " not in own
    assert client.get(own.removeprefix("http://localhost")).get_data() == response.get_data()


def test_a_reader_asking_again_is_answered_304_until_the_thread_changes(client, thread, moderator):
    factories.make_comment(thread, "approved", created_at=_at(1))
    held = factories.make_comment(thread, "held", created_at=_at(2))
    first = client.get("/threads/first-article/feed.atom")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"].startswith("public")

    again = client.get("/threads/first-article/feed.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    assert client.get("/threads/first-article/feed.atom", headers={"If-Modified-Since": modified}).status_code == 304

    review.decide(held.id, "approve", moderator)
    changed = client.get("/threads/first-article/feed.atom", headers={"If-None-Match": etag,
                                                                       "If-Modified-Since": modified})
    parsed, _ = _read(changed)
    assert changed.headers["ETag"] != etag and len(parsed.entries) == 2
    # Approved a moment ago, written long before: the feed's Last-Modified still moves on.
    assert client.get("/threads/first-article/feed.atom", headers={"If-Modified-Since": modified}).status_code == 200


def test_an_unknown_thread_has_no_feed(client):
    assert client.get("/threads/nobody-wrote-this/feed.atom").status_code == 404
    assert client.get("/threads/%00/feed.atom").status_code == 404
    assert client.get(f"/threads/{'x' * 300}/feed.atom").status_code == 404


def test_a_reply_says_what_it_answers_and_a_staff_reply_says_it_is_staff(client, thread, moderator):
    parent = factories.make_comment(thread, "approved", created_at=_at(1))
    reply = factories.make_comment(thread, "approved", parent_id=parent.id, created_at=_at(2))
    staff = review.reply(parent.id, moderator, "Thanks, from the team.")
    _, root = _read(client.get("/threads/first-article/feed.atom"))

    entries = {entry.find(f"{ATOM}id").text.rsplit("-", 1)[1]: entry for entry in root.findall(f"{ATOM}entry")}
    answered = entries[str(reply.id)].find(f"{THR}in-reply-to")
    assert answered.get("ref") == f"http://localhost/threads/first-article#comment-{parent.id}"
    assert answered.get("href") == f"http://localhost/threads/first-article#comment-{parent.id}"
    assert entries[str(parent.id)].find(f"{THR}in-reply-to") is None
    assert entries[str(staff.id)].find(f"{ATOM}category").get("term") == "staff"


def test_the_site_feed_holds_every_threads_approved_comments_newest_first(make_app):
    app = make_app(MODERATION_BASE_URL="https://example.org/comments")
    with app.app_context():
        one = factories.make_thread("one", "First article")
        two = factories.make_thread("two", "Second article")
        two.url = "https://blog.example.org/two"
        made = [factories.make_comment(one, "approved"), factories.make_comment(two, "approved"),
                factories.make_comment(one, "held"), factories.make_comment(one, "approved")]
        parsed, _ = _read(app.test_client().get("/feed.atom"))
        ids = [c.id for c in made]
        name = made[1].author_name

    assert parsed.feed.id == "https://example.org/comments/feed.atom"
    assert parsed.feed.title == "Latest comments on example.org"
    assert [e.id for e in parsed.entries] == [
        f"https://example.org/comments/threads/one#comment-{ids[3]}",
        f"https://example.org/comments/threads/two#comment-{ids[1]}",
        f"https://example.org/comments/threads/one#comment-{ids[0]}"]
    # Where readers read it: the article's own page when the thread has one, else the service's thread page.
    assert parsed.entries[1].link == f"https://blog.example.org/two#comment-{ids[1]}"
    assert parsed.entries[0].link == f"https://example.org/comments/threads/one#comment-{ids[3]}"
    assert parsed.entries[1].title == f"Comment by {name} on Second article"


def test_the_site_feed_changes_its_etag_when_a_comment_leaves_it(client, thread, moderator):
    kept = factories.make_comment(thread, "approved")
    leaving = factories.make_comment(thread, "approved")
    etag = client.get("/feed.atom").headers["ETag"]
    assert client.get("/feed.atom", headers={"If-None-Match": etag}).status_code == 304

    review.decide(leaving.id, "reject", moderator)
    parsed, _ = _read(client.get("/feed.atom", headers={"If-None-Match": etag}))
    assert [e.id.rsplit("-", 1)[1] for e in parsed.entries] == [str(kept.id)]


def test_an_empty_site_is_still_a_valid_feed(client):
    parsed, _ = _read(client.get("/feed.atom"))
    assert parsed.entries == []


def test_a_paged_thread_links_each_comment_to_the_page_that_shows_it(client, thread):
    settings.save({"comments_per_page": 2})
    made = [factories.make_comment(thread, "approved", created_at=_at(n)) for n in range(3)]
    parsed, _ = _read(client.get("/threads/first-article/feed.atom"))
    assert parsed.entries[0].link == f"http://localhost/threads/first-article?page=2#comment-{made[2].id}"
    assert parsed.entries[2].link == f"http://localhost/threads/first-article#comment-{made[0].id}"


def test_an_erased_author_shows_as_the_page_shows_them(client, thread):
    factories.make_comment(thread, "approved", email="erase-me@example.org", author_name="Real Name",
                           author_url="https://real-name.example.net/", body="Words to remove.", created_at=_at(1))
    factories.make_comment(thread, "approved", email="keep-text@example.org", author_name="Other Name",
                           body="Words to keep.", created_at=_at(2))
    erase_person("erase-me@example.org", with_text=True)
    erase_person("keep-text@example.org")
    db.session.expire_all()
    response = client.get("/threads/first-article/feed.atom")
    parsed, _ = _read(response)

    text = response.get_data(as_text=True)
    assert "Real Name" not in text and "real-name.example.net" not in text and "Words to remove." not in text
    assert [e.author_detail.name for e in parsed.entries] == ["Anonymous", "Anonymous"]
    assert parsed.entries[0].content[0].value == "<p>Words to keep.</p>"
    assert parsed.entries[1].content[0].value == "<p>This comment was removed at its author's request.</p>"


def test_a_listed_site_may_read_a_feed_from_its_pages(make_app):
    app = make_app(MODERATION_ALLOWED_ORIGINS=("https://blog.example.org",))
    with app.app_context():
        factories.make_thread("article", "An article")
        client = app.test_client()
        listed = client.get("/threads/article/feed.atom", headers={"Origin": "https://blog.example.org"})
        other = client.get("/threads/article/feed.atom", headers={"Origin": "https://elsewhere.example.com"})
    assert listed.headers["Access-Control-Allow-Origin"] == "https://blog.example.org"
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers


def test_a_feed_does_not_vary_by_cookie_so_a_cache_may_share_it(client, thread):
    for address in ("/threads/first-article/feed.atom", "/feed.atom"):
        assert "cookie" not in client.get(address).headers.get("Vary", "").lower()
