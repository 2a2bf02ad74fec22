"""Administrators manage the team in the console: add, invite, change roles, deactivate, reset passwords."""
import html
import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from moderation.api import tokens as api_tokens
from moderation.extensions import db
from moderation.models import AuditEvent, Moderator, utcnow
from moderation.review.services import decide
from moderation.team import services as team
from tests import factories
from tests.conftest import csrf_token, sign_in

NEW_PASSWORD = "a long new passphrase"
LINK = re.compile(r"https?://[^/\"]+(/moderation/team/welcome/[A-Za-z0-9_.\-]+)")


def _admin(app, username="root"):
    """A signed-in administrator's browser."""
    factories.make_moderator(username, is_admin=True)
    client = app.test_client()
    assert sign_in(client, username).status_code == 303
    return client


def _signed_in(app, username, password=factories.PASSWORD):
    client = app.test_client()
    assert sign_in(client, username, password).status_code == 303
    return client


def _token(client):
    return csrf_token(client.get("/moderation/team").get_data(as_text=True))


def _add(client, username, role="moderator", password=None, again=None):
    fields = {"csrf_token": _token(client), "username": username, "role": role, "how": "invite"}
    if password is not None:
        fields.update(how="password", password=password, again=password if again is None else again)
    return client.post("/moderation/team", data=fields)


def _act(client, moderator, action, **fields):
    return client.post(f"/moderation/team/{moderator.id}/{action}", data={"csrf_token": _token(client), **fields},
                       follow_redirects=True)


def _link(response):
    found = LINK.search(response.get_data(as_text=True))
    assert found, "the page shows no welcome link"
    return found.group(1)


def _welcome(client, link, new=NEW_PASSWORD, again=None):
    page = client.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True)), "new": new,
                                   "again": new if again is None else again})


def _moderator(username):
    db.session.expire_all()
    return db.session.scalar(sa.select(Moderator).where(Moderator.username == username))


def _row(client, moderator):
    """The team page's row of one person, as the text a reader sees in its cells."""
    page = client.get("/moderation/team").get_data(as_text=True)
    row = re.search(rf'<tr id="member-{moderator.id}">(.*?)</tr>', page, re.S)
    assert row, f"{moderator.username} is not on the team page"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in cells], row.group(1)


# --- Adding people -------------------------------------------------------------------------------------------------

def test_a_moderator_added_with_a_password_signs_in_with_it(app):
    admin = _admin(app)
    response = _add(admin, "bob", password=NEW_PASSWORD)
    assert response.status_code == 303
    assert "bob added." in admin.get("/moderation/team").get_data(as_text=True)
    cells, _ = _row(admin, _moderator("bob"))
    assert cells[:4] == ["bob", "Moderator", "Active", "Never"]
    bob = _signed_in(app, "bob", NEW_PASSWORD)
    assert bob.get("/moderation/").status_code == 200
    assert bob.get("/moderation/team").status_code == 403
    assert _row(admin, _moderator("bob"))[0][3] != "Never", "the last sign-in is shown"


def test_an_administrator_added_as_one_may_use_the_team_page(app):
    admin = _admin(app)
    assert _add(admin, "carol", role="admin", password=NEW_PASSWORD).status_code == 303
    assert _signed_in(app, "carol", NEW_PASSWORD).get("/moderation/team").status_code == 200


def test_an_invited_moderator_chooses_a_password_from_the_link_and_signs_in(app):
    admin = _admin(app)
    response = _add(admin, "dana")
    assert response.status_code == 200 and "shown only this once" in response.get_data(as_text=True)
    assert 'data-copy="welcome-link"' in response.get_data(as_text=True)
    assert "clipboard" in admin.get("/moderation/team/copy.js").get_data(as_text=True)
    link = _link(response)
    assert _row(admin, _moderator("dana"))[0][2] == "Invited, not yet joined"
    assert link not in admin.get("/moderation/team").get_data(as_text=True), "the link is shown once"

    stranger = app.test_client()
    page = stranger.get(link)
    assert page.status_code == 200 and "Welcome, dana" in page.get_data(as_text=True)
    done = _welcome(stranger, link)
    assert done.status_code == 303 and done.headers["Location"].endswith("/moderation/login")
    assert "Your password is set. Sign in with it." in stranger.get("/moderation/login").get_data(as_text=True)
    assert _signed_in(app, "dana", NEW_PASSWORD).get("/moderation/").status_code == 200
    assert _row(admin, _moderator("dana"))[0][2] == "Active"


