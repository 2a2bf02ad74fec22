"""Faults against real services, each test breaking what it started itself: a broker of its own that goes down
while readers post, a worker killed mid-check, three workers on one queue, the database cut off, Akismet hanging,
a damaged model. What must hold every time: each comment posted is answered 303, kept, and given exactly one
verdict with one audit event for it.

Redis is a redis-server of the test's own without persistence, so its crash loses every queued message, and the
sweep must find them again. RabbitMQ and PostgreSQL are the machine's own behind a relay on a port of the test's
own (tests/outages.py), which the test cuts: every connection through it breaks and new ones are closed at once,
while the server keeps its durable queues, as after a restart.
"""
import uuid

import pytest
import sqlalchemy as sa
from amqp.exceptions import ChannelError
from kombu import Connection

from moderation.extensions import db
from moderation.models import Comment, SpamModelVersion
from moderation.spam.store import forget_loaded_model
from tests import factories
from tests.conftest import RUN_ID, build_app, comment_fields, empty_tables, form_tokens
from tests.outages import Relay, RedisServer, Silent
from tests.services import POSTGRES_ADMIN_URL, RABBITMQ_URL, need
from tests.worker import Worker, drop_queue, wait_for

pytestmark = pytest.mark.pipeline
BROKERS = ["redis", "rabbitmq"]
# The sweep, every second, sends again the check of a comment pending for more than two.
SWEEPING = {"MODERATION_SWEEP_EVERY": 1, "MODERATION_SWEEP_AFTER": 2, "MODERATION_CHECK_ATTEMPTS": 20}


class Broker:
    """The test's own way to break its broker: `down()` and `up()`."""

    def __init__(self, kind, tmp_path):
        self.kind = kind
        if kind == "redis":
            self.server = RedisServer(tmp_path)
            self.url = self.server.url
        else:
            need("rabbitmq")
            host_port = RABBITMQ_URL.rsplit("@", 1)[1].split("/", 1)[0].split(":")
            self.server = Relay(host_port[0], int(host_port[1]))
            self.url = self.server.url(RABBITMQ_URL.replace(":".join(host_port), "127.0.0.1:{port}"))

    def down(self):
        if self.kind == "redis":
            self.server.crash()
        else:
            self.server.cut()

    def up(self):
        if self.kind == "redis":
            self.server.start()
        else:
            self.server.mend()

    def queued(self, queue):
        """Messages waiting in the queue."""
        if self.kind == "redis":
            return self.server.client().llen(queue)
        with Connection(RABBITMQ_URL) as connection:
            try:
                return connection.default_channel.queue_declare(queue, passive=True).message_count
            except ChannelError:  # never declared: nothing was ever sent to it
                return 0

    def close(self, queue):
        if self.kind == "redis":
            self.server.close()
        else:
            self.server.close()
            drop_queue(RABBITMQ_URL, queue)


@pytest.fixture
def broken(request, tmp_path, postgresql_url):
    """Start (database_url, broker, queue, app, start_worker): the app and its workers share them."""
    queue = f"moderation-faults-{RUN_ID}-{uuid.uuid4().hex[:6]}"
    brokers, workers, apps = [], [], []

    def start(kind, database_url=postgresql_url, **settings):
        broker = Broker(kind, tmp_path)
        brokers.append(broker)
        app = build_app(database_url, CELERY_BROKER_URL=broker.url, MODERATION_QUEUE=queue, **settings)
        apps.append(app)
        env = {"DATABASE_URL": postgresql_url, "CELERY_BROKER_URL": broker.url, "MODERATION_QUEUE": queue,
               "MODERATION_INSTANCE_PATH": str(tmp_path / "instance"), **{k: str(v) for k, v in settings.items()}}

        def start_worker(**options):
            worker = Worker(env, **options)
            workers.append(worker)
            return worker

        return app, broker, start_worker

    yield start
    for worker in workers:
        worker.stop()
    for broker in brokers:
        broker.close(queue)
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    if apps:
        empty_tables(build_app(postgresql_url))


def _post(client, key, body):
    tokens = form_tokens(client.get(f"/threads/{key}").get_data(as_text=True))
    response = client.post(f"/threads/{key}", data={**tokens, **comment_fields(body=body)})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("comment-", 1)[1])


