"""The Celery wiring: every task has time limits, and sending one never costs the reader what they posted."""
import sqlite3
import uuid

import pytest
import sqlalchemy as sa
from kombu import Connection, Queue as KombuQueue
from celery import current_app as celery_current
from sqlalchemy import event
from sqlalchemy.engine import Engine

import workers.tasks  # noqa: F401 - registers the shared tasks
from moderation.extensions import db
from moderation.models import Comment
from moderation import embedded_broker
from tests import factories
from tests.conftest import comment_fields, form_tokens


def test_every_task_has_a_soft_and_a_hard_time_limit(app):
    celery_app = app.extensions["celery"]
    ours = {name for name in celery_current.tasks if name.startswith("moderation.")}
    assert {"moderation.check_comment", "moderation.sweep_pending", "moderation.purge_expired"} <= ours
    limits = celery_app.conf.task_annotations
    for name in ours:
        soft, hard = limits[name]["soft_time_limit"], limits[name]["time_limit"]
        assert 0 < soft < hard, name
    assert limits["moderation.check_comment"]["soft_time_limit"] == app.config["MODERATION_CHECK_TIME_LIMIT"]


def _embedded_app(make_app, broker_path):
    return make_app(CELERY_BROKER_URL=f"sqla+sqlite:///{broker_path}", MODERATION_QUEUE=f"q-{uuid.uuid4().hex[:8]}")


def _queued(broker_path, queue):
    with sqlite3.connect(broker_path) as broker:
        return broker.execute("SELECT count(*) FROM kombu_message JOIN kombu_queue ON kombu_queue.id = queue_id "
                              "WHERE kombu_queue.name = ?", (queue,)).fetchone()[0]


def test_a_first_post_racing_another_process_for_the_embedded_queue_is_still_queued(make_app, post_form, tmp_path):
    """Four web processes' first posts each create the queue's row in the embedded broker: one of them wins."""
    broker_path = tmp_path / "broker.sqlite3"
    app = _embedded_app(make_app, broker_path)
    queue = app.config["MODERATION_QUEUE"]

    def another_process_first(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO kombu_queue"):
            with sqlite3.connect(broker_path) as other:
                other.execute("INSERT INTO kombu_queue (name) VALUES (?)", (queue,))

    event.listen(Engine, "before_cursor_execute", another_process_first)
    try:
        with app.app_context():
            factories.make_thread("raced", "Raced")
            client = app.test_client()
            tokens = form_tokens(client.get("/threads/raced").get_data(as_text=True))
            response = client.post("/threads/raced", data={**tokens, **comment_fields()})
    finally:
        event.remove(Engine, "before_cursor_execute", another_process_first)
    assert response.status_code == 303
    assert _queued(broker_path, queue) == 1, "the check was queued, on the queue the other process made"


@pytest.mark.parametrize("broken", ["a folder that is not there", "a file that is not a database"])
def test_a_broker_that_fails_after_the_commit_still_answers_the_reader(make_app, tmp_path, broken):
    """The comment is saved before the check is sent; a broker that cannot take it leaves it for the sweep."""
    broker_path = tmp_path / "broker.sqlite3"
    if broken == "a folder that is not there":
        broker_path = tmp_path / "no such folder" / "broker.sqlite3"
    else:
        broker_path.write_bytes(b"not a database, " * 100)
    app = _embedded_app(make_app, broker_path)
    with app.app_context():
        factories.make_thread("unsent", "Unsent")
        client = app.test_client()
        tokens = form_tokens(client.get("/threads/unsent").get_data(as_text=True))
        response = client.post("/threads/unsent", data={**tokens, **comment_fields(body="Kept for the sweep.")})
        assert response.status_code == 303
        comment = db.session.scalar(sa.select(Comment).where(Comment.body == "Kept for the sweep."))
        assert comment.state == "pending", "left for the sweep to send its check"


def test_a_queue_the_embedded_broker_could_not_create_loses_no_later_check(make_app, tmp_path):
    """When creating the queue's row fails (a locked database, say), that post's check is left for the sweep, and
    the next post's is queued where the workers read: never under no queue at all."""
    broker_path = tmp_path / "broker.sqlite3"
    app = _embedded_app(make_app, broker_path)
    queue = app.config["MODERATION_QUEUE"]

    def refused(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO kombu_queue"):
            return "INSERT INTO a_table_that_is_not_there (name) VALUES (?)", parameters
        return statement, parameters

    with app.app_context():
        factories.make_thread("locked", "Locked")
        client = app.test_client()
        tokens = form_tokens(client.get("/threads/locked").get_data(as_text=True))
        event.listen(Engine, "before_cursor_execute", refused, retval=True)
        try:
            first = client.post("/threads/locked", data={**tokens, **comment_fields(body="First.")})
        finally:
            event.remove(Engine, "before_cursor_execute", refused)
        second = client.post("/threads/locked", data={**tokens, **comment_fields(body="Second.")})
    assert (first.status_code, second.status_code) == (303, 303)
    with sqlite3.connect(broker_path) as broker:
        assert broker.execute("SELECT count(*) FROM kombu_message WHERE queue_id IS NULL").fetchone()[0] == 0
    assert _queued(broker_path, queue) == 1, "the second post's check waits on the queue the workers read"


def test_a_message_put_on_a_channel_another_thread_closed_meanwhile_is_still_queued(tmp_path):
    """Seen under gunicorn's threads: kombu closed a channel (it sets the channel's connection to None) while a web
    process's producer was publishing on it; the publish failed on the closed channel, the comment saved and its
    check left for the sweep. The embedded broker's channel keeps its database, so the message is stored."""
    broker_path, queue = tmp_path / "broker.sqlite3", f"q-{uuid.uuid4().hex[:8]}"
    embedded_broker.register()
    with Connection(f"sqla+sqlite:///{broker_path}") as connection:
        channel = connection.default_channel
        producer = connection.Producer(serializer="json")
        producer.publish({"check": 1}, routing_key=queue, declare=[KombuQueue(queue)])
        channel.connection = None  # what kombu's close_channel leaves, between the declare and the put
        channel._put(queue, {"body": "check 2"})
    assert _queued(broker_path, queue) == 2
