"""A commenter's email never appears on a public page, in the public API, or in a log line."""
import logging
import uuid

from moderation.extensions import db
from moderation.models import Comment
from moderation.review import services as review
from tests import factories
from workers.tasks import check_comment


def _public_get_routes(app, thread_key):
    """Every GET route that needs no sign-in, filled in with this test's thread."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.startswith(("review.", "static")):
            continue
        if rule.endpoint == "api.moderation_comments":
            continue
        yield rule.rule.replace("<key>", thread_key)


def test_no_public_route_shows_the_email_of_an_approved_commenter(app, client, thread, post_form, moderator, caplog):
    caplog.set_level(logging.DEBUG)
    email = f"secret-{uuid.uuid4().hex}@example.org"
    assert post_form(thread.key, author_email=email, author_url="https://reader.example.org").status_code == 303
    comment = db.session.scalar(db.select(Comment))
    check_comment(comment.id)
    review.decide(comment.id, "approve", moderator)
    routes = list(_public_get_routes(app, thread.key))
    assert {"/", f"/threads/{thread.key}", f"/api/v1/threads/{thread.key}/comments", "/healthz"} <= set(routes)
    for visitor in (client, app.test_client()):
        for route in routes:
            with visitor.get(route) as response:  # a static file's response holds the file open until closed
                assert email not in response.get_data(as_text=True), route
                assert email not in str(response.headers), route
    assert comment.body in client.get(f"/threads/{thread.key}").get_data(as_text=True)
    assert email not in caplog.text


def test_the_public_api_has_no_email_field(app, client, thread):
    factories.make_comment(thread, "approved", email="hidden@example.org")
    response = client.get(f"/api/v1/threads/{thread.key}/comments")
    comments = response.get_json()["comments"]
    assert len(comments) == 1
    assert {"id", "parent_id", "author_name", "author_url", "body", "created_at"} <= set(comments[0])
    assert not any("email" in field or "mail" in field for field in comments[0])
    assert "hidden@example.org" not in response.get_data(as_text=True)
