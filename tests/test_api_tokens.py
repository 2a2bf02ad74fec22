"""API tokens: created and shown once, kept hashed, scoped, revocable; decisions through the API are audited."""
import hashlib

import pytest

from moderation.api import tokens
from moderation.cli import cli
from moderation.extensions import db
from moderation.models import ApiToken, AuditEvent, Comment, TrainingExample
from tests import factories
from tests.conftest import sign_in


def _create(app, name, scope):
    result = app.test_cli_runner().invoke(cli, ["tokens", "create", name, "--scope", scope])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[0]


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_token_is_printed_once_and_only_its_hash_is_kept(app):
    token = _create(app, "exporter", "read")
    assert token.startswith("mod_") and len(token) > 40
    row = db.session.scalar(db.select(ApiToken).where(ApiToken.name == "exporter"))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    listed = app.test_cli_runner().invoke(cli, ["tokens", "list"]).output
    assert "exporter\tread" in listed and token not in listed and "last used never" in listed


def test_a_read_token_reads_the_queue_and_cannot_decide(app, thread):
    comment = factories.make_comment(thread, "held", email="queued-author@example.org")
    token = _create(app, "reader-bot", "read")
    client = app.test_client()
    queue = client.get("/api/v1/moderation/comments", headers=_bearer(token))
    assert queue.status_code == 200 and [c["id"] for c in queue.get_json()["comments"]] == [comment.id]
    assert "queued-author" not in queue.get_data(as_text=True)
    refused = client.post(f"/api/v1/moderation/comments/{comment.id}", json={"action": "approve"}, headers=_bearer(token))
    assert refused.status_code == 403 and "'read'" in refused.get_json()["error"]
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).state == "held"


def test_a_moderate_token_decides_and_the_history_names_it(app, thread):
    comment = factories.make_comment(thread, "held")
    token = _create(app, "ci-moderator", "moderate")
    client = app.test_client()
    decided = client.post(f"/api/v1/moderation/comments/{comment.id}", json={"action": "spam", "reason": "link farm"},
                          headers=_bearer(token))
    assert decided.status_code == 200 and decided.get_json()["comment"]["state"] == "spam"
    event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.comment_id == comment.id)
                               .order_by(AuditEvent.id.desc())).first()
    assert (event.actor, event.to_state, event.reason) == ("token:ci-moderator", "spam", "link farm")
    assert db.session.scalar(db.select(TrainingExample.is_spam).where(TrainingExample.comment_id == comment.id)) is True
    again = client.post(f"/api/v1/moderation/comments/{comment.id}", json={"action": "spam"}, headers=_bearer(token))
    assert again.status_code == 409 and "cannot be marked as spam" in again.get_json()["error"]
    missing = client.post("/api/v1/moderation/comments/999999", json={"action": "approve"}, headers=_bearer(token))
    assert missing.status_code == 404


def test_bulk_decisions_through_a_token(app, thread):
    held = [factories.make_comment(thread, "held").id for _ in range(3)]
    approved = factories.make_comment(thread, "approved").id
    token = _create(app, "bulk-bot", "moderate")
    answer = app.test_client().post("/api/v1/moderation/comments/bulk", headers=_bearer(token),
                                    json={"ids": held + [approved, 999999], "action": "approve"})
    assert answer.status_code == 200
    assert answer.get_json() == {"done": held, "skipped": [approved, 999999]}


@pytest.mark.parametrize("body, field", [({"action": "delete"}, "action"), ({}, "action"),
                                         ({"action": "approve", "reason": "x" * 501}, "reason")])
def test_a_bad_decision_is_a_422_naming_the_field(app, thread, body, field):
    comment = factories.make_comment(thread, "held")
    token = _create(app, "strict-bot", "moderate")
    answer = app.test_client().post(f"/api/v1/moderation/comments/{comment.id}", json=body, headers=_bearer(token))
    assert answer.status_code == 422 and field in answer.get_json()["fields"]


def test_a_revoked_or_wrong_token_is_a_401_and_a_revoked_identity_cannot_sign_in(app, thread):
    comment = factories.make_comment(thread, "held")
    token = _create(app, "old-bot", "moderate")
    client = app.test_client()
    assert app.test_cli_runner().invoke(cli, ["tokens", "revoke", "old-bot"]).exit_code == 0
    for sent in (token, token[:-3] + "abc", "mod_", "not-a-token", ""):
        answer = client.post(f"/api/v1/moderation/comments/{comment.id}", json={"action": "approve"},
                             headers={"Authorization": f"Bearer {sent}"})
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/moderation/comments", headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert sign_in(client, "token:old-bot", "anything at all").status_code == 401
    listed = app.test_cli_runner().invoke(cli, ["tokens", "list"]).output
    assert "revoked" in listed


def test_a_signed_in_browser_may_read_but_decides_only_through_the_console(app, thread, moderator):
    comment = factories.make_comment(thread, "held")
    client = app.test_client()
    assert sign_in(client).status_code == 303
    assert client.get("/api/v1/moderation/comments").status_code == 200
    answer = client.post(f"/api/v1/moderation/comments/{comment.id}", json={"action": "approve"})
    assert answer.status_code == 401, "a cookie alone never decides through the API (no other site can use it)"


def test_token_names_and_scopes_are_checked(app):
    runner = app.test_cli_runner()
    assert runner.invoke(cli, ["tokens", "create", "a name", "--scope", "read"]).exit_code != 0
    assert runner.invoke(cli, ["tokens", "create", "x", "--scope", "root"]).exit_code != 0
    _create(app, "twice", "read")
    again = runner.invoke(cli, ["tokens", "create", "twice", "--scope", "read"])
    assert again.exit_code != 0 and "already exists" in again.output
    assert runner.invoke(cli, ["tokens", "revoke", "nobody"]).exit_code != 0
    with pytest.raises(tokens.TokenError):
        tokens.create_token("", "read")


def test_a_revoked_name_can_be_given_a_new_token_for_the_same_identity(app, thread):
    old = _create(app, "rotating", "read")
    assert app.test_cli_runner().invoke(cli, ["tokens", "revoke", "rotating"]).exit_code == 0
    new = _create(app, "rotating", "moderate")
    comment = factories.make_comment(thread, "held")
    client = app.test_client()
    assert client.get("/api/v1/moderation/comments", headers=_bearer(old)).status_code == 401
    assert client.post(f"/api/v1/moderation/comments/{comment.id}", json={"action": "approve"},
                       headers=_bearer(new)).status_code == 200
    assert db.session.scalar(db.select(db.func.count()).select_from(ApiToken)) == 1