def test_an_invited_moderator_cannot_sign_in_before_choosing_a_password(app):
    admin = _admin(app)
    _link(_add(admin, "dana"))
    for guess in ("", "!", "!invited:", _moderator("dana").password_hash):
        assert sign_in(app.test_client(), "dana", guess).status_code in (401, 422)


@pytest.mark.parametrize("new, again, message", [
    ("short", "short", "A password needs 8 to 1,024 characters."),
    (NEW_PASSWORD, "something else entirely", "The two passwords differ."),
    ("x" * 1025, "x" * 1025, "A password needs 8 to 1,024 characters."),
])
def test_a_refused_password_on_the_welcome_page_says_why_and_the_link_still_works(app, new, again, message):
    link = _link(_add(_admin(app), "dana"))
    client = app.test_client()
    response = _welcome(client, link, new, again)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _welcome(client, link).status_code == 303


def test_a_welcome_link_works_once(app):
    link = _link(_add(_admin(app), "dana"))
    client = app.test_client()
    assert _welcome(client, link).status_code == 303
    again = client.get(link)
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)
    token = csrf_token(client.get("/moderation/login").get_data(as_text=True))
    replay = client.post(link, data={"csrf_token": token, "new": "the attacker's password",
                                     "again": "the attacker's password"})
    assert replay.status_code == 410
    assert sign_in(app.test_client(), "dana", "the attacker's password").status_code == 401
    assert sign_in(app.test_client(), "dana", NEW_PASSWORD).status_code == 303


def test_an_expired_welcome_link_is_refused_and_a_recent_one_works(app, monkeypatch):
    dana, _ = team.add_moderator("dana", is_admin=False)

    def link_made(hours_ago):
        with monkeypatch.context() as patch:
            patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - hours_ago * 3600)
            return f"/moderation/team/welcome/{team.welcome_token(dana)}"

    client = app.test_client()
    expired = client.get(link_made(73))
    assert expired.status_code == 410 and "This link has expired" in expired.get_data(as_text=True)
    assert client.get(link_made(71)).status_code == 200


@pytest.mark.parametrize("token", [
    "not-a-token",
    URLSafeTimedSerializer("another secret", salt=team.WELCOME_SALT).dumps({"id": 1, "fp": "0" * 32}),
])
def test_a_forged_welcome_link_is_a_clear_page(app, token):
    response = app.test_client().get(f"/moderation/team/welcome/{token}")
    assert response.status_code == 410 and "This link could not be verified." in response.get_data(as_text=True)


def test_a_link_signed_for_something_else_is_not_a_welcome_link(app):
    dana, _ = team.add_moderator("dana", is_admin=False)
    other = URLSafeTimedSerializer(app.secret_key, salt="another purpose").dumps(
        {"id": dana.id, "fp": team._fingerprint(dana.password_hash)})
    assert app.test_client().get(f"/moderation/team/welcome/{other}").status_code == 410


def test_the_welcome_page_is_never_cached_nor_sent_as_a_referrer(app):
    link = _link(_add(_admin(app), "dana"))
    client = app.test_client()
    for response in (client.get(link), client.get("/moderation/team/welcome/forged"), _welcome(client, link)):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_deactivated_persons_welcome_link_does_not_work(app):
    admin = _admin(app)
    link = _link(_add(admin, "dana"))
    _act(admin, _moderator("dana"), "deactivate")
    response = app.test_client().get(link)
    assert response.status_code == 410 and "deactivated" in response.get_data(as_text=True)


# --- Bad input ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("username, password, again, message", [
    ("Alice", NEW_PASSWORD, None, "is taken (usernames are unique regardless of case)."),
    ("newbie", "short", None, "A password needs 8 to 1,024 characters."),
    ("newbie", NEW_PASSWORD, "a different passphrase", "The two passwords differ."),
    ("newbie", "x" * 1025, None, "A password needs 8 to 1,024 characters."),
    ("n" * 81, NEW_PASSWORD, None, "A username can be at most 80 characters."),
    ("new\tbie", NEW_PASSWORD, None, "A username cannot contain control characters"),
    ("new\x07bie", None, None, "A username cannot contain control characters"),
    ("\u202enewbie", None, None, "A username cannot contain control characters"),
    ("token:newbie", None, None, "A username cannot start with 'token:'"),
    ("   ", None, None, "Enter a username."),
])
def test_bad_input_is_refused_beside_the_field_and_the_username_kept(app, username, password, again, message):
    admin = _admin(app)
    factories.make_moderator("alice")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Moderator))
    response = _add(admin, username, password=password, again=again)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html.unescape(page)
    field = re.search(r'<input[^>]*name="username"[^>]*>', page).group(0)
    assert f'value="{html.escape(username.strip(), quote=True)}"' in field, "the typed username is kept"
    assert message in html.unescape(page.split('name="username"', 1)[1]), "the message is beside its field"
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Moderator)) == before


