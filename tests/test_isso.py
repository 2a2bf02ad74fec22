"""Isso's client talking to us: the endpoints it calls under /isso/, with the JSON shapes it reads, the same rules as
every other way in, the author's 15 minutes to edit or delete, and never an email."""
from datetime import timedelta

import sqlalchemy as sa

from moderation.extensions import db
from moderation.isso.uris import key_for
from moderation.models import AuditEvent, Comment, Thread, utcnow
from moderation.review import services as review
from tests import factories
from tests.conftest import SITE
from workers.tasks import check_comment

ORIGIN = {"Origin": SITE}
URI = "/blog/hello-world/"
EMAIL = "isso-reader@example.org"


def _post(client, uri=URI, headers=ORIGIN, **fields):
    sent = {"author": "Isso Reader", "email": EMAIL, "website": None, "text": "Posted by Isso's client.",
            "parent": None, "title": "Hello, world", "notification": 0}
    sent.update(fields)
    return client.post("/isso/new", query_string={"uri": uri}, json=sent, headers=headers)


def _thread(client, uri=URI, **query):
    answer = client.get("/isso/", query_string={"uri": uri, **query}, headers=ORIGIN)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def _texts(answer):
    return [(c["text"], c["mode"], [(r["text"], r["mode"]) for r in c.get("replies", [])]) for c in answer["replies"]]


def _cookie(client, name):
    cookie = client.get_cookie(name, domain="localhost", path="/isso")
    return cookie.value if cookie else None


def _moderator():
    return review.find_moderator("isso-moderator") or factories.make_moderator("isso-moderator")


def _approve(comment_id):
    review.decide(comment_id, "approve", _moderator())


def test_a_comment_posted_by_isso_is_pending_shown_to_its_author_and_public_once_approved(api):
    author, stranger = api.test_client(), api.test_client()
    posted = _post(author)
    assert posted.status_code == 202, posted.get_data(as_text=True)
    comment = posted.get_json()
    assert comment["mode"] == 2 and comment["text"] == "<p>Posted by Isso's client.</p>"
    assert set(comment) >= {"id", "parent", "text", "author", "website", "mode", "created", "modified", "likes",
                            "dislikes", "hash"}
    assert posted.headers["Access-Control-Allow-Origin"] == SITE
    assert posted.headers["Access-Control-Allow-Credentials"] == "true"
    assert "X-Set-Cookie" in posted.headers["Access-Control-Expose-Headers"]
    assert posted.headers["X-Set-Cookie"].startswith(f"isso-{comment['id']}=")
    assert _cookie(author, f"isso-edit-{comment['id']}") and _cookie(author, "isso-reader")

    thread = db.session.scalar(sa.select(Thread).where(Thread.key == key_for(URI)))
    assert (thread.key, thread.title, thread.url) == ("%2Fblog%2Fhello-world%2F", "Hello, world", f"{SITE}{URI}")
    assert _texts(_thread(author)) == [("<p>Posted by Isso's client.</p>", 2, [])]
    assert _thread(stranger)["replies"] == [] and _thread(stranger)["total_replies"] == 0

    check_comment(comment["id"])
    db.session.expire_all()
    assert db.session.get(Comment, comment["id"]).state == "held", "checked like every other comment"
    _approve(comment["id"])
    shown = _thread(stranger)
    assert _texts(shown) == [("<p>Posted by Isso's client.</p>", 1, [])] and shown["total_replies"] == 1
    assert len(shown["replies"][0]["hash"]) == 16
    assert stranger.post("/isso/count", json=[URI, "/elsewhere/"], headers=ORIGIN).get_json() == [1, 0]
    for answer in (posted, stranger.get(f"/isso/?uri={URI}"), author.get(f"/isso/?uri={URI}")):
        assert "isso-reader@" not in answer.get_data(as_text=True)


