"""Webhooks: registered in the console, told of comments' events, signed, retried with backoff, logged."""
import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from celery.signals import before_task_publish

from moderation import announcements
from moderation.extensions import db
from moderation.models import Comment, Moderator, Webhook, WebhookDelivery, utcnow
from moderation.queue import DELIVER_WEBHOOK
from moderation.webhooks import delivery, services, signing
from tests import factories
from tests.conftest import RUN_ID, build_app, comment_fields, csrf_token, empty_tables, form_tokens, sign_in
from tests.services import REDIS_URL, need
from tests.worker import Worker, drop_queue, wait_for
from workers.tasks import check_comment
from workers.webhooks import deliver_webhook, sweep_webhooks

SECRET = re.compile(r'id="webhook-secret" value="(whsec_[A-Za-z0-9+/=]+)"')


# The receiver's check, as the README gives it.
TOLERANCE = 300


def verify(secret, headers, body):
    """The event in a webhook request, or ValueError saying why it is refused."""
    headers = {name.lower(): value for name, value in headers.items()}
    message_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE:
        raise ValueError("missing or stale timestamp")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if not any(hmac.compare_digest(expected, given) for given in headers.get("webhook-signature", "").split()):
        raise ValueError("bad signature")
    return json.loads(body)


class Receiver:
    """A webhook receiver on 127.0.0.1 that checks every request as the README does, with any of its `secrets` (one
    per webhook sending to it), and answers as planned: one planned answer per request (a status code, or "hang"),
    then `otherwise`; a request to one of `slow_paths` always hangs."""

    def __init__(self):
        self.secrets, self.plan, self.otherwise, self.got, self.slow_paths = [], [], 200, [], set()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                event, why = receiver.check(self.headers, body)
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.got.append({"path": self.path, "headers": headers, "body": body, "event": event,
                                     "refused": why})
                answer = receiver.plan.pop(0) if receiver.plan else receiver.otherwise
                answer = "hang" if self.path in receiver.slow_paths else answer
                if answer == "hang":
                    receiver.release.wait(5)
                    answer = 200
                try:
                    self.send_response(answer if event is not None else 401)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/comments"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def check(self, headers, body):
        why = "no secret"
        for secret in self.secrets:
            try:
                return verify(secret, dict(headers), body), None
            except ValueError as refused:
                why = str(refused)
        return None, why

    @property
    def events(self):
        return [request["event"] for request in self.got]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def queued():
    """Every task the code under test sends: (name, its arguments, seconds until its eta or None)."""
    seen = []

    def published(sender=None, headers=None, body=None, **kwargs):
        eta = headers.get("eta")
        wait = (datetime.fromisoformat(eta) - utcnow()).total_seconds() if eta else None
        seen.append((sender, body[0], wait))

    before_task_publish.connect(published, weak=False)
    yield seen
    before_task_publish.disconnect(published)


def _admin(app, username="root"):
    factories.make_moderator(username, is_admin=True)
    client = app.test_client()
    assert sign_in(client, username).status_code == 303
    return client


def _register(client, url, events=("created", "held"), scope="public", description="Our chat"):
    token = csrf_token(client.get("/moderation/webhooks").get_data(as_text=True))
    return client.post("/moderation/webhooks", data={"csrf_token": token, "url": url, "events": list(events),
                                                    "scope": scope, "description": description})