def test_an_expired_form_adds_nobody_and_keeps_the_username(app):
    admin = _admin(app)
    response = admin.post("/moderation/team", data={"csrf_token": "stale", "username": "erin", "role": "moderator",
                                                     "how": "invite"})
    assert response.status_code == 422 and "The page had expired" in response.get_data(as_text=True)
    assert 'value="erin"' in response.get_data(as_text=True) and _moderator("erin") is None


# --- Roles, deactivation, resets -----------------------------------------------------------------------------------

def test_deactivating_someone_ends_their_open_session_at_once(app):
    admin = _admin(app)
    bob = factories.make_moderator("bob")
    browser = _signed_in(app, "bob")
    assert browser.get("/moderation/").status_code == 200
    page = _act(admin, bob, "deactivate").get_data(as_text=True)
    assert "bob deactivated and signed out everywhere." in page
    assert browser.get("/moderation/").status_code == 302
    assert sign_in(app.test_client(), "bob").status_code == 401
    assert _row(admin, bob)[0][2] == "Deactivated"

    assert "bob reactivated" in _act(admin, bob, "reactivate").get_data(as_text=True)
    assert browser.get("/moderation/").status_code == 302, "the session ended; reactivating does not revive it"
    assert _signed_in(app, "bob").get("/moderation/").status_code == 200


def test_a_reset_password_stops_the_old_one_and_every_session(app):
    admin = _admin(app)
    bob = factories.make_moderator("bob")
    browser = _signed_in(app, "bob")
    first = _act(admin, bob, "reset-password")
    assert first.status_code == 200 and "Password reset for bob" in first.get_data(as_text=True)
    assert browser.get("/moderation/").status_code == 302
    assert sign_in(app.test_client(), "bob").status_code == 401
    assert _row(admin, bob)[0][2] == "Password reset, new one not yet chosen"

    second = _link(_act(admin, bob, "reset-password"))
    assert app.test_client().get(_link(first)).status_code == 410, "a newer link replaces the older one"
    assert _welcome(app.test_client(), second).status_code == 303
    assert sign_in(app.test_client(), "bob", NEW_PASSWORD).status_code == 303


def test_an_administrator_resets_their_own_password_on_the_password_page_only(app):
    admin = _admin(app)
    page = _act(admin, _moderator("root"), "reset-password").get_data(as_text=True)
    assert "Change your own password on the Password page." in page
    assert admin.get("/moderation/team").status_code == 200


def test_a_promoted_moderator_becomes_an_administrator_and_back(app):
    admin = _admin(app)
    bob = factories.make_moderator("bob")
    browser = _signed_in(app, "bob")
    assert "bob is now an administrator." in _act(admin, bob, "role", role="admin").get_data(as_text=True)
    assert browser.get("/moderation/team").status_code == 200
    assert "bob is now a moderator." in _act(admin, bob, "role", role="moderator").get_data(as_text=True)
    assert browser.get("/moderation/team").status_code == 403


def test_the_last_active_administrator_cannot_be_demoted_or_deactivated(app):
    admin = _admin(app)
    root = _moderator("root")
    api_tokens.create_token("ci", "admin")  # an API token's identity is no administrator of the team
    page = _act(admin, root, "role", role="moderator").get_data(as_text=True)
    assert "root is the last active administrator and cannot be made a moderator" in page
    assert "You cannot deactivate yourself" in _act(admin, root, "deactivate").get_data(as_text=True)
    with pytest.raises(team.TeamRefused, match="last active administrator and cannot be deactivated"):
        team.deactivate(factories.make_moderator("bob"), root.id)
    assert _moderator("root").is_admin and _moderator("root").active