def test_a_reply_is_posted_to_the_top_level_comment_and_every_reply_shows_under_it(api):
    client = api.test_client()
    first = _post(client).get_json()["id"]
    _approve(first)
    reply = _post(client, text="A reply.", parent=first).get_json()
    assert (reply["parent"], reply["mode"]) == (first, 2)
    _approve(reply["id"])
    thread = db.session.get(Comment, first).thread
    deep = factories.make_comment(thread, state="approved", body="A reply to the reply, from our own page.",
                                  parent_id=reply["id"])
    shown = _thread(api.test_client())
    assert _texts(shown) == [("<p>Posted by Isso's client.</p>", 1, [("<p>A reply.</p>", 1),
                                                                      (f"<p>{deep.body}</p>", 1)])]
    assert [r["parent"] for r in shown["replies"][0]["replies"]] == [first, first], "one level, as Isso nests"
    assert shown["total_replies"] == 3

    staff = review.reply(first, _moderator(), "An answer from the site.")
    [answer] = [r for r in _thread(api.test_client())["replies"][0]["replies"] if r["id"] == staff.id]
    assert answer["hash"] != "0" * 16 and answer["hash"] not in {r["hash"] for r in shown["replies"][0]["replies"]}

    stranger_reply = _post(api.test_client(), text="To a comment nobody may see.", parent=deep.id + 1000)
    assert stranger_reply.status_code == 400 and "parent" in stranger_reply.get_json()["fields"]


def test_isso_paging_limit_nested_limit_offset_after_parent_and_sort(api):
    thread = factories.make_thread(key_for(URI))
    start = utcnow() - timedelta(hours=1)
    roots = [factories.make_comment(thread, state="approved", body=f"Root {n}.",
                                    created_at=start + timedelta(minutes=n)) for n in range(3)]
    for n in range(4):
        factories.make_comment(thread, state="approved", body=f"Reply {n}.", parent_id=roots[0].id,
                               created_at=start + timedelta(minutes=10 + n))
    client = api.test_client()
    page = _thread(client, limit=2, nested_limit=1)
    assert [c["text"] for c in page["replies"]] == ["<p>Root 0.</p>", "<p>Root 1.</p>"]
    assert (page["total_replies"], page["hidden_replies"]) == (7, 1)
    assert [(c["total_replies"], c["hidden_replies"], len(c["replies"])) for c in page["replies"]] == [(4, 3, 1),
                                                                                                      (0, 0, 0)]
    assert [c["text"] for c in _thread(client, limit=2, offset=2)["replies"]] == ["<p>Root 2.</p>"]
    assert [c["text"] for c in _thread(client, sort="newest")["replies"]] == [f"<p>Root {n}.</p>" for n in (2, 1, 0)]
    more = _thread(client, parent=roots[0].id, limit=2, offset=1)
    assert ([c["text"] for c in more["replies"]], more["hidden_replies"], more["id"]) == (
        ["<p>Reply 1.</p>", "<p>Reply 2.</p>"], 1, roots[0].id)
    later = _thread(client, parent=roots[0].id, after=(start + timedelta(minutes=11, seconds=30)).timestamp())
    assert [c["text"] for c in later["replies"]] == ["<p>Reply 2.</p>", "<p>Reply 3.</p>"]
    assert _thread(client, plain=1)["replies"][0]["text"] == "Root 0."
    for bad in ({"limit": "ten"}, {"nested_limit": "-1"}, {"after": "yesterday"}, {"sort": "loudest"},
                {"offset": "1e3"}, {"uri": ""}):
        answer = client.get("/isso/", query_string={"uri": URI, **bad}, headers=ORIGIN)
        assert answer.status_code == 400 and answer.get_json()["error"]
    assert client.get("/isso/?uri=/nobody-commented-here/").get_json()["replies"] == []


