"""Personal data at rest: encrypted, looked up through blind indexes, masked for moderators, kept only as long as needed."""
import os
from datetime import timedelta

import pytest
import sqlalchemy as sa

from moderation.extensions import db
from moderation.models import Comment, ModeratorSession, PostingGate, PrivacyEvent, utcnow
from moderation.privacy.crypto import DataKeyError, email_index
from moderation.privacy.services import purge_expired
from moderation.review import services as review
from tests import factories
from tests.conftest import comment_fields, csrf_token, form_tokens, sign_in
from workers.tasks import check_comment

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0"


def _post(client, key, ip="203.0.113.77", **fields):
    tokens = form_tokens(client.get(f"/threads/{key}").get_data(as_text=True))
    return client.post(f"/threads/{key}", data={**tokens, **comment_fields(**fields)},
                       headers={"User-Agent": BROWSER, "Referer": f"https://blog.example.org/{key}"},
                       environ_overrides={"REMOTE_ADDR": ip})


def _raw(comment_id, *columns):
    row = db.session.execute(sa.text(f"SELECT {', '.join(columns)} FROM comments WHERE id = :id"), {"id": comment_id})
    return row.one()


def _only_comment():
    db.session.expire_all()
    return db.session.scalar(sa.select(Comment).order_by(Comment.id.desc()))


def test_email_ip_user_agent_and_referrer_are_stored_encrypted(app, client, thread):
    email = "stored.privately@example.org"
    assert _post(client, thread.key, author_email=email).status_code == 303
    assert _post(client, thread.key, ip="203.0.113.78", author_email=email.upper(), body="Second.").status_code == 303
    first, second = db.session.scalars(sa.select(Comment).order_by(Comment.id)).all()
    raw = [_raw(c.id, "author_email", "author_ip", "user_agent", "referrer", "email_hash") for c in (first, second)]
    for stored in raw:
        assert all(value.startswith("v1:") for value in stored[:4])
        assert email not in str(stored) and "203.0.113" not in str(stored) and "TestBrowser" not in str(stored)
        assert "blog.example.org" not in str(stored)
    assert raw[0][0] != raw[1][0], "each encryption differs"
    assert raw[0][4] == raw[1][4] == email_index(email), "one blind index for one address, whatever its case"
    assert (first.author_email, first.author_ip, first.user_agent) == (email, "203.0.113.77", BROWSER)


def test_a_value_moved_to_another_column_or_altered_does_not_decrypt(app, thread):
    comment = factories.make_comment(thread, author_ip="198.51.100.4")
    db.session.execute(sa.text("UPDATE comments SET author_ip = author_email WHERE id = :id"), {"id": comment.id})
    db.session.commit()
    db.session.expire_all()
    with pytest.raises(DataKeyError, match="does not authenticate"):
        db.session.scalar(sa.select(Comment.author_ip).where(Comment.id == comment.id))


def test_an_encrypted_column_cannot_be_compared_with_a_value_by_mistake(app):
    with pytest.raises(TypeError, match="blind index"):
        sa.select(Comment).where(Comment.author_email == "someone@example.org")


def test_the_sqlite_database_is_readable_by_its_owner_only(tmp_path):
    from tests.conftest import build_app

    app = build_app(f"sqlite:///{tmp_path / 'private.sqlite3'}")
    with app.app_context():
        factories.make_thread("private")
        modes = {name: oct(os.stat(tmp_path / name).st_mode & 0o777) for name in os.listdir(tmp_path)}
        db.engine.dispose()
    assert modes["private.sqlite3"] == "0o600"
    assert all(mode == "0o600" for name, mode in modes.items()), modes