def test_an_administrator_may_step_down_while_another_remains(app):
    admin = _admin(app)
    carol = factories.make_moderator("carol", is_admin=True)
    retired = factories.make_moderator("dave", is_admin=True)
    _act(admin, retired, "deactivate")
    stepped_down = _act(admin, _moderator("root"), "role", role="moderator")
    assert "root is now a moderator." in stepped_down.get_data(as_text=True)
    assert admin.get("/moderation/team").status_code == 403
    carols = _signed_in(app, "carol")
    page = _act(carols, carol, "role", role="moderator").get_data(as_text=True)
    assert "carol is the last active administrator" in page, "a deactivated administrator does not count"


def test_a_team_change_without_its_csrf_token_changes_nothing(app):
    admin = _admin(app)
    bob = factories.make_moderator("bob")
    response = admin.post(f"/moderation/team/{bob.id}/deactivate", data={}, follow_redirects=True)
    assert "That page had expired, so nothing was changed." in response.get_data(as_text=True)
    assert _moderator("bob").active


# --- Who sees what --------------------------------------------------------------------------------------------------

def test_api_token_identities_are_not_people(app):
    admin = _admin(app)
    _, row = api_tokens.create_token("ci-exporter", "moderate")
    assert "token:ci-exporter" not in admin.get("/moderation/team").get_data(as_text=True)
    response = admin.post(f"/moderation/team/{row.moderator_id}/deactivate", data={"csrf_token": _token(admin)})
    assert response.status_code == 404
    assert _moderator("token:ci-exporter").active


def _team_requests(moderator_id):
    return [("GET", "/moderation/team"), ("GET", "/moderation/team/copy.js"), ("POST", "/moderation/team")] + [
        ("POST", f"/moderation/team/{moderator_id}/{action}")
        for action in ("role", "deactivate", "reactivate", "reset-password")]


def test_every_team_route_refuses_moderators_and_sends_strangers_to_sign_in(app):
    factories.make_moderator("alice")
    bob = factories.make_moderator("bob")
    moderator = _signed_in(app, "alice")
    token = csrf_token(moderator.get("/moderation/").get_data(as_text=True))
    stranger = app.test_client()
    fields = {"csrf_token": token, "username": "mallory", "role": "admin", "how": "invite"}
    for method, url in _team_requests(bob.id):
        refused = moderator.open(url, method=method, data=fields if method == "POST" else None)
        assert refused.status_code == 403, f"{method} {url}: a moderator got {refused.status_code}"
        sent = stranger.open(url, method=method, data=fields if method == "POST" else None)
        assert sent.status_code == 302 and sent.headers["Location"].startswith("/moderation/login"), f"{method} {url}"
    assert _moderator("mallory") is None and _moderator("bob").active and not _moderator("bob").is_admin


# --- Counts ---------------------------------------------------------------------------------------------------------

def test_the_team_page_counts_each_persons_decisions(app):
    admin = _admin(app)
    thread = factories.make_thread()
    bob, carol, erin = (factories.make_moderator(name) for name in ("bob", "carol", "erin"))
    comments = [factories.make_comment(thread, "held") for _ in range(4)]
    decide(comments[0].id, "approve", bob)
    decide(comments[1].id, "reject", bob)
    decide(comments[2].id, "spam", bob)
    decide(comments[2].id, "not-spam", carol)
    db.session.execute(sa.update(AuditEvent)
                       .where(AuditEvent.comment_id == comments[0].id, AuditEvent.moderator_id == bob.id)
                       .values(created_at=utcnow() - timedelta(days=31)))
    db.session.commit()

    assert _row(admin, bob)[0][4:6] == ["2", "3"]
    assert _row(admin, carol)[0][4:6] == ["1", "1"]
    assert _row(admin, erin)[0][4:6] == ["0", "0"]
    assert 'href="/moderation/audit?moderator=bob"' in _row(admin, bob)[1]


def test_the_team_page_counts_everyone_in_one_query(app):
    admin = _admin(app)
    thread = factories.make_thread()
    for n in range(5):
        decide(factories.make_comment(thread, "held").id, "approve", factories.make_moderator(f"extra{n}"))
    statements = _statements(admin, "/moderation/team")
    assert len([s for s in statements if "audit_events" in s]) == 1, "one grouped query, not one per person"
    assert len([s for s in statements if "FROM moderators" in s]) <= 3, "no query per person"


def _statements(client, url):
    """Every SQL statement the request sent to the database."""
    seen = []

    def count(conn, cursor, statement, *rest):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return seen
