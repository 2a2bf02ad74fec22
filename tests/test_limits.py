"""Limits that limit: one address is one address however it is written, a burst cannot slip through, and
rate-limit counters are shared by every web process."""
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
import httpx
import sqlalchemy as sa
from werkzeug.serving import make_server

from moderation.extensions import db
from moderation.models import Comment
from tests import factories
from tests.conftest import build_app, comment_fields, csrf_token, empty_tables, form_tokens
from tests.services import REDIS_URL, need
from tests.worker import ROOT, wait_for


def _post_from(app, key, ip, body):
    client = app.test_client()
    tokens = form_tokens(client.get(f"/threads/{key}").get_data(as_text=True))
    return client.post(f"/threads/{key}", data={**tokens, **comment_fields(body=body)}, environ_overrides={"REMOTE_ADDR": ip})


@pytest.mark.parametrize("first, second", [
    ("2001:DB8::1", "2001:db8:0:0::1"),
    ("2001:db8:1:2::10", "2001:db8:1:2:ffff:ffff:ffff:ffff"),
    ("::ffff:192.0.2.4", "192.0.2.4"),
])
def test_one_address_written_two_ways_is_one_address_to_the_flood_check(make_app, first, second):
    app = make_app(MODERATION_FLOOD_INTERVAL=15)
    with app.app_context():
        factories.make_thread("same-address")
        assert _post_from(app, "same-address", first, "From the first spelling.").status_code == 303
        again = _post_from(app, "same-address", second, "Typed fast from the second.")
        assert again.status_code == 429 and "Typed fast from the second." in again.get_data(as_text=True)


def test_the_next_ipv6_network_and_the_next_ipv4_address_are_other_readers(make_app):
    app = make_app(MODERATION_FLOOD_INTERVAL=15)
    with app.app_context():
        factories.make_thread("neighbours")
        for ip in ("2001:db8:1:2::10", "2001:db8:1:3::10", "192.0.2.4", "192.0.2.5"):
            assert _post_from(app, "neighbours", ip, f"From {ip}.").status_code == 303


@pytest.mark.parametrize("forwarded", [("garbage-1", "garbage-2"), ("203.0.113.9:5555", "203.0.113.9:6666"),
                                       ("[2001:db8::1]:443", "2001:db8::2")])
def test_an_address_a_proxy_forwards_oddly_still_passes_the_gate_once(make_app, forwarded):
    """Garbage in place of an address shares one gate (no fresh allowance per value); a port is no new address."""
    app = make_app(MODERATION_FLOOD_INTERVAL=15, MODERATION_PROXY_HOPS=1)
    with app.app_context():
        factories.make_thread("odd")
        answers = []
        for n, address in enumerate(forwarded):
            client = app.test_client()
            tokens = form_tokens(client.get("/threads/odd").get_data(as_text=True))
            answers.append(client.post("/threads/odd", data={**tokens, **comment_fields(body=f"Odd {n}.")},
                                       headers={"X-Forwarded-For": address}).status_code)
        assert answers == [303, 429]


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def test_simultaneous_posts_from_one_address_let_exactly_one_through(make_app):
    """Eight browsers behind one address press "Post Comment" together, each on its own connection."""
    app = make_app(MODERATION_FLOOD_INTERVAL=15, MODERATION_PROXY_HOPS=1)
    with app.app_context():
        factories.make_thread("burst")
    server, base = _serve(app)
    sessions = [httpx.Client(timeout=30) for _ in range(8)]
    forms = [form_tokens(s.get(f"{base}/threads/burst").text) for s in sessions]
    start, answers = threading.Barrier(len(sessions)), []

    def post(session, tokens, n):
        start.wait()
        answers.append(session.post(f"{base}/threads/burst", data={**tokens, **comment_fields(body=f"Burst {n}.")},
                                    headers={"X-Forwarded-For": "203.0.113.9"}).status_code)

    threads = [threading.Thread(target=post, args=(s, f, n)) for n, (s, f) in enumerate(zip(sessions, forms))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for session in sessions:
        session.close()
    server.shutdown()
    assert sorted(answers) == [303] + [429] * 7
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 1


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_web_processes_share_the_sign_in_limit_through_redis(postgresql_url, tmp_path):
    """With Redis as the broker the counters live there: two processes allow the limit once, not twice."""
    need("redis")
    queue = f"limits-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "MODERATION_ENV": "testing", "DATABASE_URL": postgresql_url, "CELERY_BROKER_URL": REDIS_URL,
           "MODERATION_QUEUE": queue, "MODERATION_LOGIN_LIMIT": "3 per minute"}
    env.pop("RATELIMIT_STORAGE_URI", None)
    app = build_app(postgresql_url)
    with app.app_context():
        factories.make_moderator(f"limit-{queue}")
    ports = [_free_port(), _free_port()]
    web = [subprocess.Popen([sys.executable, "-m", "moderation.cli", "web", "--port", str(p)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in ports]
    try:
        for port in ports:
            wait_for(lambda: _answers(port), timeout=30)
        codes = []
        for attempt in range(5):
            base = f"http://127.0.0.1:{ports[attempt % 2]}"
            with httpx.Client(timeout=10) as session:
                token = csrf_token(session.get(f"{base}/moderation/login").text)
                codes.append(session.post(f"{base}/moderation/login", data={
                    "csrf_token": token, "username": "nobody", "password": "wrong password"}).status_code)
        assert codes == [401, 401, 401, 429, 429]
    finally:
        for proc in web:
            proc.terminate()
            proc.wait(10)
        _forget_counters(queue)
        empty_tables(app)


def _answers(port):
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def _forget_counters(queue):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter("LIMITS:*"))
    if keys:
        client.delete(*keys)