def test_moderators_see_masked_emails_and_revealing_one_is_recorded(app, client, thread, moderator):
    comment = factories.make_comment(thread, "held", email="jane.doe@example.org")
    assert sign_in(client).status_code == 303
    queue = client.get("/moderation/").get_data(as_text=True)
    page = client.get(f"/moderation/comments/{comment.id}").get_data(as_text=True)
    for html in (queue, page):
        assert "j•••@example.org" in html and "jane.doe@example.org" not in html
    revealed = client.post(f"/moderation/comments/{comment.id}/reveal-email", data={"csrf_token": csrf_token(page)})
    assert revealed.status_code == 200 and "jane.doe@example.org" in revealed.get_data(as_text=True)
    event = db.session.scalar(sa.select(PrivacyEvent))
    assert (event.actor, event.action, event.comment_id) == ("alice", "reveal email", comment.id)
    assert "jane" not in (event.detail or "")
    assert "jane.doe@example.org" not in client.get(f"/moderation/comments/{comment.id}").get_data(as_text=True)


def test_revealing_without_a_valid_token_reveals_nothing(app, client, thread, moderator):
    comment = factories.make_comment(thread, "held", email="kept.hidden@example.org")
    sign_in(client)
    response = client.post(f"/moderation/comments/{comment.id}/reveal-email", data={"csrf_token": "forged"},
                           follow_redirects=True)
    assert "kept.hidden@example.org" not in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PrivacyEvent)) == 0


@pytest.mark.parametrize("ip, kept", [("203.0.113.77", "203.0.113.0"), ("2001:db8:abcd:12::7", "2001:db8:abcd::")])
def test_the_full_ip_is_kept_only_until_a_moderator_decides(app, client, thread, moderator, ip, kept):
    assert _post(client, thread.key, ip=ip).status_code == 303
    comment = _only_comment()
    check_comment(comment.id)
    assert _only_comment().author_ip == ip, "a moderator still deciding sees the whole address"
    review.decide(comment.id, "approve", moderator)
    assert _only_comment().author_ip == kept


def test_an_auto_approved_comment_keeps_only_its_network(make_app):
    app = make_app(MODERATION_AUTO_APPROVE="clean")
    with app.app_context():
        comment = factories.make_comment(factories.make_thread(), "pending", author_ip="198.51.100.200",
                                         body="Thanks, this was a clear explanation.")
        assert check_comment(comment.id) == "approved"
        assert _only_comment().author_ip == "198.51.100.0"


def test_details_are_dropped_after_the_retention_period(app, thread):
    old = factories.make_comment(thread, "spam", author_ip="198.51.100.9", user_agent=BROWSER, referrer="https://r.example",
                                 akismet_payload={"sent": {"comment_author_email": "x@example.org"}},
                                 created_at=utcnow() - timedelta(days=31))
    recent = factories.make_comment(thread, "held", author_ip="198.51.100.10", user_agent=BROWSER,
                                    created_at=utcnow() - timedelta(days=5))
    assert purge_expired() == 1
    old, recent = db.session.get(Comment, old.id), db.session.get(Comment, recent.id)
    db.session.refresh(old)
    db.session.refresh(recent)
    assert (old.user_agent, old.referrer, old.akismet_payload, old.author_ip) == (None, None, None, "198.51.100.0")
    assert old.purged_at is not None
    assert (recent.user_agent, recent.author_ip, recent.purged_at) == (BROWSER, "198.51.100.10", None)
    assert purge_expired() == 0, "a comment is purged once"


def test_retention_counts_every_comment_it_purges_past_one_batch(app, thread):
    long_ago = utcnow() - timedelta(days=40)
    db.session.add_all(Comment(thread=thread, author_name="Old", author_email=f"old-{n}@example.org", body="Old.",
                               state="approved", author_ip="198.51.100.20", created_at=long_ago) for n in range(501))
    db.session.commit()
    assert purge_expired() == 501
    db.session.expire_all()
    assert set(db.session.scalars(sa.select(Comment.author_ip))) == {"198.51.100.0"}