def _verdicts(app, ids):
    """{comment id: (state, reasons, number of verdict events)} for the comments no longer pending."""
    with app.app_context():
        db.session.remove()
        rows = db.session.execute(sa.select(Comment.id, Comment.state, Comment.reasons).where(Comment.id.in_(ids)))
        events = dict(db.session.execute(sa.text(
            "SELECT comment_id, count(*) FROM audit_events WHERE comment_id = ANY(:ids) AND from_state = 'pending' "
            "GROUP BY comment_id"), {"ids": list(ids)}).all())
        return {row.id: (row.state, row.reasons, events.get(row.id, 0)) for row in rows if row.state != "pending"}


def _all_judged(app, ids, workers, timeout=90):
    try:
        return wait_for(lambda: (lambda seen: seen if len(seen) == len(ids) else None)(_verdicts(app, ids)),
                        timeout=timeout, every=0.3)
    except AssertionError:
        logs = "\n\n".join(worker.log[-6000:] for worker in workers)
        raise AssertionError(f"judged {sorted(_verdicts(app, ids))} of {sorted(ids)}:\n{logs}") from None


def _checked_by_the_model(verdicts):
    """Every comment was judged by a real check (a model score among its reasons), once."""
    for comment_id, (state, reasons, events) in verdicts.items():
        assert events == 1, f"comment {comment_id}: {events} verdicts"
        assert any(reason.startswith("model: ") for reason in reasons), (comment_id, reasons)
        assert not any(reason.startswith("spam check failed") for reason in reasons), (comment_id, reasons)


@pytest.mark.parametrize("kind", BROKERS)
def test_readers_posting_while_the_broker_is_down_are_answered_and_every_comment_is_checked_once_it_is_back(
        broken, kind):
    app, broker, start_worker = broken(kind, **SWEEPING)
    worker = start_worker(beat=True)
    with app.app_context():
        factories.make_thread("outage", "Outage article")
    readers = [app.test_client() for _ in range(16)]
    before = [_post(reader, "outage", f"Comment {n}, posted before the outage.") for n, reader in enumerate(readers[:6])]
    _all_judged(app, before, [worker])

    broker.down()
    during = [_post(reader, "outage", f"Comment {n}, posted while the broker was down.")
              for n, reader in enumerate(readers[6:])]
    for reader, comment_id in zip(readers[6:], during):
        page = reader.get("/threads/outage").get_data(as_text=True)
        assert f'id="comment-{comment_id}"' in page and "awaiting moderation" in page
    assert not _verdicts(app, during), "nothing could check them while the broker was down"
    broker.up()

    verdicts = _all_judged(app, before + during, [worker])
    _checked_by_the_model(verdicts)
    assert "moderation.sweep_pending" in worker.log


@pytest.mark.parametrize("kind", BROKERS)
def test_a_worker_killed_mid_check_leaves_the_comment_to_another_that_gives_it_one_verdict(broken, kind):
    """The check is held up by a lock on the models' table, the worker running it is killed with its pool, and a
    second worker, started afterwards, finishes it: RabbitMQ hands the unacknowledged message on at once, and on
    Redis the sweep sends the check again (the message waits for Redis's visibility timeout, an hour)."""
    app, _, start_worker = broken(kind, **SWEEPING)
    first = start_worker(queues=("checks",), name="first")
    with app.app_context():
        factories.make_thread("killed", "Killed article")
    blocker = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool).connect()
    blocker.execute(sa.text("LOCK TABLE spam_models IN ACCESS EXCLUSIVE MODE"))
    try:
        comment_id = _post(app.test_client(), "killed", "Posted just before its worker died.")
        wait_for(lambda: first.received("moderation.check_comment"), timeout=30)
        # Mid-check: the worker's query waits on the lock.
        wait_for(lambda: blocker.scalar(sa.text(
            "SELECT count(*) FROM pg_locks JOIN pg_class ON pg_class.oid = pg_locks.relation "
            "WHERE pg_class.relname = 'spam_models' AND NOT pg_locks.granted")), timeout=30)
        first.kill()
    finally:
        blocker.rollback()
        blocker.close()
    assert not first.finished("moderation.check_comment"), "it died in the middle of the check"
    assert not _verdicts(app, [comment_id])

    second = start_worker(beat=True, name="second")
    verdicts = _all_judged(app, [comment_id], [first, second])
    _checked_by_the_model(verdicts)
    second.wait_until_finished({"moderation.check_comment": 1})


