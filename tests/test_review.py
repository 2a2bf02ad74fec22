"""The moderator's side: sign-in, the queue, decisions one by one and in bulk, the history, the JSON queue."""
import pytest

from moderation.extensions import db
from moderation.models import AuditEvent, Comment
from moderation.review import services as review
from tests import factories
from tests.conftest import csrf_token, sign_in


@pytest.fixture
def signed_in(client, moderator):
    assert sign_in(client).status_code == 303
    return client


def _state(comment_id):
    db.session.expire_all()
    return db.session.get(Comment, comment_id).state


def test_sign_in_needs_the_right_password_and_the_queue_needs_sign_in(client, moderator):
    assert client.get("/moderation/").status_code == 302
    wrong = sign_in(client, password="not the password")
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.get_data(as_text=True)
    assert sign_in(client, username="nobody").status_code == 401
    right = sign_in(client)
    assert right.status_code == 303 and right.headers["Location"].endswith("/moderation/")
    assert client.get("/moderation/").status_code == 200


def test_passwords_are_stored_with_argon2id(moderator):
    assert moderator.password_hash.startswith("$argon2id$")
    assert "correct horse" not in moderator.password_hash


def test_the_queue_lists_held_comments_oldest_first_with_their_reasons(signed_in, thread):
    old = factories.make_comment(thread, "held", body="Older held comment.", reasons=["3 links, the limit is 2"])
    factories.make_comment(thread, "approved", body="Already approved.")
    new = factories.make_comment(thread, "held", body="Newer held comment.", email="shown-to-mods@example.org")
    html = signed_in.get("/moderation/").get_data(as_text=True)
    assert html.index(f'id="queue-{old.id}"') < html.index(f'id="queue-{new.id}"')
    assert "3 links, the limit is 2" in html
    assert "Already approved." not in html
    assert "s•••@example.org" in html and "shown-to-mods@example.org" not in html


@pytest.mark.parametrize("start, action, end", [
    ("held", "approve", "approved"), ("held", "reject", "rejected"), ("held", "spam", "spam"),
    ("spam", "not-spam", "held"), ("approved", "spam", "spam"), ("rejected", "approve", "approved"),
])
def test_each_action_moves_the_comment_and_is_audited(signed_in, thread, moderator, start, action, end):
    comment = factories.make_comment(thread, start)
    token = csrf_token(signed_in.get("/moderation/").get_data(as_text=True))
    response = signed_in.post(f"/moderation/comments/{comment.id}/{action}", data={"csrf_token": token})
    assert response.status_code == 303
    assert _state(comment.id) == end
    event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.comment_id == comment.id).order_by(AuditEvent.id.desc())).first()
    assert (event.actor, event.moderator_id, event.from_state, event.to_state) == ("alice", moderator.id, start, end)


def test_an_action_that_does_not_apply_changes_nothing_and_says_why(signed_in, thread):
    comment = factories.make_comment(thread, "held")
    token = csrf_token(signed_in.get("/moderation/").get_data(as_text=True))
    response = signed_in.post(f"/moderation/comments/{comment.id}/not-spam", data={"csrf_token": token}, follow_redirects=True)
    assert f"Comment {comment.id} is held; it cannot be returned to the queue as not spam." in response.get_data(as_text=True)
    assert _state(comment.id) == "held"


def test_a_decision_without_a_valid_token_changes_nothing(signed_in, thread):
    comment = factories.make_comment(thread, "held")
    response = signed_in.post(f"/moderation/comments/{comment.id}/approve", data={"csrf_token": "forged"}, follow_redirects=True)
    assert "That page had expired, so nothing was changed." in response.get_data(as_text=True)
    assert _state(comment.id) == "held"


def test_bulk_decides_many_at_once_and_reports_what_it_skipped(signed_in, thread):
    held = [factories.make_comment(thread, "held") for _ in range(3)]
    approved = factories.make_comment(thread, "approved")
    token = csrf_token(signed_in.get("/moderation/").get_data(as_text=True))
    ids = [str(c.id) for c in held] + [str(approved.id)]
    response = signed_in.post("/moderation/comments/bulk", data={"csrf_token": token, "action": "approve", "ids": ids},
                              follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "3 comments approved." in html and "1 skipped" in html
    assert [_state(c.id) for c in held] == ["approved"] * 3


def test_bulk_without_ticked_comments_says_so(signed_in, thread):
    token = csrf_token(signed_in.get("/moderation/").get_data(as_text=True))
    response = signed_in.post("/moderation/comments/bulk", data={"csrf_token": token, "action": "spam"}, follow_redirects=True)
    assert "Tick at least one comment." in response.get_data(as_text=True)


def test_a_stale_decision_loses_to_the_one_already_made(thread, moderator):
    comment = factories.make_comment(thread, "held")
    other = factories.make_moderator("bob")
    review.decide(comment.id, "approve", moderator)
    with pytest.raises(review.DecisionRefused):
        review.decide(comment.id, "approve", other)
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).where(AuditEvent.to_state == "approved")) == 1


def test_the_history_page_shows_every_change(signed_in, thread, moderator):
    comment = factories.make_comment(thread, "held")
    review.decide(comment.id, "spam", moderator)
    review.decide(comment.id, "not-spam", moderator)
    html = signed_in.get(f"/moderation/comments/{comment.id}").get_data(as_text=True)
    assert html.count("<td>alice</td>") == 2 and "<td>spam</td>" in html


def test_the_json_queue_pages_through_comments_for_a_moderator_only(client, signed_in, thread, app):
    made = [factories.make_comment(thread, "held", reasons=["why"]) for _ in range(5)]
    assert app.test_client().get("/api/v1/moderation/comments").status_code == 401
    first = signed_in.get(f"/api/v1/moderation/comments?state=held&thread={thread.key}&limit=2").get_json()
    assert [c["id"] for c in first["comments"]] == [made[0].id, made[1].id]
    assert set(first["comments"][0]) == {"id", "thread", "parent_id", "state", "author_name", "body", "score", "reasons", "created_at"}
    seen = [c["id"] for c in first["comments"]]
    page = first
    while page["next"]:
        page = signed_in.get(page["next"]).get_json()
        seen += [c["id"] for c in page["comments"]]
    assert seen == [c.id for c in made]
    assert signed_in.get("/api/v1/moderation/comments?state=bogus").status_code == 400


def test_repeated_sign_in_attempts_are_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, MODERATION_LOGIN_LIMIT="2 per minute")
    client = app.test_client()
    with app.app_context():
        factories.make_moderator("erin")
    codes = [sign_in(client, "erin", "wrong password").status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_bulk_with_thousands_of_unknown_ids_answers_with_a_short_message(signed_in, thread):
    held = factories.make_comment(thread, "held")
    token = csrf_token(signed_in.get("/moderation/").get_data(as_text=True))
    ids = [str(held.id)] + [str(n) for n in range(100_000, 103_000)]
    response = signed_in.post("/moderation/comments/bulk", data={"csrf_token": token, "action": "reject", "ids": ids},
                              follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "1 comment rejected. 3,000 skipped" in html and "100019, …" in html and "100020" not in html