def test_retention_forgets_posting_gates_after_a_day_and_sign_ins_after_their_lifetime(app, moderator):
    now = utcnow()
    db.session.add_all([PostingGate(key="quiet for a day and a half", last_post_at=now - timedelta(hours=36)),
                        PostingGate(key="posted an hour ago", last_post_at=now - timedelta(hours=1)),
                        ModeratorSession(moderator_id=moderator.id, token_hash="a" * 64, created_at=now - timedelta(days=8)),
                        ModeratorSession(moderator_id=moderator.id, token_hash="b" * 64, created_at=now - timedelta(days=6))])
    db.session.commit()
    assert purge_expired() == 0
    assert db.session.scalars(sa.select(PostingGate.key)).all() == ["posted an hour ago"]
    assert db.session.scalars(sa.select(ModeratorSession.token_hash)).all() == ["b" * 64]


def test_avatars_come_from_a_keyed_hash_and_never_from_the_address(app, client, thread, moderator):
    import hashlib

    email = "avatar.owner@example.org"
    approved = factories.make_comment(thread, "approved", email=email)
    html = client.get(f"/threads/{thread.key}").get_data(as_text=True)
    token = html.split('src="/avatars/', 1)[1].split(".svg", 1)[0]
    assert len(token) == 16 and token != "anonymous"
    for digest in (hashlib.md5, hashlib.sha1, hashlib.sha256):
        assert digest(email.encode()).hexdigest()[:16] != token
    svg = client.get(f"/avatars/{token}.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<rect" in svg.data
    assert client.get("/avatars/not-a-token.svg").status_code == 404
    assert approved.id


def test_an_authors_own_pending_comment_shows_the_placeholder_avatar(app, client, thread):
    factories.make_comment(thread, "approved", email="owner@example.org")
    assert _post(client, thread.key, author_email="owner@example.org", body="Is my avatar shown?").status_code == 303
    html = client.get(f"/threads/{thread.key}").get_data(as_text=True)
    assert html.count('src="/avatars/anonymous.svg"') == 1
    assert html.count('src="/avatars/') == 2


def test_gravatar_is_off_unless_turned_on_and_never_uses_md5(make_app):
    import hashlib

    app = make_app(MODERATION_GRAVATAR=True)
    with app.app_context():
        thread = factories.make_thread("gravatar")
        factories.make_comment(thread, "approved", email="Someone@Example.org")
        response = app.test_client().get("/threads/gravatar")
        html = response.get_data(as_text=True)
        assert f"https://gravatar.com/avatar/{hashlib.sha256(b'someone@example.org').hexdigest()}" in html
        assert hashlib.md5(b"someone@example.org").hexdigest() not in html
        assert "img-src 'self' data: https://gravatar.com" in response.headers["Content-Security-Policy"]


def test_the_saved_details_cookie_is_encrypted_and_secure_behind_a_tls_proxy(make_app):
    import base64

    app = make_app(MODERATION_PROXY_HOPS=1)
    with app.app_context():
        factories.make_thread("cookie")
        client = app.test_client()
        https = {"X-Forwarded-Proto": "https", "Referer": "https://localhost/threads/cookie"}
        tokens = form_tokens(client.get("/threads/cookie", headers=https).get_data(as_text=True))
        fields = comment_fields(author_name="Cookie Reader", author_email="cookie.reader@example.org", remember="y")
        response = client.post("/threads/cookie", data={**tokens, **fields}, headers=https)
        assert response.status_code == 303
        header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("comment_author="))
        assert "Secure" in header and "HttpOnly" in header
        value = header.split(";", 1)[0].split("=", 1)[1]
        readable = value + base64.urlsafe_b64decode(value.split(":")[-1] + "==").decode("latin-1")
        assert "cookie.reader" not in readable and "Cookie Reader" not in readable
        page = client.get("/threads/cookie", headers=https).get_data(as_text=True)
        assert 'value="Cookie Reader"' in page and 'value="cookie.reader@example.org"' in page
