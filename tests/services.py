"""Reaching the real services the suite runs against: fail under CI=true, skip elsewhere."""
import os
import shutil
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
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
        pytest.fail(f"{message}, and under CI=true every service the suite needs must be there.")
    pytest.skip(message)


def need(service):
    if service == "chromium":
        if not shutil.which(CHROMIUM):
            missing(f"Chromium at {CHROMIUM}")
        return
    if not _answers(*ADDRESSES[service]):
        missing(f"{service} at {ADDRESSES[service][0]}:{ADDRESSES[service][1]}")