def test_the_form_rules_apply_and_every_refusal_is_a_short_json_message(make_app):
    app = make_app(MODERATION_ALLOWED_ORIGINS=(SITE,), MODERATION_FLOOD_INTERVAL=15)
    client = app.test_client()
    refusals = {
        "email": _post(client, email=None),
        "author": _post(client, author=""),
        "website": _post(client, website="javascript:alert(1)"),
        "text": _post(client, text="   "),
    }
    for field, answer in refusals.items():
        assert answer.status_code == 400 and field in answer.get_json()["fields"], field
    assert _post(client, author=5).get_json() == {"error": "author must be a string or null"}
    assert _post(client, parent="1").status_code == 400
    assert client.post(f"/isso/new?uri={URI}", data="not json", headers={**ORIGIN, "Content-Type": "application/json"}
                       ).status_code == 400
    assert client.post(f"/isso/new?uri={URI}", data={"text": "a form"}, headers=ORIGIN).status_code == 415
    assert client.post(f"/isso/new?uri={URI}", json=[1], headers=ORIGIN).status_code == 400
    assert _post(client, headers={}).status_code == 404, "a new page's thread comes from a listed site only"
    assert _post(client, headers={"Origin": "https://elsewhere.example.com"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Thread)) == 0

    assert _post(client).status_code == 202
    too_soon = _post(client, text="Again, at once.")
    assert too_soon.status_code == 429 and too_soon.headers["Retry-After"] == "15"
    with app.app_context():
        db.session.execute(sa.update(Thread).values(comments_open=False))
        db.session.commit()
    app.config["MODERATION_FLOOD_INTERVAL"] = 0
    assert _post(client, text="On a closed thread.").status_code == 403


def test_the_author_edits_and_deletes_within_the_window_and_a_changed_text_is_checked_again(api):
    author = api.test_client()
    comment_id = _post(author).get_json()["id"]
    check_comment(comment_id)
    _approve(comment_id)
    assert author.get(f"/isso/id/{comment_id}?plain=1", headers=ORIGIN).get_json()["text"] == "Posted by Isso's client."

    edited = author.put(f"/isso/id/{comment_id}", json={"text": "Edited <em>now</em>."}, headers=ORIGIN)
    assert edited.status_code == 200 and edited.get_json()["text"] == "<p>Edited &lt;em&gt;now&lt;/em&gt;.</p>"
    assert edited.get_json()["mode"] == 2 and edited.get_json()["modified"] is not None
    db.session.expire_all()
    comment = db.session.get(Comment, comment_id)
    assert (comment.state, comment.body) == ("pending", "Edited <em>now</em>."), "approved text only: checked again"
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.comment_id == comment_id)
                               .order_by(AuditEvent.id.desc())).first()
    assert (event.actor, event.from_state, event.to_state, event.detail["body"]) == (
        "author", "approved", "pending", "Posted by Isso's client.")
    assert check_comment(comment_id) == "held"
    assert _texts(_thread(api.test_client())) == [], "nobody else sees the new text before a moderator"

    unchanged = author.put(f"/isso/id/{comment_id}", json={"text": "Edited <em>now</em>."}, headers=ORIGIN)
    db.session.expire_all()
    assert unchanged.status_code == 200 and db.session.get(Comment, comment_id).state == "held"
    assert author.put(f"/isso/id/{comment_id}", json={"text": ""}, headers=ORIGIN).status_code == 400
    assert author.put(f"/isso/id/{comment_id}", json={"text": 3}, headers=ORIGIN).status_code == 400

    deleted = author.delete(f"/isso/id/{comment_id}", headers=ORIGIN)
    assert deleted.status_code == 200 and deleted.get_json() is None
    assert deleted.headers["X-Set-Cookie"].startswith(f"isso-{comment_id}=;")
    db.session.expire_all()
    assert db.session.get(Comment, comment_id).state == "trash"
    assert _texts(_thread(author)) == []
    assert author.delete(f"/isso/id/{comment_id}", headers=ORIGIN).status_code == 403


def test_a_deleted_comment_with_replies_stays_as_deleted(api):
    author = api.test_client()
    comment_id = _post(author).get_json()["id"]
    _approve(comment_id)
    reply = factories.make_comment(db.session.get(Comment, comment_id).thread, state="approved", body="A reply.",
                                   parent_id=comment_id)
    kept = author.delete(f"/isso/id/{comment_id}", headers=ORIGIN).get_json()
    assert (kept["id"], kept["mode"], kept["text"], kept["author"]) == (comment_id, 4, "", None)
    shown = _thread(api.test_client())
    assert _texts(shown) == [("", 4, [("<p>A reply.</p>", 1)])]
    assert shown["replies"][0]["replies"][0]["id"] == reply.id and shown["total_replies"] == 1


