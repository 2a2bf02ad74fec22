"""The public JSON API a site's own pages read: threaded and paged comments, counts, CORS, caching, the document."""
import json

import pytest

from config import ConfigError, allowed_origins
from tests import factories
from tests.conftest import SITE


def _thread_with_replies():
    thread = factories.make_thread("article", "The article")
    thread.url = "https://blog.example.org/article"
    first = factories.make_comment(thread, "approved", body="First, with a link https://example.org/x",
                                   email="first-author@example.org", author_ip="198.51.100.7")
    reply = factories.make_comment(thread, "approved", body="A reply", parent_id=first.id)
    factories.make_comment(thread, "approved", body="A reply to the reply", parent_id=reply.id)
    for state in ("held", "pending", "spam", "rejected"):
        factories.make_comment(thread, state, body=f"A {state} comment", parent_id=first.id)
    second = factories.make_comment(thread, "approved", body="Second")
    third = factories.make_comment(thread, "approved", body="Third")
    return first, reply, second, third


def _walk(comments):
    for comment in comments:
        yield comment
        yield from _walk(comment["replies"])


def test_a_thread_is_answered_threaded_and_paged_with_its_total(api):
    first, reply, second, third = _thread_with_replies()
    client = api.test_client()
    page = client.get("/api/v1/threads/article/comments?limit=2").get_json()
    assert (page["thread"], page["title"], page["url"], page["total"]) == (
        "article", "The article", "https://blog.example.org/article", 5)
    assert [c["id"] for c in page["comments"]] == [first.id, second.id]
    nested = page["comments"][0]["replies"]
    assert [c["body"] for c in nested] == ["A reply"] and [c["body"] for c in nested[0]["replies"]] == ["A reply to the reply"]
    assert page["comments"][0]["permalink"] == f"https://blog.example.org/article#comment-{first.id}"
    assert page["comments"][0]["html"] == ('<p>First, with a link <a href="https://example.org/x" rel="nofollow ugc">'
                                           'https://example.org/x</a></p>')
    assert page["comments"][0]["avatar"].startswith("http://localhost/avatars/")

    rest = client.get(page["next"]).get_json()
    assert [c["id"] for c in rest["comments"]] == [third.id] and rest["next"] is None
    seen = [c["body"] for c in _walk(page["comments"] + rest["comments"])]
    assert len(seen) == page["total"] and not any("held" in b or "pending" in b or "spam" in b for b in seen)


def test_no_answer_carries_an_email_or_an_address(api):
    _thread_with_replies()
    text = api.test_client().get("/api/v1/threads/article/comments").get_data(as_text=True)
    assert "first-author" not in text and "198.51.100" not in text and "@" not in text
    assert not {"author_email", "email", "author_ip", "ip", "state"} & set(json.loads(text)["comments"][0])


def test_an_unknown_thread_is_an_empty_thread_so_a_new_article_shows_the_form(api):
    response = api.test_client().get("/api/v1/threads/never-commented/comments")
    assert response.status_code == 200
    assert response.get_json() == {"thread": "never-commented", "title": None, "url": None, "comments_open": True,
                                   "replies_open": True, "email_notifications": False, "total": 0, "comments": [],
                                   "next": None}


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("limit=201", "limit"), ("limit=many", "limit"),
                                          ("after=-1", "after"), ("after=99999999999", "after")])
def test_a_bad_page_query_is_a_422_naming_the_field(api, query, field):
    response = api.test_client().get(f"/api/v1/threads/article/comments?{query}")
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "Some fields are not valid." and list(body["fields"]) == [field]
    assert query.split("=")[1] not in json.dumps(body), "what was sent is not echoed back"


