"""A decision's follow-ups (teach the model, tell Akismet) are written in the decision's own commit and sent until
the broker takes them: a broker down during a decision loses neither a training run nor a report."""
import base64
import json
import sqlite3
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import event

from moderation.extensions import db
from moderation.models import Followup, utcnow
from moderation.queue import ANNOUNCE, LEARN_FROM_DECISION, REPORT_DECISION, sweep_followups, training_queue
from moderation.review import services as review
from tests import factories
from workers.tasks import sweep_pending


def _embedded_app(make_app, broker_path, **settings):
    return make_app(CELERY_BROKER_URL=f"sqla+sqlite:///{broker_path}", MODERATION_QUEUE=f"q-{uuid.uuid4().hex[:8]}",
                    **settings)


def _waiting(broker_path, queue):
    """[(task name, its first argument)] of the messages waiting on the embedded broker's queue, oldest first."""
    if not broker_path.exists():
        return []
    with sqlite3.connect(broker_path) as broker:
        payloads = [row[0] for row in broker.execute(
            "SELECT payload FROM kombu_message JOIN kombu_queue ON kombu_queue.id = queue_id "
            "WHERE kombu_queue.name = ? ORDER BY kombu_message.id", (queue,))]
    messages = [json.loads(payload) for payload in payloads]
    arguments = [json.loads(base64.b64decode(message["body"]))[0] for message in messages]
    return [(message["headers"]["task"], args[0] if args else None) for message, args in zip(messages, arguments)]


def _owed():
    return db.session.execute(sa.select(Followup.task, Followup.comment_id).order_by(Followup.id)).all()


def _claims_run_out():
    """As if FOLLOWUP_CLAIM_SECONDS had passed: whoever was sending them is taken to have failed."""
    db.session.execute(sa.update(Followup).values(claimed_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_a_decision_the_broker_takes_leaves_nothing_owed(make_app, tmp_path):
    broker_path = tmp_path / "broker.sqlite3"
    app = _embedded_app(make_app, broker_path)
    with app.app_context():
        comment = factories.make_comment(factories.make_thread("taken", "Taken"), "held")
        review.decide(comment.id, "approve", factories.make_moderator())
        assert _owed() == []
        assert _waiting(broker_path, training_queue(app.config)) == [(LEARN_FROM_DECISION, comment.id)], \
            "the retraining waits on its own queue, for the training worker"
        assert _waiting(broker_path, app.config["MODERATION_QUEUE"]) == [(ANNOUNCE, None)], \
            "and webhooks and subscribers are to be told of it"


def test_follow_ups_the_broker_could_not_take_are_sent_by_the_sweep_once_it_is_back(make_app, tmp_path):
    broker_path = tmp_path / "not yet" / "broker.sqlite3"  # the broker cannot open its file until the folder exists
    app = _embedded_app(make_app, broker_path, MODERATION_AKISMET_KEY="test-key")
    queue = app.config["MODERATION_QUEUE"]
    with app.app_context():
        thread, moderator = factories.make_thread("outage", "Outage"), factories.make_moderator()
        first, second = (factories.make_comment(thread, "held") for _ in range(2))
        done, skipped, _ = review.decide_many([first.id, second.id], "spam", moderator)
        assert (done, skipped) == ([first.id, second.id], []), "the decision itself stands"
        owed = [(LEARN_FROM_DECISION, second.id), (REPORT_DECISION, first.id), (REPORT_DECISION, second.id)]
        assert _owed() == owed, "one retraining for the burst, one report per comment, kept in the decision's commit"

        assert sweep_followups() == [], "within its claim, the request that wrote them may still be sending them"
        broker_path.parent.mkdir()
        _claims_run_out()
        assert sweep_pending() == 3, "the scheduled sweep sends every follow-up the broker never took"
        assert _owed() == []
        assert sweep_followups() == [], "and sends none twice"
        assert _waiting(broker_path, queue) == owed[1:], "the reports, where the checks are"
        assert _waiting(broker_path, training_queue(app.config)) == owed[:1]


def test_two_sweeps_at_once_send_a_follow_up_once(make_app, tmp_path):
    """Two schedulers (two machines) sweeping at the same moment: each follow-up is claimed by one of them."""
    broker_path = tmp_path / "broker.sqlite3"
    app = _embedded_app(make_app, broker_path)
    queue = app.config["MODERATION_QUEUE"]
    with app.app_context():
        comment = factories.make_comment(factories.make_thread("swept", "Swept"), "held")
        now = utcnow()
        db.session.add(Followup(task=LEARN_FROM_DECISION, comment_id=comment.id, due_at=now,
                                claimed_until=now - timedelta(seconds=1), created_at=now))
        db.session.commit()

        raced = []

        def the_other_sweep_first(conn, cursor, statement, parameters, context, executemany):
            if statement.startswith("UPDATE followups") and not raced:
                raced.append(statement)
                with db.engine.connect() as other:
                    other.execute(sa.update(Followup).values(claimed_until=utcnow() + timedelta(seconds=60)))
                    other.commit()

        event.listen(db.engine, "before_cursor_execute", the_other_sweep_first)
        try:
            assert sweep_followups() == [], "the other sweep claimed it between our read and our claim"
        finally:
            event.remove(db.engine, "before_cursor_execute", the_other_sweep_first)
        assert raced, "the other sweep claimed it"
        assert _owed() == [(LEARN_FROM_DECISION, comment.id)], "left to the sweep that claimed it"
        assert _waiting(broker_path, queue) == _waiting(broker_path, training_queue(app.config)) == []