def test_no_edit_or_delete_without_the_cookie_or_after_the_window(api):
    author, stranger = api.test_client(), api.test_client()
    first = _post(author).get_json()["id"]
    second = _post(author, text="Another one.").get_json()["id"]
    for client, target in ((stranger, first), (author, 10_000)):
        assert client.put(f"/isso/id/{target}", json={"text": "Not mine."}, headers=ORIGIN).status_code in (403, 404)
        assert client.delete(f"/isso/id/{target}", headers=ORIGIN).status_code in (403, 404)
    # The cookie of one comment is no good for another.
    author.set_cookie(f"isso-edit-{first}", _cookie(author, f"isso-edit-{second}"), domain="localhost", path="/isso")
    assert author.put(f"/isso/id/{first}", json={"text": "Swapped."}, headers=ORIGIN).status_code == 403
    author.set_cookie(f"isso-edit-{second}", "forged.value.here", domain="localhost", path="/isso")
    assert author.get(f"/isso/id/{second}", headers=ORIGIN).status_code == 403

    third = _post(author, text="A third one.").get_json()["id"]
    db.session.execute(sa.update(Comment).where(Comment.id == third)
                       .values(created_at=utcnow() - timedelta(minutes=15, seconds=1)))
    db.session.commit()
    assert author.put(f"/isso/id/{third}", json={"text": "Too late."}, headers=ORIGIN).status_code == 403
    assert author.delete(f"/isso/id/{third}", headers=ORIGIN).status_code == 403
    assert ("<p>A third one.</p>", 2, []) in _texts(_thread(author)), "still shown to its author, unchanged"

    fourth = _post(author, text="A fourth one.").get_json()["id"]
    review.decide(fourth, "reject", _moderator())
    refused = author.put(f"/isso/id/{fourth}", json={"text": "Back in the queue?"}, headers=ORIGIN)
    assert refused.status_code == 403 and "moderator" in refused.get_json()["error"]