@pytest.mark.parametrize("kind", BROKERS)
def test_three_workers_on_one_queue_give_each_comment_one_verdict_and_one_audit_event(broken, kind):
    app, _, start_worker = broken(kind)
    workers = [start_worker(queues=("checks",), name=name) for name in ("one", "two", "three")]
    with app.app_context():
        factories.make_thread("shared", "Shared article")
    ids = [_post(app.test_client(), "shared", f"Comment {n} about the shared article.") for n in range(45)]
    verdicts = _all_judged(app, ids, workers)
    _checked_by_the_model(verdicts)
    # A worker logs a task as finished a moment after its verdict is committed.
    wait_for(lambda: sum(worker.finished("moderation.check_comment") for worker in workers) >= 45, timeout=30)
    assert sum(worker.finished("moderation.check_comment") for worker in workers) == 45, "each checked once"
    assert all(worker.finished("moderation.check_comment") for worker in workers), "all three took checks"


@pytest.mark.parametrize("kind", BROKERS)
def test_the_database_cut_off_mid_use_answers_503_with_the_readers_text_and_writes_nothing(broken, postgresql_url,
                                                                                           request, kind):
    """The app reaches PostgreSQL through a relay the test cuts, after the reader opened the page: the post is a
    503 with what they typed, no comment is stored and no check is queued; once the database is back the same
    post goes through, once."""
    need("postgresql")
    admin = sa.engine.make_url(POSTGRES_ADMIN_URL)
    relay = Relay(admin.host, admin.port)
    request.addfinalizer(relay.close)
    relayed = sa.engine.make_url(postgresql_url).set(host="127.0.0.1", port=relay.port)
    app, broker, start_worker = broken(kind, database_url=relayed.render_as_string(hide_password=False))
    with app.app_context():
        factories.make_thread("cut", "Cut article")
    reader = app.test_client()
    tokens = form_tokens(reader.get("/threads/cut").get_data(as_text=True))
    fields = {**tokens, **comment_fields(author_name="Patient Reader", body="Typed while the database went away.")}

    relay.cut()
    try:
        response = reader.post("/threads/cut", data=fields)
    finally:
        relay.mend()
    assert response.status_code == 503, response.status_code
    page = response.get_data(as_text=True)
    assert "Typed while the database went away.</textarea>" in page and 'value="Patient Reader"' in page
    queue = app.config["MODERATION_QUEUE"]
    assert broker.queued(queue) == 0, "no check was queued for a comment not stored"
    with app.app_context():
        db.session.remove()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 0

    again = reader.post("/threads/cut", data=fields)
    assert again.status_code == 303, again.get_data(as_text=True)[:2000]
    with app.app_context():
        db.session.remove()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 1
    # Published without a confirmation: it reaches the queue a moment after the answer.
    wait_for(lambda: broker.queued(queue) == 1, timeout=10)


def test_akismet_timing_out_holds_the_comment_with_that_reason(make_app, monkeypatch):
    """Akismet's real client, through an HTTPS proxy that accepts and never answers: each try times out, the
    retries run out, and the comment goes to a person saying Akismet did not answer."""
    from workers.tasks import check_comment

    hanging = Silent()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{hanging.port}")
    app = make_app(MODERATION_AKISMET_KEY="test-key", MODERATION_AKISMET_URL="https://blog.example.org",
                   MODERATION_AKISMET_CLIENT="sync", MODERATION_AKISMET_TIMEOUT=0.3)
    try:
        with app.app_context():
            comment = factories.make_comment(factories.make_thread("slow", "Slow article"), "pending")
            # In this process Celery runs each retry at once instead of after its backoff.
            check_comment.apply(args=[comment.id])
            db.session.remove()
            comment = db.session.get(Comment, comment.id)
            assert comment.state == "held"
            assert comment.reasons == ["spam check failed: Akismet did not answer within 0.3 s (6 tries)"]
    finally:
        hanging.close()
    assert len(hanging.accepted) == 6, "one connection for each try"