def _secret(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return SECRET.search(response.get_data(as_text=True)).group(1)


def _hook(receiver, events="created held", scope="public", path=""):
    """A webhook added through the service, its secret given to the receiver."""
    admin = db.session.scalar(sa.select(Moderator).where(Moderator.is_admin).limit(1)) or factories.make_moderator(
        f"admin-{uuid.uuid4().hex[:6]}", is_admin=True)
    secret, hook = services.create_webhook(receiver.url + path, events.split(), scope, None, admin)
    receiver.secrets.append(secret)
    return hook


def _owed():
    return db.session.scalars(sa.select(WebhookDelivery.id).order_by(WebhookDelivery.id)).all()


def _row(delivery_id):
    db.session.expire_all()
    return db.session.get(WebhookDelivery, delivery_id)


def _due_now(delivery_id):
    """As if its wait were over."""
    db.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_a_comment_posted_through_the_form_reaches_the_receiver_signed_and_without_its_email(app, post_form, thread,
                                                                                              receiver):
    admin = _admin(app)
    receiver.secrets = [_secret(_register(admin, receiver.url))]
    email = f"webhook-{uuid.uuid4().hex[:8]}@example.org"
    posted = post_form(thread.key, author_email=email, author_name="Ada", body="Signed, sealed, delivered.")
    comment_id = int(posted.headers["Location"].rsplit("comment-", 1)[1])

    assert announcements.announce()[0] == 1
    [delivery_id] = _owed()
    assert deliver_webhook(delivery_id) == "delivered"

    [request] = receiver.got
    assert request["refused"] is None
    event = request["event"]
    assert (event["event"], event["delivery_id"]) == ("created", delivery_id)
    assert request["headers"]["webhook-id"] == str(delivery_id)
    assert event["comment"]["id"] == comment_id and event["comment"]["body"] == "Signed, sealed, delivered."
    assert event["comment"]["author_name"] == "Ada" and event["comment"]["state"] == "pending"
    assert event["thread"] == {"key": thread.key, "title": thread.title, "url": None}
    assert email not in request["body"].decode() and "author_email" not in event["comment"]
    assert request["headers"]["content-type"] == "application/json"
    # The Standard Webhooks reference library accepts it as it is.
    from standardwebhooks import Webhook as StandardWebhook
    assert StandardWebhook(receiver.secrets[0]).verify(request["body"], request["headers"]) == event

    log = admin.get(f"/moderation/webhooks/{db.session.scalar(sa.select(Webhook.id))}/deliveries").get_data(as_text=True)
    assert "Delivered" in log and f"Comment {comment_id}" in log and ">200<" in log


def test_a_payload_links_to_the_comment_on_its_article_or_on_this_service_and_in_the_console(make_app):
    app = make_app(MODERATION_BASE_URL="https://comments.example.org/base")
    with app.app_context():
        ours, theirs = factories.make_thread("ours"), factories.make_thread("theirs")
        theirs.url = "https://blog.example.org/post#top"
        mine, yours = factories.make_comment(ours, "held"), factories.make_comment(theirs, "held")
        on_ours = services.event_payload("held", mine)["comment"]["url"]
        assert on_ours == f"https://comments.example.org/base/threads/ours#comment-{mine.id}"
        linked = services.event_payload("held", yours)["comment"]
        assert linked["url"] == f"https://blog.example.org/post#comment-{yours.id}"
        assert linked["moderation_url"] == f"https://comments.example.org/base/moderation/comments/{yours.id}"


def test_a_replayed_or_altered_request_is_refused_by_the_readme_check(app, thread, receiver):
    _hook(receiver)
    factories.make_comment(thread, "pending")
    announcements.announce()
    deliver_webhook(_owed()[0])
    request = receiver.got[0]
    headers, body = request["headers"], request["body"]
    stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - TOLERANCE - 60)}
    with pytest.raises(ValueError, match="stale"):
        verify(receiver.secrets[0], stale, body)
    with pytest.raises(ValueError, match="signature"):
        verify(receiver.secrets[0], headers, body.replace(b'"created"', b'"approved"'))
    with pytest.raises(ValueError, match="signature"):
        verify(signing.new_secret(), headers, body)


