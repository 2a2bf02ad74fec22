"""Fixtures: a database per test run on SQLite and PostgreSQL, apps bound to them, clients and helpers."""
import logging
import os
import re
import uuid

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade

os.environ["MODERATION_ENV"] = "testing"

from moderation import create_app  # noqa: E402
from moderation.extensions import db  # noqa: E402
from moderation.models import Comment  # noqa: E402
from moderation.review.services import forget_counts  # noqa: E402
from moderation.spam import settings as spam_settings  # noqa: E402
from moderation.spam.store import forget_loaded_model  # noqa: E402
from tests import factories  # noqa: E402
from tests.services import postgresql_database  # noqa: E402

RUN_ID = uuid.uuid4().hex[:8]
# Every address the suite gives a comment, through a form, the API, a factory or a service.
EMAILS_SEEN = set()
TABLES = ("webhook_deliveries", "webhooks", "mails", "subscribers", "imported", "audit_events", "privacy_events", "training_examples", "comments", "threads", "moderator_sessions", "api_tokens",
          "moderators", "settings", "spam_models", "posting_gates", "followups", "leases")
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'moderation.sqlite3'}"


@pytest.fixture(scope="session")
def postgresql_url():
    """A database of this run's own on the real server, dropped at the end."""
    with postgresql_database(f"moderation_test_{RUN_ID}") as url:
        yield url


def app_config(database_url, **overrides):
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "CELERY_BROKER_URL": "memory://",
        "MODERATION_FLOOD_INTERVAL": 0,
        "RATELIMIT_ENABLED": False,
    }
    config.update(overrides)
    return config


_migrated = set()


def _migrate_once(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url not in _migrated:
        with app.app_context():
            upgrade()
        _migrated.add(url)


def empty_tables(app):
    """Every table emptied, and on PostgreSQL every id counting from 1 again. DELETE, not TRUNCATE: on tables this
    small it is a tenth of the time (7 ms against 58), which is a minute over the suite."""
    with app.app_context():
        for table in TABLES:
            db.session.execute(sa.text(f"DELETE FROM {table}"))
        if db.engine.dialect.name == "postgresql":
            # Every sequence of this database is one of these tables' ids.
            db.session.execute(sa.text("SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    forget_loaded_model()
    spam_settings.forget_cached()
    forget_counts()


@pytest.fixture(params=BACKENDS)
def database_url(request):
    return request.getfixturevalue(f"{request.param}_url")


class FreshContextClient(FlaskClient):
    """Each request gets its own app context, as in production, even while a test holds one open.

    Otherwise the request would reuse the test's context: its `g` (and so the signed-in user)
    and its database session would leak from one client to another.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def build_app(database_url, **overrides):
    app = create_app(app_config(database_url, **overrides))
    app.test_client_class = FreshContextClient
    _migrate_once(app)
    return app


@pytest.fixture
def make_app(database_url):
    """Build an app on this test's database; every table is emptied when the test ends."""
    made = []

    def build(**overrides):
        made.append(build_app(database_url, **overrides))
        return made[-1]

    yield build
    for app in made[:1]:
        empty_tables(app)
    for app in made[1:]:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


# A site whose pages may embed the widget and use the public API (MODERATION_ALLOWED_ORIGINS).
SITE = "http://localhost:5001"


@pytest.fixture
def api(make_app):
    """An app that lets pages of SITE use its public API."""
    app = make_app(MODERATION_ALLOWED_ORIGINS=(SITE,))
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def thread(app):
    return factories.make_thread("first-article", "The first article")


@pytest.fixture
def moderator(app):
    return factories.make_moderator("alice")


CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html):
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1) or match.group(2)


OPENED = re.compile(r'name="opened" type="hidden" value="([^"]+)"|name="opened" value="([^"]+)"')


def form_tokens(html):
    """The hidden values a browser sends back with the comment form: CSRF token and when it was opened."""
    opened = OPENED.search(html)
    assert opened, "the page has no form-opened stamp"
    return {"csrf_token": csrf_token(html), "opened": opened.group(1) or opened.group(2)}


def comment_fields(**fields):
    data = {
        "author_name": "Reader",
        "author_email": f"reader-{uuid.uuid4().hex[:10]}@example.org",
        "author_url": "",
        "body": "A thoughtful comment.",
        "parent_id": "",
    }
    data.update(fields)
    return data


@pytest.fixture
def post_form(client):
    """Post the "Leave a Reply" form the way a browser does: fetch the page, then send its token."""

    def post(key, **fields):
        tokens = form_tokens(client.get(f"/threads/{key}").get_data(as_text=True))
        return client.post(f"/threads/{key}", data={**tokens, **comment_fields(**fields)})

    return post


def sign_in(client, username="alice", password=factories.PASSWORD):
    token = csrf_token(client.get("/moderation/login").get_data(as_text=True))
    return client.post("/moderation/login", data={"csrf_token": token, "username": username, "password": password})


@sa.event.listens_for(Comment.author_email, "set")
def _seen(target, value, oldvalue, initiator):
    # Only what looks like an address: a hostile-input test's "x" would match every log line.
    if value and "@" in value and len(value.strip()) >= 6:
        EMAILS_SEEN.add(value.strip().lower())


class _Everything(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_email_in_any_log():
    """Whatever any logger of this process writes during a test (ours, Flask's, SQLAlchemy's, Celery's,
    at every level, with tracebacks) must not contain an address the suite has given a comment."""
    handler, root = _Everything(), logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    text = "\n".join(handler.lines).lower()
    leaked = sorted(email for email in EMAILS_SEEN if email in text)
    assert not leaked, f"an email address reached a log: {leaked[:3]}"
