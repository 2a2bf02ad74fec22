"""Reaching the real services the suite runs against: fail in CI (CI=true, 1 or yes), skip elsewhere."""
import contextlib
import os
import shutil
import socket

import pytest

TRUE_WORDS = ("true", "1", "yes", "on")


def in_ci(environ=os.environ):
    """CI read as a boolean the usual way: `true`, `1`, `yes` (any case) mean a CI run."""
    return environ.get("CI", "").strip().lower() in TRUE_WORDS


IN_CI = in_ci()
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
CHROMIUM = os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium")
ADDRESSES = {"postgresql": ("127.0.0.1", 5432), "redis": ("127.0.0.1", 6379), "rabbitmq": ("127.0.0.1", 5672)}


def _answers(host, port):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def missing(what):
    """Fail (in CI) or skip (on a developer's machine without it) a test that needs `what`."""
    message = f"{what} is not reachable"
    if IN_CI:
        pytest.fail(f"{message}, and in CI (CI={os.environ['CI']}) every service the suite needs must be there.")
    pytest.skip(message)


def need(service):
    if service == "chromium":
        if not shutil.which(CHROMIUM):
            missing(f"Chromium at {CHROMIUM}")
        return
    if not _answers(*ADDRESSES[service]):
        missing(f"{service} at {ADDRESSES[service][0]}:{ADDRESSES[service][1]}")


@contextlib.contextmanager
def postgresql_database(name):
    """A PostgreSQL database of that name, created empty and dropped afterwards; yields its URL."""
    need("postgresql")
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
