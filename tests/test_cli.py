"""The `moderation` command line, run as an operator runs it."""
import os
import subprocess
import sys

import sqlalchemy as sa

from moderation.cli import cli
from moderation.extensions import db
from moderation.models import Moderator, Thread
from tests.conftest import sign_in


def _run(app, *args, input=None):
    return app.test_cli_runner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_moderators_create_reads_the_password_from_stdin_and_it_signs_in(app):
    result = _run(app, "moderators", "create", "carol", "--admin", input="a long passphrase\n")
    assert result.exit_code == 0, result.output
    assert "Moderator 'carol' created (administrator)." in result.output
    carol = db.session.scalar(sa.select(Moderator).where(Moderator.username == "carol"))
    assert carol.is_admin and carol.password_hash.startswith("$argon2id$")
    assert sign_in(app.test_client(), "carol", "a long passphrase").status_code == 303


def test_moderators_create_refuses_a_short_password_and_a_taken_name(app):
    assert "at least 8 characters" in _run(app, "moderators", "create", "dan", input="short\n").output
    _run(app, "moderators", "create", "dan", input="long enough pass\n")
    result = _run(app, "moderators", "create", "dan", input="long enough pass\n")
    assert result.exit_code != 0 and "already exists" in result.output


def test_threads_create_registers_an_article_that_takes_comments(app):
    result = _run(app, "threads", "create", "launch-post", "--title", "We launched", "--url", "https://blog.example.org/launch")
    assert result.exit_code == 0 and "/threads/launch-post" in result.output
    assert "We launched" in app.test_client().get("/threads/launch-post").get_data(as_text=True)
    _run(app, "threads", "create", "launch-post", "--title", "We launched (updated)")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Thread)) == 1


def test_demo_seeds_once_and_says_so_the_second_time(app):
    first = _run(app, "demo")
    assert "Demo article at /threads/hello-world" in first.output and "Moderator 'demo' created" in first.output
    assert "Ada" in app.test_client().get("/threads/hello-world").get_data(as_text=True)
    assert _run(app, "demo").output.strip() == "Demo data already present."


def test_db_upgrade_creates_the_schema_on_a_fresh_sqlite_file(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}", "MODERATION_ENV": "testing"}
    done = subprocess.run([sys.executable, "-m", "moderation.cli", "db", "upgrade"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    tables = sa.inspect(sa.create_engine(env["DATABASE_URL"])).get_table_names()
    assert {"threads", "comments", "moderators", "audit_events", "alembic_version"} <= set(tables)


def test_a_missing_production_secret_is_one_sentence_not_a_traceback(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    env.update(MODERATION_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    done = subprocess.run([sys.executable, "-m", "moderation.cli", "db", "upgrade"], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr and "Traceback" not in done.stderr


def test_a_worker_or_scheduler_with_a_missing_secret_says_so_in_one_sentence(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "MODERATION_DATA_KEY")}
    env.update(MODERATION_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    for part in ("worker", "beat"):
        done = subprocess.run([sys.executable, "-m", "celery", "-A", "workers", part], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode != 0
        assert "Error: SECRET_KEY is not set" in done.stderr and "Traceback" not in done.stderr


def test_threads_create_refuses_a_key_no_address_can_carry(app):
    for key in ("a/b", " padded", "nul\x00key", "x" * 201):
        result = app.test_cli_runner().invoke(cli, ["threads", "create", key, "--title", "T"])
        assert result.exit_code != 0 and "A thread key is 1 to 200 characters" in result.output


def test_a_migration_leaves_the_processs_logging_as_it_was(tmp_path, no_email_in_any_log):
    """Upgrading a database inside a running process (a test, a worker) must not replace the root logger's
    handlers: the suite's guard against emails in logs, and any operator's handler, keep seeing every line."""
    import logging

    from flask_migrate import upgrade

    from tests.conftest import build_app

    root = logging.getLogger()
    before = list(root.handlers)
    app = build_app(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    with app.app_context():
        upgrade()
    assert all(handler in root.handlers for handler in before)
    logging.getLogger("moderation.after-migration").warning("seen after the migration")
    assert any("seen after the migration" in line for line in no_email_in_any_log.lines)