@pytest.mark.parametrize("kind", BROKERS)
def test_a_damaged_model_holds_each_comment_with_that_reason_and_the_worker_goes_on(broken, kind):
    app, _, start_worker = broken(kind)
    worker = start_worker()
    with app.app_context():
        factories.make_thread("damaged", "Damaged article")
        db.session.add(SpamModelVersion(source="decisions", examples=60, spam_examples=30, last_example_id=0,
                                        data=b"PK\x03\x04 not a model at all"))
        db.session.commit()
        forget_loaded_model()
    reader = app.test_client()
    ids = [_post(reader, "damaged", f"Comment {n} while the model is damaged.") for n in range(3)]
    verdicts = _all_judged(app, ids, [worker])
    assert {state for state, _, _ in verdicts.values()} == {"held"}
    for state, reasons, events in verdicts.values():
        assert events == 1
        assert any(reason.startswith("model unavailable: version ") and "cannot be loaded" in reason
                   for reason in reasons), reasons
    assert worker.proc.poll() is None
    assert worker.log.count("cannot be loaded") == 1, "read once, not again for every check"


def test_a_missing_seed_model_holds_the_comment_with_that_reason(app, monkeypatch):
    """An installation whose seed model file is gone (a broken package, a stripped image) and that has trained
    no version of its own: the check still gives a verdict, held for a person, saying why."""
    from moderation.spam import services, store

    monkeypatch.setattr(store, "SEED_MODEL", store.SEED_MODEL.with_name("no_such_model.npz"))
    store._seed_model.cache_clear()
    forget_loaded_model()
    try:
        with app.app_context():
            comment = factories.make_comment(factories.make_thread(), "pending")
            assert services.check_comment(comment.id) == "held"
            db.session.remove()
            reasons = db.session.get(Comment, comment.id).reasons
            assert "model unavailable: the seed model cannot be loaded (FileNotFoundError)" in reasons
    finally:
        store._seed_model.cache_clear()
        forget_loaded_model()


def test_a_version_damaged_inside_its_compressed_arrays_holds_the_comment_with_the_reason(app):
    """One byte changed inside the compressed arrays: numpy's loader fails in zlib, not with a zip error."""
    import zlib

    from moderation.spam import services, store
    from moderation.spam.model import SpamModel

    blob = store.SEED_MODEL.read_bytes()
    for position in range(len(blob) // 3, len(blob)):
        damaged = blob[:position] + bytes([blob[position] ^ 0x55]) + blob[position + 1:]
        try:
            SpamModel.from_bytes(damaged)
        except zlib.error:
            break
        except Exception:  # noqa: BLE001 - another kind of damage: look further
            continue
    else:
        pytest.fail("no byte of the seed model makes zlib fail")
    forget_loaded_model()
    with app.app_context():
        db.session.add(SpamModelVersion(source="decisions", examples=60, spam_examples=30, last_example_id=0,
                                        data=damaged))
        comment = factories.make_comment(factories.make_thread(), "pending")
        assert services.check_comment(comment.id) == "held"
        db.session.remove()
        reasons = db.session.get(Comment, comment.id).reasons
        assert any(reason.startswith("model unavailable: version ") and reason.endswith("(zlib.error)")
                   for reason in reasons), reasons
    forget_loaded_model()


def test_a_damaged_version_mended_in_place_is_used_once_the_failure_is_a_minute_old(app, monkeypatch):
    from moderation.spam import store

    monkeypatch.setattr(store, "LOOK_AGAIN_SECONDS", 0)
    forget_loaded_model()
    with app.app_context():
        version = SpamModelVersion(source="decisions", examples=60, spam_examples=30, last_example_id=0,
                                   data=b"not a model")
        db.session.add(version)
        db.session.commit()
        with pytest.raises(store.ModelUnavailable):
            store.current_model()
        version.data = store.SEED_MODEL.read_bytes()  # the same version, its bytes restored
        db.session.commit()
        with pytest.raises(store.ModelUnavailable):
            store.current_model()  # still within the minute: not read again
        monkeypatch.setattr(store, "RETRY_UNAVAILABLE_SECONDS", 0)
        assert store.current_model().info["version"] == version.id
    forget_loaded_model()