def test_preflights_and_answers_name_a_listed_origin_only(api):
    client = api.test_client()
    preflight = client.options("/isso/id/1", headers={**ORIGIN, "Access-Control-Request-Method": "PUT",
                                                      "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SITE
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert {"PUT", "DELETE"} <= set(preflight.headers["Access-Control-Allow-Methods"].split(", "))
    other = {"Origin": "https://elsewhere.example.com"}
    for answer in (client.options("/isso/new", headers={**other, "Access-Control-Request-Method": "POST"}),
                   client.get(f"/isso/?uri={URI}", headers=other)):
        assert answer.status_code == 403 and "MODERATION_ALLOWED_ORIGINS" in answer.get_json()["error"]
        assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Credentials" not in client.get("/isso/config").headers


def test_config_preview_votes_and_the_client_files(api, make_app):
    client = api.test_client()
    config = client.get("/isso/config", headers=ORIGIN).get_json()["config"]
    assert config["require-email"] and config["require-author"] and config["vote"] is False
    assert {"reply-to-self", "reply-notifications", "gravatar", "feed"} <= set(config) and "avatar" not in config
    assert client.post("/isso/preview", json={"text": "<script>x</script> hi"}, headers=ORIGIN).get_json() == {
        "text": "<p>&lt;script&gt;x&lt;/script&gt; hi</p>"}
    assert client.post("/isso/preview", json={}, headers=ORIGIN).status_code == 400
    assert client.post("/isso/id/1/like", json=None, headers=ORIGIN).get_json() == {"likes": 0, "dislikes": 0}
    assert client.post("/isso/count", json={"uri": URI}, headers=ORIGIN).status_code == 400
    assert client.post("/isso/count", json=[URI, 3], headers=ORIGIN).status_code == 400
    feed = client.get("/isso/feed", query_string={"uri": URI})
    assert feed.status_code == 302 if config["feed"] else 404
    if config["feed"]:
        assert feed.headers["Location"].endswith(f"/threads/{key_for(URI).replace('%', '%25')}/feed.atom")
    with client.get("/isso/js/embed.min.js") as script:
        assert script.status_code == 200 and script.mimetype == "text/javascript" and b"data-isso" in script.data
    with client.get("/isso/css/isso.css") as stylesheet:
        assert stylesheet.mimetype == "text/css" and b".isso-comment" in stylesheet.data
    assert client.get("/isso/js/../../etc/passwd").status_code == 404
    assert client.get("/isso/js/admin.js").status_code == 404

    assert config["reply-notifications"] is False, "no mail server: the client offers no subscription"
    unsent = _post(client, notification=1).get_json()["id"]
    assert db.session.get(Comment, unsent).notify_replies is False
    mailing = make_app(MODERATION_ALLOWED_ORIGINS=(SITE,), MODERATION_SMTP_HOST="127.0.0.1",
                       MODERATION_BASE_URL="https://comments.example.org").test_client()
    assert mailing.get("/isso/config").get_json()["config"]["reply-notifications"] is True
    wanted = _post(mailing, notification=1).get_json()["id"]
    assert db.session.get(Comment, wanted).notify_replies is True

    gravatar = make_app(MODERATION_ALLOWED_ORIGINS=(SITE,), MODERATION_GRAVATAR=True).test_client()
    assert gravatar.get("/isso/config").get_json()["config"]["avatar"] is False
    posted = _post(gravatar).get_json()
    assert posted["gravatar_image"].endswith("/avatars/anonymous.svg")


def test_what_people_type_is_escaped_for_isso_s_client_and_odd_uris_have_their_own_threads(api):
    client = api.test_client()
    posted = _post(client, author="<img src=x onerror=alert(1)>",
                   website="https://example.org/'onmouseover='x").get_json()
    assert posted["author"] == "&lt;img src=x onerror=alert(1)&gt;"
    assert "'" not in posted["website"]
    for uri in ("/caf%C3%A9/", "/a b/?q=1#x", "/" + "long/" * 100, "custom-id"):
        assert _post(client, uri=uri, text=f"On {uri[:20]}").status_code == 202, uri
        assert len(_thread(client, uri=uri)["replies"]) == 1
    assert client.post("/isso/count", json=["/caf%C3%A9/", "/cafe/"], headers=ORIGIN).get_json() == [0, 0]
    assert key_for("/caf%C3%A9/") != key_for("/café/")


def test_edits_and_previews_count_against_the_posting_limit(make_app):
    """Each edit writes an audit event and queues a spam check again: an author cannot loop them for 15 minutes."""
    from tests.conftest import SITE as ALLOWED

    app = make_app(MODERATION_ALLOWED_ORIGINS=(ALLOWED,), RATELIMIT_ENABLED=True, MODERATION_POST_LIMIT="3 per minute")
    with app.app_context():
        author = app.test_client()
        comment_id = _post(author).get_json()["id"]
        answers = [author.put(f"/isso/id/{comment_id}", json={"text": f"Edit {n}."}, headers=ORIGIN).status_code
                   for n in range(4)]
        assert answers == [200, 200, 200, 429]
        previews = [author.post("/isso/preview", json={"text": "*hi*"}, headers=ORIGIN).status_code for _ in range(4)]
        assert previews[-1] == 429


def test_an_address_no_route_matches_answers_json_and_the_client_files_load_from_any_site(api):
    client = api.test_client()
    for method, path in (("GET", "/isso/id/0"), ("PATCH", "/isso/id/3"), ("GET", "/isso/new"), ("POST", "/isso/")):
        answer = client.open(path, method=method, headers=ORIGIN)
        assert answer.status_code in (404, 405) and answer.is_json and answer.get_json()["error"], (method, path)
    script = client.get("/isso/js/embed.min.js", headers={"Origin": "https://another.example.net"})
    with script:
        assert script.status_code == 200 and script.headers["Access-Control-Allow-Origin"] == "*"


def test_a_thread_made_from_a_uri_with_a_query_is_titled_by_its_path_alone(api):
    client = api.test_client()
    assert _post(client, uri="/page?email=reader@example.org#top", title="").status_code == 202  # awaiting
    thread = db.session.scalar(sa.select(Thread).where(Thread.key == key_for("/page?email=reader@example.org#top")))
    assert thread.title == "/page" and thread.url == f"{SITE}/page"
