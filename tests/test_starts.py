"""The development starts, as a newcomer runs them from a clean checkout: `make run`, and `moderation run`."""
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import comment_fields, csrf_token, form_tokens
from tests.test_production import _alive, _checkout, _free_port, _health
from tests.worker import wait_for

pytestmark = pytest.mark.pipeline
VENV = Path(sys.executable).parent.parent
PASSWORD = re.compile(r"Moderator 'demo' created with password (\S+) ")


class Started:
    """A command in its own process group (as in a terminal, where Ctrl-C reaches every process of it)."""

    def __init__(self, command, cwd, env):
        self.output = []
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self._reader = threading.Thread(target=lambda: self.output.extend(self.proc.stdout), daemon=True)
        self._reader.start()

    @property
    def text(self):
        return "".join(self.output)

    def processes(self):
        """Every live process of the group: the command and all it started."""
        found = set()
        for status in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = status.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid and fields[0] != "Z":
                found.add(int(status.parent.name))
        return found

    def ctrl_c(self, timeout=30):
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError("Ctrl-C did not stop it:\n" + self.text) from None
        finally:
            self._reader.join(10)
            self.proc.stdout.close()


def _environment(clone, tmp_path, port):
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MODERATION_", "DATABASE_", "SECRET", "CELERY_"))}
    # The clone's code, not the checkout the virtual environment was installed from.
    env.update(PYTHONPATH=str(clone), MODERATION_INSTANCE_PATH=str(tmp_path / "instance"), PORT=str(port))
    return env


def _post(base, key, body):
    with httpx.Client(base_url=base, timeout=10) as browser:
        page = browser.get(f"/threads/{key}")
        assert page.status_code == 200, page.text[:500]
        response = browser.post(f"/threads/{key}", data={**form_tokens(page.text), **comment_fields(body=body)},
                                headers={"Referer": f"{base}/threads/{key}"})
        assert response.status_code == 303, response.text[:2000]
        return browser.get(response.headers["location"]).text


def _page(address):
    try:
        return httpx.get(address, timeout=5).text
    except httpx.HTTPError:
        return None


def _held_in_queue(base, password, body):
    with httpx.Client(base_url=base, timeout=10) as moderator:
        token = csrf_token(moderator.get("/moderation/login").text)
        signed_in = moderator.post("/moderation/login", data={"csrf_token": token, "username": "demo",
                                                              "password": password})
        assert signed_in.status_code == 303
        rows = moderator.get("/api/v1/moderation/comments?state=held").json()["comments"]
        return [row for row in rows if row["body"] == body]


def test_make_run_starts_the_demo_on_sqlite_and_ctrl_c_stops_everything(tmp_path):
    """`make run` in a clean checkout: migrate, demo data with a printed password, web + worker + scheduler and a
    demo article of another site embedding the widget; a comment posted is checked by the worker and waits in
    the queue for the demo moderator; Ctrl-C ends it all."""
    clone = _checkout(tmp_path / "clone")
    port, site_port = _free_port(), _free_port()
    base, site = f"http://127.0.0.1:{port}", f"http://localhost:{site_port}"
    # The environment already installed: make must not install the clone into it (`-o`: take it as up to date).
    make = ["make", "-o", f"{VENV}/.installed", "-o", f"{VENV}/bin/activate", f"VENV={VENV}", "run"]
    env = {**_environment(clone, tmp_path, port), "DEMO_SITE_PORT": str(site_port), "MODERATION_ALLOWED_ORIGINS": site}
    run = Started(make, clone, env)
    try:
        wait_for(lambda: _health(base) or run.proc.poll() is not None, timeout=90)
        assert run.proc.poll() is None, run.text
        password = PASSWORD.search(run.text).group(1)
        page = _post(base, "hello-world", "Posted to make run.")
        assert "Posted to make run." in page and "Your comment is awaiting moderation." in page
        held = wait_for(lambda: _held_in_queue(base, password, "Posted to make run."), timeout=30)
        assert held[0]["reasons"], "the worker gave its reasons"
        article = wait_for(lambda: _page(f"http://127.0.0.1:{site_port}/"), timeout=30)
        assert f'<script src="{base}/embed.js" defer></script>' in article and 'data-thread="hello-world"' in article
        shown = httpx.get(f"{base}/api/v1/threads/hello-world/comments", headers={"Origin": site}, timeout=10)
        assert shown.headers["access-control-allow-origin"] == site and shown.json()["total"] >= 1
        started = run.processes()
        assert len(started) >= 5, "make, and serve with its web server, worker, scheduler and demo site"
    finally:
        run.ctrl_c()
    assert not any(_alive(pid) for pid in started), "Ctrl-C stops every process make run started"
    assert "Traceback" not in run.text
    instance = tmp_path / "instance"
    assert oct(instance.stat().st_mode & 0o777) == "0o700"
    assert (instance / "moderation.sqlite3").exists() and not (clone / "instance").exists()


def test_moderation_run_is_the_development_web_server_alone(tmp_path):
    clone = _checkout(tmp_path / "clone")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = _environment(clone, tmp_path, port)
    moderation = [sys.executable, "-m", "moderation.cli"]
    for step in (["db", "upgrade"], ["threads", "create", "dev", "--title", "Development article"]):
        done = subprocess.run([*moderation, *step], cwd=clone, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    run = Started([*moderation, "run", "--port", str(port)], clone, env)
    try:
        wait_for(lambda: _health(base) or run.proc.poll() is not None, timeout=60)
        assert run.proc.poll() is None, run.text
        page = _post(base, "dev", "Posted to the development server.")
        assert "Your comment is awaiting moderation." in page
        assert len(run.processes()) == 1, "the web app alone: no worker, no scheduler"
    finally:
        run.ctrl_c()
    assert "Traceback" not in run.text