def test_the_emails_scope_adds_the_authors_email_which_no_public_payload_or_stored_row_holds(app, thread, receiver):
    public, private = _hook(receiver), _hook(receiver, scope="emails")
    email = f"scoped-{uuid.uuid4().hex[:8]}@example.org"
    factories.make_comment(thread, "pending", email=email)
    announcements.announce()
    for delivery_id in _owed():
        assert deliver_webhook(delivery_id) == "delivered"
    bodies = {request["event"]["delivery_id"]: request for request in receiver.got}
    rows = {row.webhook_id: row.id for row in db.session.scalars(sa.select(WebhookDelivery))}
    assert email not in bodies[rows[public.id]]["body"].decode()
    assert bodies[rows[private.id]]["event"]["comment"]["author_email"] == email
    stored = db.session.execute(sa.text("SELECT payload FROM webhook_deliveries")).scalars().all()
    assert len(stored) == 2 and not any(email in str(payload) for payload in stored)


def test_a_receiver_answering_500_then_200_is_tried_again_after_its_wait_and_the_log_shows_both(app, thread, receiver,
                                                                                                queued):
    hook = _hook(receiver)
    factories.make_comment(thread, "pending")
    announcements.announce()
    [delivery_id] = _owed()
    receiver.plan = [500]

    assert deliver_webhook(delivery_id) == "pending"
    row = _row(delivery_id)
    assert (row.attempts, row.status_code, row.error) == (1, 500, "The receiver answered 500 Internal Server Error.")
    retry = [wait for name, args, wait in queued if name == DELIVER_WEBHOOK and list(args) == [delivery_id] and wait]
    assert len(retry) == 1 and 8 < retry[0] <= 10
    assert deliver_webhook(delivery_id) is None, "not due yet: the message came early, or twice"
    assert len(receiver.got) == 1

    _due_now(delivery_id)
    assert deliver_webhook(delivery_id) == "delivered"
    assert [r["refused"] for r in receiver.got] == [None, None]
    assert receiver.got[0]["headers"]["webhook-id"] == receiver.got[1]["headers"]["webhook-id"]
    row = _row(delivery_id)
    assert (row.state, row.attempts, row.status_code) == ("delivered", 2, 200)
    log = _admin(app).get(f"/moderation/webhooks/{hook.id}/deliveries").get_data(as_text=True)
    assert "Delivered" in log and "Before: The receiver answered 500 Internal Server Error." in log


def test_a_receiver_that_hangs_times_out_is_tried_six_times_then_failed_and_the_checks_go_on(make_app, receiver):
    app = make_app(MODERATION_WEBHOOK_TIMEOUT=0.2)
    with app.app_context():
        thread = factories.make_thread()
        check_comment(factories.make_comment(thread, "pending").id)  # the model is loaded before the clock starts
        hook_id = _hook(receiver, events="created").id
        factories.make_comment(thread, "pending")
        announcements.announce()
        [delivery_id] = _owed()
        other_id = factories.make_comment(thread, "pending").id
    receiver.otherwise = "hang"
    outcomes = []

    def every_try():
        with app.app_context():
            for _ in range(delivery.ATTEMPTS):
                outcomes.append(deliver_webhook(delivery_id))
                _due_now(delivery_id)

    tries = threading.Thread(target=every_try)
    started = time.monotonic()
    tries.start()
    with app.app_context():
        assert check_comment(other_id) == "held"
    checked_after = time.monotonic() - started
    assert tries.is_alive(), "the check finished while the receiver still hung"
    tries.join(10)
    assert checked_after < 1.0
    assert outcomes == ["pending"] * (delivery.ATTEMPTS - 1) + ["failed"]
    assert len(receiver.got) == delivery.ATTEMPTS
    with app.app_context():
        row = _row(delivery_id)
        assert (row.state, row.attempts, row.status_code) == ("failed", 6, None)
        assert row.error == "Timeout: no answer within 0.2 s."
        assert deliver_webhook(delivery_id) is None, "failed is final"
        log = _admin(app).get(f"/moderation/webhooks/{hook_id}/deliveries").get_data(as_text=True)
        assert "Failed" in log and "Retry now" in log


