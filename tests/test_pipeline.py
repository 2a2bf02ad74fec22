"""End to end through a real worker on a real broker: post -> checked -> held -> approved -> public."""
import time
import uuid

import pytest
import redis
from kombu import Connection

from moderation.extensions import db
from tests import factories
from tests.conftest import RUN_ID, build_app, comment_fields, csrf_token, empty_tables, form_tokens, sign_in
from tests.services import RABBITMQ_URL, REDIS_URL, need
from tests.worker import Worker, wait_for

pytestmark = pytest.mark.pipeline
STACKS = {
    "postgresql+redis": ("postgresql", "redis"),
    "sqlite+sqlite-broker": ("sqlite", "sqlite"),
    "postgresql+rabbitmq": ("postgresql", "rabbitmq"),
}


def _broker_url(kind, tmp_path):
    if kind == "sqlite":
        return f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    need(kind)
    return REDIS_URL if kind == "redis" else RABBITMQ_URL


def _drop_queue(kind, queue):
    if kind == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        keys = [k for pattern in (f"*{queue}*",) for k in client.scan_iter(pattern)]
        if keys:
            client.delete(*keys)
    elif kind == "rabbitmq":
        with Connection(RABBITMQ_URL) as connection:
            connection.default_channel.queue_delete(queue)


@pytest.fixture(params=list(STACKS), ids=list(STACKS))
def stack(request, tmp_path):
    """An app and a worker subprocess sharing one database and one broker queue of this test's own."""
    database, broker = STACKS[request.param]
    database_url = (
        f"sqlite:///{tmp_path / 'moderation.sqlite3'}" if database == "sqlite" else request.getfixturevalue("postgresql_url")
    )
    queue = f"moderation-test-{RUN_ID}-{uuid.uuid4().hex[:6]}"
    broker_url = _broker_url(broker, tmp_path)
    app = build_app(database_url, CELERY_BROKER_URL=broker_url, MODERATION_QUEUE=queue)
    worker = Worker({"DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url, "MODERATION_QUEUE": queue})
    yield app, worker
    worker.stop()
    _drop_queue(broker, queue)
    empty_tables(app)


def _state(moderator_client, comment_id):
    page = moderator_client.get("/api/v1/moderation/comments?state=held").get_json()
    spam = moderator_client.get("/api/v1/moderation/comments?state=spam").get_json()
    for row in page["comments"] + spam["comments"]:
        if row["id"] == comment_id:
            return row
    return None


def _post(client, key, **fields):
    tokens = form_tokens(client.get(f"/threads/{key}").get_data(as_text=True))
    response = client.post(f"/threads/{key}", data={**tokens, **comment_fields(**fields)})
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("comment-", 1)[1])


def test_a_comment_goes_from_the_form_through_the_worker_to_the_page(stack, record_property):
    app, worker = stack
    with app.app_context():
        factories.make_thread("pipeline", "Pipeline article")
        factories.make_moderator("alice")
    reader, moderator = app.test_client(), app.test_client()
    email = f"pipeline-{uuid.uuid4().hex}@example.org"
    assert sign_in(moderator).status_code == 303

    started = time.monotonic()
    comment_id = _post(reader, "pipeline", author_email=email, body="Worth reading, thank you.")
    held = wait_for(lambda: _state(moderator, comment_id))
    record_property("post_to_held_seconds", round(time.monotonic() - started, 3))
    assert held["state"] == "held"
    robot_id = _post(reader, "pipeline", body="Cheap watches here", comment_check="http://spam.example")
    robot = wait_for(lambda: _state(moderator, robot_id))
    assert robot["state"] == "spam"
    assert "robots" in " ".join(robot["reasons"])

    assert "Worth reading" not in app.test_client().get("/threads/pipeline").get_data(as_text=True)
    queue_page = moderator.get("/moderation/").get_data(as_text=True)
    approved = moderator.post(f"/moderation/comments/{comment_id}/approve", data={"csrf_token": csrf_token(queue_page)})
    assert approved.status_code == 303

    visitor = app.test_client()
    assert "Worth reading, thank you." in visitor.get("/threads/pipeline").get_data(as_text=True)
    public = visitor.get("/api/v1/threads/pipeline/comments").get_json()
    assert [c["body"] for c in public["comments"]] == ["Worth reading, thank you."]
    assert email not in worker.log
    with app.app_context():
        assert db.session.execute(db.text("SELECT count(*) FROM audit_events WHERE comment_id = :id"),
                                  {"id": comment_id}).scalar() == 3
