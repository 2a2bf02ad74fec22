"""The production start on a clean checkout: `moderation db upgrade`, then `moderation serve`, as an operator runs them."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from config import new_data_key
from tests.conftest import comment_fields, form_tokens
from tests.test_metrics import samples
from tests.services import POSTGRES_ADMIN_URL, REDIS_URL, need
from tests.worker import ROOT, drop_queue, wait_for

pytestmark = pytest.mark.pipeline


def _checkout(destination):
    """What a clean clone holds: the files git tracks (and new ones not ignored), nothing generated."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    assert not (destination / "instance").exists()
    return destination


@pytest.fixture
def production(tmp_path):
    """A clean checkout, its own PostgreSQL database and Redis queue, and the secrets in the environment."""
    need("postgresql")
    need("redis")
    name, queue = f"moderation_prod_{uuid.uuid4().hex[:8]}", f"prod-{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database_url = admin.url.set(database=name).render_as_string(hide_password=False).replace("+psycopg", "")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MODERATION_", "DATABASE_", "SECRET"))}
    env.update(MODERATION_ENV="production", DATABASE_URL=database_url, CELERY_BROKER_URL=REDIS_URL,
               SECRET_KEY=uuid.uuid4().hex * 2, MODERATION_DATA_KEY=new_data_key(), MODERATION_QUEUE=queue,
               MODERATION_PROXY_HOPS="1", MODERATION_SWEEP_EVERY="2")
    yield _checkout(tmp_path / "clone"), env, database_url
    drop_queue(REDIS_URL, queue)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(base):
    try:
        return httpx.get(f"{base}/healthz", timeout=3).json().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def _children(pid):
    tasks = Path(f"/proc/{pid}/task")
    return {int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()}


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def _post_behind_tls_proxy(base, key):
    """As a browser behind the site's HTTPS proxy: secure cookies, X-Forwarded-Proto https, a same-origin Referer."""
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.50"}
    with httpx.Client(timeout=10, headers=proxy) as browser:
        page = browser.get(f"{base}/threads/{key}")
        assert page.status_code == 200
        cookie = page.headers["set-cookie"].split(";", 1)[0]
        assert "Secure" in page.headers["set-cookie"]
        origin = base.replace("http://", "https://")
        response = browser.post(f"{base}/threads/{key}", data={**form_tokens(page.text), **comment_fields(
            body="Posted to a production start.")}, headers={"Cookie": cookie, "Referer": f"{origin}/threads/{key}"})
    assert response.status_code == 303, response.text[:2000]
    return int(response.headers["location"].rsplit("comment-", 1)[1])


def _state(database_url, comment_id):
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT state FROM comments WHERE id = :id"), {"id": comment_id}).scalar()


def _refused_unread(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /threads/launch HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nbody=")
        return s.recv(200)


def _slow_clients(port, count=12):
    """Connections that send half a request and then nothing, as a slow or hostile client does."""
    sockets = []
    for n in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /threads/launch HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n" + (b"\r\nab" if n % 2 else b""))
        sockets.append(s)
    return sockets


def _every_scrape_counts_every_process(base):
    """The post was counted in one of gunicorn's processes, the verdict and its check's time in a Celery pool's:
    whichever web process answers a scrape, each is there once (after the first scrape that shows them: the
    verdict is counted a moment after it is committed)."""
    wait_for(lambda: ("moderation_check_duration_seconds_count", frozenset()) in
             {key for key, count in samples(httpx.get(f"{base}/metrics", timeout=5).text).items() if count})
    for _ in range(8):  # a new connection each: gunicorn's processes take turns
        scraped = samples(httpx.get(f"{base}/metrics", timeout=5).text)
        assert scraped.get(("moderation_comments_posted_total", frozenset({("via", "form")}))) == 1, scraped
        verdicts = {labels: count for (name, labels), count in scraped.items() if name == "moderation_verdicts_total"}
        # Held by a rule: the form was sent a moment after the page was opened, quicker than a person types.
        assert verdicts == {frozenset({("state", "held"), ("checker", "rules")}): 1}, verdicts
        assert scraped.get(("moderation_check_duration_seconds_count", frozenset())) == 1
        assert scraped.get(("moderation_comments", frozenset({("state", "held")}))) == 1


def test_a_clean_checkout_starts_in_production_with_db_upgrade_and_serve(production):
    clone, env, database_url = production
    moderation = [sys.executable, "-m", "moderation.cli"]
    upgraded = subprocess.run([*moderation, "db", "upgrade"], cwd=clone, env=env, capture_output=True, text=True)
    assert upgraded.returncode == 0, upgraded.stderr
    created = subprocess.run([*moderation, "threads", "create", "launch", "--title", "Launch"], cwd=clone, env=env,
                             capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    serve = subprocess.Popen([*moderation, "serve", "--port", str(port)], cwd=clone, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _health(base) or serve.poll() is not None, timeout=60)
        assert serve.poll() is None, serve.stdout.read()
        slow = _slow_clients(port)
        try:
            comment_id = _post_behind_tls_proxy(base, "launch")
            wait_for(lambda: _state(database_url, comment_id) == "held", timeout=30)
            _every_scrape_counts_every_process(base)
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200, "slow clients do not hold the server up"
            assert _refused_unread(port).startswith(b"HTTP/1.1 413"), "a 100 MB upload is refused before it is read"
        finally:
            for s in slow:
                s.close()
        instance = clone / "instance"
        assert oct(instance.stat().st_mode & 0o777) == "0o700"
        assert any(p.name.startswith("celerybeat-schedule-") for p in instance.iterdir())
        assert {oct(p.stat().st_mode & 0o777) for p in instance.iterdir() if p.is_file()} == {"0o600"}
        assert {oct(p.stat().st_mode & 0o777) for p in (instance / "metrics").iterdir()} == {"0o600"}
        assert oct((instance / "metrics").stat().st_mode & 0o777) == "0o700"
        children = _children(serve.pid)
        assert len(children) == 5, "web, worker, training worker, webhooks worker, scheduler"
    finally:
        serve.send_signal(signal.SIGINT)
        output = serve.communicate(timeout=30)[0]
    assert serve.returncode == 0, output
    assert not any(_alive(pid) for pid in children), "Ctrl-C stops every process serve started"
    assert "Traceback" not in output


def test_the_operator_chooses_the_instance_folder(production, tmp_path):
    clone, env, _ = production
    state = tmp_path / "state" / "moderation"
    env = {**env, "MODERATION_INSTANCE_PATH": str(state)}
    scheduler = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers", "beat", "--loglevel", "INFO"],
                                 cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: state.exists() and any(p.name.startswith("celerybeat-schedule-") for p in state.iterdir())
                 or scheduler.poll() is not None, timeout=30)
        assert scheduler.poll() is None, scheduler.stdout.read()
    finally:
        scheduler.terminate()
        scheduler.communicate(timeout=20)
    assert oct(state.stat().st_mode & 0o777) == "0o700"
    assert not (clone / "instance").exists()