def test_the_webhooks_pages_are_for_administrators_only(app, client, receiver):
    hook = _hook(receiver)
    factories.make_moderator("mallory")
    pages = ["/moderation/webhooks", f"/moderation/webhooks/{hook.id}/edit", f"/moderation/webhooks/{hook.id}/deliveries",
             f"/moderation/webhooks/{hook.id}/delete"]
    for page in pages:
        assert client.get(page).status_code == 302
    assert sign_in(client, "mallory").status_code == 303
    token = csrf_token(client.get("/moderation/").get_data(as_text=True))
    for page in pages:
        assert client.get(page).status_code == 403
    for action in ("test", "rotate", "deactivate", "delete"):
        assert client.post(f"/moderation/webhooks/{hook.id}/{action}", data={"csrf_token": token}).status_code == 403
    refused = client.post("/moderation/webhooks", data={"csrf_token": token, "url": "https://hooks.example.org/x",
                                                        "events": ["created"], "scope": "emails"})
    assert refused.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Webhook)) == 1 and receiver.got == []
    admin = _admin(app)
    for page in pages:
        assert admin.get(page).status_code == 200


BAD_ADDRESSES = {
    "hooks.example.org/comments": "Only http:// and https://",
    "ftp://hooks.example.org/comments": "Only http:// and https://",
    "javascript:alert(1)": "Only http:// and https://",
    "https://user:secret@hooks.example.org/comments": "no user name or password",
    "https:///comments": "no host name",
    "https://hooks.example.org:99999/comments": "not a web address",
    "https://hooks.example.org/a b": "cannot contain spaces",
    "https://hooks.example.org/a\u3000b": "cannot contain spaces",
    "http://.../comments": "is not a host name",
    "http://-hooks-.example.org/comments": "is not a host name",
    "https://hooks.example.org/comments#top": "Remove the #fragment",
    "https://hooks.example.org/" + "a" * 2000: "at most 2,000 characters",
    "": "Enter the address",
}


def test_a_bad_address_or_no_event_is_refused_with_a_message_and_nothing_is_added(app):
    admin = _admin(app)
    for url, message in BAD_ADDRESSES.items():
        response = _register(admin, url)
        assert response.status_code == 422, url
        page = response.get_data(as_text=True)
        assert message in page and 'aria-invalid="true"' in page, url
    response = _register(admin, "ftp://hooks.example.org/comments", events=(), description="d" * 201)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "ftp://hooks.example.org/comments" in page, "what was typed stays"
    assert all(message in page for message in ("Only http:// and https://", "Choose at least one event.",
                                               "A description is one line"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Webhook)) == 0
    plain = _register(admin, "http://hooks.example.org/comments", scope="emails")
    assert plain.status_code == 422 and "emails go only to an https:// address" in plain.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Webhook)) == 0
    _register(admin, "https://hooks.example.org/comments?token=<b>&x=1", description="<script>alert(1)</script>")
    page = admin.get("/moderation/webhooks").get_data(as_text=True)
    assert "&lt;script&gt;" in page and "<script>alert" not in page and "token=&lt;b&gt;&amp;x=1" in page


