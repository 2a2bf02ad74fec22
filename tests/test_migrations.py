"""The migrations build the schema the models describe, on both backends, and step back down."""
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from moderation import create_app
from moderation.extensions import db
from tests.conftest import app_config
from tests.services import postgresql_database


# PostgreSQL's trigram index for the console's search is an expression over three columns with an operator class
# of an extension: the models cannot describe it for both backends, so the migration owns it (and this test
# checks it on its own).
SEARCH_INDEX = "ix_comments_search_trgm"


def _not_the_search_index(obj, name, type_, reflected, compare_to):
    return name != SEARCH_INDEX


def _differences():
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "include_object": _not_the_search_index})
        return compare_metadata(context, db.metadata)


def test_the_migrated_schema_is_the_one_the_models_describe(app):
    assert _differences() == []
    if db.engine.dialect.name == "postgresql":
        indexes = {index["name"] for index in sa.inspect(db.engine).get_indexes("comments")}
        assert SEARCH_INDEX in indexes, "the search's trigram index is missing"


def test_the_latest_migration_steps_down_and_up_again(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path / 'steps.sqlite3'}"))
    with app.app_context():
        upgrade()
        downgrade(revision="0004_api_tokens")
        upgrade()
        assert _differences() == []


def _rows_of_an_older_install(connection):
    """What an install at 0004 holds: a thread, a comment with a reply and a reply to that, their history, a lesson."""
    now = "2026-01-01 00:00:00+00:00"
    connection.execute(sa.text("INSERT INTO threads (id, key, title, comments_open, created_at) "
                               "VALUES (1, 'old', 'Old', true, :now)"), {"now": now})
    for comment_id, parent in ((1, None), (2, 1), (3, 2)):
        connection.execute(sa.text(
            "INSERT INTO comments (id, thread_id, parent_id, author_name, body, state, reasons, honeypot, "
            "check_attempts, created_at) VALUES (:id, 1, :parent, 'Reader', 'Text', 'approved', '[]', false, 0, :now)"),
            {"id": comment_id, "parent": parent, "now": now})
        connection.execute(sa.text(
            "INSERT INTO audit_events (comment_id, actor, from_state, to_state, reason, created_at) "
            "VALUES (:id, 'spam check', 'pending', 'approved', 'no problem found', :now)"), {"id": comment_id, "now": now})
    connection.execute(sa.text("INSERT INTO training_examples (comment_id, source, text, author, is_spam, weight, "
                               "created_at, updated_at) VALUES (1, 'moderator', 'Text', 'Reader', false, 1, :now, :now)"),
                       {"now": now})


def _kept(connection):
    count = lambda table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: E731
    parents = connection.execute(sa.text("SELECT id, parent_id FROM comments ORDER BY id")).all()
    return count("audit_events"), count("training_examples"), [tuple(row) for row in parents]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrading_an_install_with_comments_keeps_its_history_replies_and_lessons(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'older.sqlite3'}" if backend == "sqlite" else request.getfixturevalue("fresh_postgresql")
    app = create_app(app_config(url))
    with app.app_context():
        upgrade(revision="0004_api_tokens")
        with db.engine.begin() as connection:
            _rows_of_an_older_install(connection)
        upgrade()
        with db.engine.connect() as connection:
            assert _kept(connection) == (3, 1, [(1, None), (2, 1), (3, 2)])
            # Each comment's HTML made once, by the upgrade; the thread's version kept by the database from now on.
            assert connection.execute(sa.text("SELECT body_html FROM comments")).scalars().all() == ["<p>Text</p>"] * 3
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE comments SET state = 'held' WHERE id = 3"))
            assert connection.execute(sa.text("SELECT version FROM threads")).scalar() == 1
        downgrade(revision="0004_api_tokens")
        with db.engine.connect() as connection:
            assert _kept(connection) == (3, 1, [(1, None), (2, 1), (3, 2)])
            connection.execute(sa.text("UPDATE comments SET state = 'approved' WHERE id = 3"))  # no trigger left behind
            if backend == "sqlite":
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()


@pytest.fixture
def fresh_postgresql():
    """An empty PostgreSQL database of this test's own, dropped after it."""
    with postgresql_database(f"moderation_migrate_{uuid.uuid4().hex[:8]}") as url:
        yield url