def test_public_answers_are_cacheable_and_change_when_a_comment_is_approved(api):
    thread = factories.make_thread("cached")
    factories.make_comment(thread, "approved", body="Cached")
    waiting = factories.make_comment(thread, "held", body="Approved later")
    client = api.test_client()
    first = client.get("/api/v1/threads/cached/comments")
    assert first.headers["Cache-Control"] == "public, max-age=30" and first.headers["ETag"]
    assert "Origin" in first.headers["Vary"]
    again = client.get("/api/v1/threads/cached/comments", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    waiting.state = "approved"
    from moderation.extensions import db
    db.session.commit()
    changed = client.get("/api/v1/threads/cached/comments", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.get_json()["total"] == 2


def test_counts_answer_every_key_asked_for(api):
    _thread_with_replies()
    other = factories.make_thread("other")
    factories.make_comment(other, "held")
    small = factories.make_thread("small")
    factories.make_comment(small, "approved")
    client = api.test_client()
    answer = client.get("/api/v1/counts?thread=article&thread=other&thread=small&thread=nobody-yet")
    assert answer.get_json() == {"counts": {"article": 5, "other": 0, "small": 1, "nobody-yet": 0}}
    assert answer.headers["Cache-Control"] == "public, max-age=30"
    assert client.get("/api/v1/counts").status_code == 422
    too_many = "&".join(f"thread=t{n}" for n in range(51))
    assert client.get(f"/api/v1/counts?{too_many}").get_json()["fields"] == {"thread": "List should have at most 50 items after validation, not 51"}


def test_a_listed_site_may_read_and_preflight_and_another_is_told_which_setting_allows_it(api):
    factories.make_thread("article")
    client = api.test_client()
    listed = client.get("/api/v1/threads/article/comments", headers={"Origin": SITE})
    assert listed.status_code == 200 and listed.headers["Access-Control-Allow-Origin"] == SITE
    preflight = client.options("/api/v1/threads/article/comments",
                               headers={"Origin": SITE, "Access-Control-Request-Method": "POST",
                                        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SITE
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]

    for method in ("GET", "OPTIONS"):
        other = client.open("/api/v1/threads/article/comments", method=method, headers={"Origin": "https://elsewhere.example"})
        assert other.status_code == 403
        assert "MODERATION_ALLOWED_ORIGINS" in other.get_json()["error"]
        assert "Access-Control-Allow-Origin" not in other.headers
    assert client.get("/api/v1/threads/article/comments").status_code == 200, "a script sends no Origin"


def test_a_listed_site_gets_nothing_from_the_moderators_api(api):
    factories.make_moderator("alice")
    response = api.test_client().get("/api/v1/moderation/comments", headers={"Origin": SITE})
    assert response.status_code == 403 and "Access-Control-Allow-Origin" not in response.headers


def test_the_openapi_document_describes_the_public_routes_from_their_models(api):
    document = api.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/threads/{key}/comments", "/api/v1/counts"} <= set(document["paths"])
    thread = document["paths"]["/api/v1/threads/{key}/comments"]["get"]
    assert {p["name"] for p in thread["parameters"]} >= {"key", "limit", "after"}
    assert {"200", "422"} <= set(thread["responses"])
    answers = json.dumps({name: schema for name, schema in document["components"]["schemas"].items()
                          if not name.startswith("NewComment")})
    assert "author_email" not in answers and "author_ip" not in answers, "no answer is documented with an email"
    posting = json.dumps(document["paths"]["/api/v1/threads/{key}/comments"]["post"]["requestBody"])
    assert "NewComment" in posting, "posting is described by the model it is validated with"


@pytest.mark.parametrize("raw, origins", [
    ("", ()), ("https://blog.example.org", ("https://blog.example.org",)),
    (" https://Blog.Example.org/ , http://localhost:5001", ("https://blog.example.org", "http://localhost:5001")),
])
def test_allowed_origins_are_read_as_a_browser_sends_them(raw, origins):
    assert allowed_origins(raw) == origins


@pytest.mark.parametrize("raw", ["blog.example.org", "https://blog.example.org/comments", "ftp://blog.example.org",
                                 "https://user:pw@blog.example.org", "*"])
def test_a_value_that_is_not_an_origin_is_named(raw):
    with pytest.raises(ConfigError, match="MODERATION_ALLOWED_ORIGINS"):
        allowed_origins(raw)


def test_the_document_has_a_page_for_people(api):
    page = api.test_client().get("/api/v1/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    for operation in ("GET /api/v1/threads/{key}/comments", "POST /api/v1/threads/{key}/comments", "GET /api/v1/counts",
                      "POST /api/v1/moderation/comments/bulk"):
        assert operation in html
    assert "<code>form_token</code> (required)" in html and "<script" not in html.split("</header>")[-1]


def test_a_long_chain_of_replies_is_answered_nested_five_deep(api):
    thread = factories.make_thread("chain", "A chain")
    parent = None
    for n in range(120):
        parent = factories.make_comment(thread, "approved", body=f"Reply {n}", parent_id=parent.id if parent else None)
    client = api.test_client()
    response = client.get("/api/v1/threads/chain/comments")
    assert response.status_code == 200
    page = response.get_json()
    depth, level = 0, page["comments"]
    while level:
        depth += 1
        deeper = [c for c in level if c["replies"]]
        level = deeper[0]["replies"] if deeper else []
    assert depth == 5 and page["total"] == 120
    assert len(list(_walk(page["comments"]))) == 120, "every reply is shown, the deep ones at the deepest level"
    assert client.get("/threads/chain").status_code == 200


def test_public_answers_do_not_vary_by_cookie_so_a_cdn_shares_them(api):
    factories.make_thread("shared")
    client = api.test_client()
    for path in ("/api/v1/threads/shared/comments", "/api/v1/counts?thread=shared", "/embed.js"):
        with client.get(path) as response:
            assert "Cookie" not in response.headers.get("Vary", ""), path
    assert "Cookie" in client.get("/threads/shared").headers.get("Vary", ""), "the service's own pages do"


@pytest.mark.parametrize("raw, origin", [("https://blog.example.org:443", "https://blog.example.org"),
                                         ("http://blog.example.org:80", "http://blog.example.org"),
                                         ("https://bücher.example", "https://xn--bcher-kva.example"),
                                         ("http://[::1]:8080", "http://[::1]:8080")])
def test_an_origin_is_kept_as_a_browser_sends_it(raw, origin):
    assert allowed_origins(raw) == (origin,)


def test_an_impossible_port_is_named():
    with pytest.raises(ConfigError, match="MODERATION_ALLOWED_ORIGINS"):
        allowed_origins("https://blog.example.org:99999")


def test_comments_come_in_the_order_they_were_written_not_the_order_they_were_stored(api):
    """Imported comments are stored in any order; readers see them by when they were written."""
    from datetime import timedelta

    thread = factories.make_thread("imported")
    later = factories.make_comment(thread, "approved", body="Written second.")
    earlier = factories.make_comment(thread, "approved", body="Written first.")
    earlier.created_at = later.created_at - timedelta(days=1)
    from moderation.extensions import db
    db.session.commit()
    page = api.test_client().get("/api/v1/threads/imported/comments").get_json()
    assert [c["body"] for c in page["comments"]] == ["Written first.", "Written second."]