def test_an_administrator_edits_tests_rotates_deactivates_retries_and_deletes_a_webhook(app, thread, receiver):
    admin = _admin(app)
    first = _secret(_register(admin, receiver.url, events=("held",)))
    hook_id = db.session.scalar(sa.select(Webhook.id))
    page = admin.get(f"/moderation/webhooks/{hook_id}/edit").get_data(as_text=True)
    saved = admin.post(f"/moderation/webhooks/{hook_id}/edit", data={
        "csrf_token": csrf_token(page), "url": receiver.url, "events": ["approved", "spam"], "scope": "public",
        "description": "Moderation channel"}, follow_redirects=True)
    listed = saved.get_data(as_text=True)
    assert f"Webhook {hook_id} saved." in listed and "approved, spam" in listed and "Moderation channel" in listed

    token = csrf_token(listed)
    assert admin.post(f"/moderation/webhooks/{hook_id}/test", data={"csrf_token": token}).status_code == 303
    [ping] = _owed()
    receiver.secrets = [first]
    assert deliver_webhook(ping) == "delivered" and receiver.events[0]["event"] == "ping"

    second = _secret(admin.post(f"/moderation/webhooks/{hook_id}/rotate", data={"csrf_token": token}))
    assert second != first
    admin.post(f"/moderation/webhooks/{hook_id}/test", data={"csrf_token": token})
    deliver_webhook(_owed()[-1])
    assert receiver.got[-1]["refused"] == "bad signature", "signed with the new secret, not the old one"
    receiver.secrets = [second]
    assert verify(second, receiver.got[-1]["headers"], receiver.got[-1]["body"])["event"] == "ping"

    # Deactivated: no test, nothing owed, and what was owed is not sent; activated again, "retry now" sends it.
    comment = factories.make_comment(thread, "held")
    announcements.announce()
    db.session.execute(sa.update(Comment).where(Comment.id == comment.id).values(state="approved"))
    [owed] = services.owe("approved", db.session.get(Comment, comment.id))
    db.session.commit()
    gone = admin.post(f"/moderation/webhooks/{hook_id}/deactivate", data={"csrf_token": token}, follow_redirects=True)
    assert "deactivated" in gone.get_data(as_text=True)
    refused = admin.post(f"/moderation/webhooks/{hook_id}/test", data={"csrf_token": token}, follow_redirects=True)
    assert "activate it before sending it a test event" in refused.get_data(as_text=True)
    assert services.owe("spam", db.session.get(Comment, comment.id)) == []
    assert deliver_webhook(owed) == "failed" and _row(owed).error == "Not sent: the webhook is deactivated."
    admin.post(f"/moderation/webhooks/{hook_id}/activate", data={"csrf_token": token})
    retried = admin.post(f"/moderation/webhooks/deliveries/{owed}/retry", data={"csrf_token": token, "hook": hook_id},
                         follow_redirects=True)
    assert f"Delivery {owed} is being tried again" in retried.get_data(as_text=True)
    assert deliver_webhook(owed) == "delivered" and receiver.events[-1]["comment"]["state"] == "approved"

    asked = admin.get(f"/moderation/webhooks/{hook_id}/delete").get_data(as_text=True)
    assert receiver.url in asked and "its log too" in asked
    deleted = admin.post(f"/moderation/webhooks/{hook_id}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert f"Webhook {hook_id} ({receiver.url}) deleted" in deleted.get_data(as_text=True)
    assert _owed() == [] and admin.get(f"/moderation/webhooks/{hook_id}/deliveries").status_code == 404


def test_a_form_with_an_expired_token_changes_nothing_and_says_so(app, receiver):
    hook = _hook(receiver)
    admin = _admin(app)
    for action in ("test", "rotate", "deactivate", "delete"):
        said = admin.post(f"/moderation/webhooks/{hook.id}/{action}", data={"csrf_token": "stale"}, follow_redirects=True)
        assert "That page had expired, so nothing was changed." in said.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Webhook, hook.id).active and _owed() == []


def test_with_no_webhook_an_event_costs_one_query(app, thread):
    comment = factories.make_comment(thread, "pending")
    statements = []

    def count(connection, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert services.owe("created", comment) == []
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_a_lost_send_is_swept_once_and_a_repeated_message_posts_once(app, thread, receiver):
    _hook(receiver)
    factories.make_comment(thread, "pending")
    announcements.announce()
    [delivery_id] = _owed()
    assert sweep_webhooks() == 0, "just owed: its message is on its way"
    db.session.execute(sa.update(WebhookDelivery).values(
        next_attempt_at=utcnow() - timedelta(seconds=delivery.SWEEP_AFTER_SECONDS + 5)))
    db.session.commit()
    assert delivery.sweep() == [delivery_id]
    assert delivery.sweep() == [], "claimed by the first sweep"
    assert [deliver_webhook(delivery_id), deliver_webhook(delivery_id)] == ["delivered", None]
    assert len(receiver.got) == 1


def test_the_log_keeps_finished_deliveries_for_its_days(app, thread, receiver):
    _hook(receiver)
    factories.make_comment(thread, "pending")
    announcements.announce()
    [old] = _owed()
    deliver_webhook(old)
    db.session.execute(sa.update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(days=delivery.LOG_DAYS + 1)))
    db.session.commit()
    factories.make_comment(thread, "pending")
    announcements.announce()
    delivery.sweep()
    assert old not in _owed() and len(_owed()) == 1


