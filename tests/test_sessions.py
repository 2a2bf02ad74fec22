"""A moderator's sign-in lives on the server: signing out or changing the password ends it, copied cookies included."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from moderation.cli import cli
from moderation.extensions import db
from moderation.models import ModeratorSession, utcnow
from tests import factories
from tests.conftest import csrf_token, sign_in


def _copy_of(client, app):
    """Another browser holding a copy of this one's session cookie (stolen, or kept from before sign-out)."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_session_cookie_copied_before_sign_out_no_longer_works(app, client, moderator):
    assert sign_in(client).status_code == 303
    thief = _copy_of(client, app)
    assert thief.get("/moderation/").status_code == 200
    token = csrf_token(client.get("/moderation/").get_data(as_text=True))
    assert client.post("/moderation/logout", data={"csrf_token": token}).status_code == 303
    assert thief.get("/moderation/").status_code == 302
    assert thief.get("/api/v1/moderation/comments").status_code == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ModeratorSession)) == 0


def test_changing_the_password_signs_out_every_other_browser(app, client, moderator):
    sign_in(client)
    other = app.test_client()
    sign_in(other)
    thief = _copy_of(client, app)
    page = client.get("/moderation/password").get_data(as_text=True)
    response = client.post("/moderation/password", data={"csrf_token": csrf_token(page), "current": factories.PASSWORD,
                                                          "new": "a brand new passphrase", "again": "a brand new passphrase"},
                           follow_redirects=True)
    assert "Password changed." in response.get_data(as_text=True)
    assert client.get("/moderation/").status_code == 200, "the browser that changed it stays signed in"
    assert other.get("/moderation/").status_code == 302 and thief.get("/moderation/").status_code == 302
    assert sign_in(app.test_client(), password="a brand new passphrase").status_code == 303
    assert sign_in(app.test_client()).status_code == 401


@pytest.mark.parametrize("fields, message", [
    ({"current": "not my password", "new": "another passphrase", "again": "another passphrase"},
     "That is not your current password."),
    ({"current": factories.PASSWORD, "new": "short", "again": "short"}, "A password needs 8 to 1,024 characters."),
    ({"current": factories.PASSWORD, "new": "another passphrase", "again": "different passphrase"},
     "The two new passwords differ."),
])
def test_a_refused_password_change_says_why_and_changes_nothing(app, client, moderator, fields, message):
    sign_in(client)
    page = client.get("/moderation/password").get_data(as_text=True)
    response = client.post("/moderation/password", data={"csrf_token": csrf_token(page), **fields})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert sign_in(app.test_client()).status_code == 303


def test_the_command_line_password_change_ends_every_sign_in(app, client, moderator):
    sign_in(client)
    result = app.test_cli_runner().invoke(cli, ["moderators", "password", "alice"], input="set by the operator\n")
    assert result.exit_code == 0 and "signed out" in result.output
    assert client.get("/moderation/").status_code == 302
    assert sign_in(app.test_client(), password="set by the operator").status_code == 303
    unknown = app.test_cli_runner().invoke(cli, ["moderators", "password", "nobody"], input="whatever long\n")
    assert unknown.exit_code != 0 and "There is no moderator named 'nobody'." in unknown.output


def test_a_sign_in_ends_after_the_configured_days(app, client, moderator):
    sign_in(client)
    days = app.config["MODERATION_SESSION_DAYS"]
    db.session.execute(sa.update(ModeratorSession).values(created_at=utcnow() - timedelta(days=days, seconds=1)))
    db.session.commit()
    assert client.get("/moderation/").status_code == 302


def test_a_forged_session_token_is_no_sign_in(app, moderator):
    visitor = app.test_client()
    with visitor.session_transaction() as session:
        session["_user_id"] = "1"
        session["_fresh"] = True
    assert visitor.get("/moderation/").status_code == 302
