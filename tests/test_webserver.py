"""`moderation web`: gunicorn with as many processes as the machine's cores can use, safe from stalled clients."""
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from moderation import webserver
from tests.test_production import _free_port, _health
from tests.worker import wait_for

pytestmark = pytest.mark.pipeline
ROOT = Path(__file__).resolve().parent.parent


def test_two_processes_per_core_at_least_two_at_most_eight():
    cores = webserver.cores()
    assert webserver.default_workers() == max(2, min(2 * cores, 8))
    assert 2 <= webserver.default_workers() <= 8


@contextmanager
def _web(folder, workers, threads, open_files=None):
    """`moderation web --workers W --threads T` on SQLite in a process group of its own: (base URL, port, log);
    `open_files`: the server's limit of open files (its RLIMIT_NOFILE)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MODERATION_", "DATABASE_", "SECRET", "CELERY_"))}
    env.update(MODERATION_INSTANCE_PATH=str(folder / "instance"))
    moderation = [sys.executable, "-m", "moderation.cli"]
    subprocess.run([*moderation, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*moderation, "threads", "create", "stalled", "--title", "Stalled"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    port = _free_port()
    log = folder / "web.log"
    with log.open("w") as output:
        server = subprocess.Popen([*moderation, "web", "--port", str(port), "--workers", str(workers),
                                   "--threads", str(threads)],
                                  cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                                  preexec_fn=open_files and (lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                                        (open_files, open_files))))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _health(base) or server.poll() is not None, timeout=60)
        assert server.poll() is None, log.read_text()
        yield base, port, log
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


@pytest.fixture
def web(tmp_path):
    """One process with two threads."""
    with _web(tmp_path, workers=1, threads=2) as served:
        yield served


def _stalled(port, count):
    """Clients that send part of a request (headers, or headers and part of the body) and then nothing."""
    clients = []
    for n in range(count):
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"POST /threads/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n" +
                       (b"\r\nbody=ab" if n % 2 else b""))
        clients.append(client)
    return clients


def test_clients_that_stop_mid_request_do_not_hold_the_threads(web):
    base, port, log = web
    stalled = _stalled(port, 6)  # three times the threads of the only process
    try:
        time.sleep(1)  # every thread has taken one of them by now
        # A stalled client keeps a thread CLIENT_SECONDS at most; held for good, the page would never come.
        answer = httpx.get(f"{base}/threads/stalled", timeout=4 * webserver.CLIENT_SECONDS)
        assert answer.status_code == 200
    finally:
        for client in stalled:
            client.close()
    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    assert "Traceback" not in log.read_text(), "a client that stopped is not the server's error"



def test_a_process_with_no_thread_free_leaves_new_connections_to_the_others(tmp_path):
    """gunicorn's own worker takes every connection it can, also while its threads are all busy: a request may then
    wait behind a slow client in one process while another process idles."""
    with _web(tmp_path, workers=2, threads=1) as (base, port, log):
        stalled = _stalled(port, 1)  # holds the only thread of one of the two processes for CLIENT_SECONDS
        try:
            time.sleep(0.5)
            for _ in range(6):  # each on a new connection, taken by whichever process accepts first
                with httpx.Client(timeout=webserver.CLIENT_SECONDS / 2) as browser:
                    assert browser.get(f"{base}/healthz").status_code == 200
        finally:
            for client in stalled:
                client.close()


def test_a_client_that_never_closes_its_side_does_not_stall_the_process(web):
    """After an answer with "Connection: close" gunicorn lingers up to 2 s for the client to close too: on its main
    loop, which then answers nobody else in that process. Here the lingering waits on a thread of its own."""
    base, port, log = web
    lingering = []
    try:
        for _ in range(5):  # 10 s of a stalled main loop, were each lingering on it
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            lingering.append(client)
        time.sleep(0.5)
        with httpx.Client(timeout=webserver.CLIENT_SECONDS / 2) as browser:
            for _ in range(3):
                assert browser.get(f"{base}/healthz").status_code == 200
    finally:
        for client in lingering:
            client.close()


def test_clients_that_never_close_cannot_exhaust_the_servers_open_files(tmp_path):
    """Each waits up to 2 s after its answer for the client to close; with no bound on how many wait at once, a few
    hundred such clients in a second would use up the process's open files and stop it accepting anyone."""
    with _web(tmp_path, workers=1, threads=2, open_files=256) as (base, port, log):
        lingering = []
        try:
            for _ in range(400):
                client = socket.create_connection(("127.0.0.1", port))
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                client.settimeout(webserver.CLIENT_SECONDS)
                assert client.recv(12) == b"HTTP/1.1 200"
                lingering.append(client)
            with httpx.Client(timeout=webserver.CLIENT_SECONDS) as browser:
                assert browser.get(f"{base}/healthz").status_code == 200
        finally:
            for client in lingering:
                client.close()
        assert "Too many open files" not in log.read_text()