def test_an_erased_author_leaves_no_name_or_text_in_the_deliveries(app, thread, receiver):
    from moderation.privacy.services import ERASED_NAME

    _hook(receiver)
    comment = factories.make_comment(thread, "pending", author_name="Grace", body="Remember me not.")
    announcements.announce()
    comment = db.session.get(Comment, comment.id)
    comment.author_name, comment.body = ERASED_NAME, ""
    assert services.refresh_payloads([comment.id]) == 1
    db.session.commit()
    deliver_webhook(_owed()[0])
    sent = receiver.got[0]["body"].decode()
    assert "Grace" not in sent and "Remember me" not in sent and receiver.events[0]["event"] == "created"


def test_deliveries_have_a_queue_of_their_own_so_a_hanging_receiver_never_holds_a_check(app):
    from moderation import queue

    route = app.extensions["celery"].amqp.router.route({}, DELIVER_WEBHOOK)
    assert route["queue"].name == queue.webhooks_queue(app.config)


@pytest.mark.pipeline
@pytest.mark.redis
def test_a_real_worker_delivers_a_posted_comments_events_and_stops_a_try_at_its_time_limit(request, tmp_path, receiver):
    need("redis")
    database_url, queue = f"sqlite:///{tmp_path / 'moderation.sqlite3'}", f"moderation-test-{RUN_ID}-{uuid.uuid4().hex[:6]}"
    app = build_app(database_url, CELERY_BROKER_URL=REDIS_URL, MODERATION_QUEUE=queue)
    with app.app_context():
        key = factories.make_thread().key
        _hook(receiver)
        slow_id = _hook(receiver, events="created", path="/slow").id
    receiver.slow_paths.add("/hooks/comments/slow")
    # A receiver that hangs longer than the task's time limit (MODERATION_WEBHOOK_TIMEOUT is 5 s by default).
    worker = Worker({"DATABASE_URL": database_url, "CELERY_BROKER_URL": REDIS_URL, "MODERATION_QUEUE": queue,
                     "MODERATION_CHECK_TIME_LIMIT": "3"}, queues=("checks", "webhooks"))
    request.addfinalizer(lambda: (worker.stop(), drop_queue(REDIS_URL, queue), empty_tables(app)))
    reader = app.test_client()
    tokens = form_tokens(reader.get(f"/threads/{key}").get_data(as_text=True))
    assert reader.post(f"/threads/{key}", data={**tokens, **comment_fields()}).status_code == 303

    wait_for(lambda: len([got for got in receiver.got if got["path"] == "/hooks/comments"]) >= 2, timeout=30)
    fast = [got for got in receiver.got if got["path"] == "/hooks/comments"]
    assert sorted(got["event"]["event"] for got in fast) == ["created", "held"]
    assert all(got["refused"] is None for got in receiver.got)
    with app.app_context():
        tried = sa.select(WebhookDelivery).where(WebhookDelivery.webhook_id == slow_id, WebhookDelivery.attempts == 1)
        stopped = wait_for(lambda: db.session.scalar(tried.execution_options(populate_existing=True)), timeout=20)
        assert (stopped.state, stopped.error) == ("pending", "The try took longer than 3 s and was stopped.")
