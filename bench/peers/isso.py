"""Isso 0.14.0 from PyPI, served by gunicorn with sync workers as Isso's documentation shows for production.

It keeps its comments in one SQLite file; with moderation on, a new comment is stored in mode 2 (pending) and
answered 202, and only mode 1 comments are shown.
"""
import contextlib
import hashlib
import json
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from . import (INSTALLS, ensure_free, post_text, run_step, seed_comments, server_env, start, stop,
               wait_until_answering)

NAME = "Isso 0.14.0"
REQUIREMENTS = ("isso==0.14.0", "gunicorn==27.0.1")
VENV = INSTALLS / "isso"
MARKER = VENV / "bench-installed.txt"  # written last: the virtualenv holds exactly REQUIREMENTS
INSTALL_TIMEOUT = 900

# What the browser client asks for on a first view: every top-level comment ("max-comments-top" is "inf"), up to
# five replies under each ("max-comments-nested"), oldest first ("sorting").
NESTED_LIMIT = 5
SORTING = "oldest"

# Isso keeps a commenter's address cut to its /24: 127.0.0.1 is stored as this.
STORED_ADDRESS = "127.0.0.0"


def install():
    """A virtualenv in bench/.peers/isso, made by this interpreter, with REQUIREMENTS; nothing to do if it has them."""
    if _installed():
        return
    VENV.parent.mkdir(parents=True, exist_ok=True)
    run_step([sys.executable, "-m", "venv", "--clear", str(VENV)], cwd=VENV.parent,
             what=f"making the virtualenv {VENV}", timeout=120)
    run_step([str(VENV / "bin" / "pip"), "install", "--disable-pip-version-check", "--quiet", *REQUIREMENTS],
             cwd=VENV.parent, what=f"pip install {' '.join(REQUIREMENTS)}", timeout=INSTALL_TIMEOUT)
    MARKER.write_text(_marker_text())


def _installed():
    return MARKER.is_file() and MARKER.read_text() == _marker_text()


def _marker_text():
    return "\n".join(REQUIREMENTS) + "\n"


@contextlib.contextmanager
def running(port, workdir, workers=4, guard=True):
    """Isso on 127.0.0.1:`port` under gunicorn with `workers` sync workers, its config and database in `workdir`;
    yields an IssoPeer, and on exit stops every process and removes the database. `guard`: Isso's flood guard on
    with its limits raised (how its users run it), or off."""
    if not _installed():
        raise RuntimeError(f"{NAME} is not installed: call install() first")
    ensure_free(port)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    base_url = f"http://127.0.0.1:{port}"
    database = workdir / "isso.db"
    _remove(database)
    settings = workdir / "isso.cfg"
    settings.write_text(_settings(database, base_url, guard))
    log = workdir / "isso.log"
    # --preload: the app, with the lock that serialises Isso's writes, is made once and shared by the forked
    # workers; --no-control-socket: gunicorn 27 would otherwise take ~/.gunicorn/gunicorn.ctl from any other
    # gunicorn on the machine, such as our own service's.
    server = start([str(VENV / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                    "--preload", "--no-control-socket", "isso.run"],
                   cwd=workdir, env=server_env(ISSO_SETTINGS=settings), log=log)
    try:
        wait_until_answering(server, port, "/config", log)
        yield IssoPeer(base_url, database)
    finally:
        stop(server)
        _remove(database)


def _settings(database, base_url, guard):
    """Isso's configuration: every key read from 0.14.0's own isso.cfg; what is not set keeps its default."""
    return f"""\
[general]
dbpath = {database}
; The site the comments belong to: the origin the requests come from. Isso answers CORS with it.
host = {base_url}
; No SMTP: a new comment is announced on the log, one line each.
notify = stdout

[moderation]
; New comments wait in the queue (mode 2) until approved, as ours are held.
enabled = true
approve-if-email-previously-approved = false

[guard]
{GUARD_ON if guard else GUARD_OFF}
"""


# The guard counts, per client address, the comments of the last minute and the top-level ones on the thread, each
# with a query over the comments. Raised limits let every loopback post through, and those queries still run, as
# they do for a site under a flood from one address (the benchmark's load, and a spam run's).
GUARD_ON = """\
enabled = true
ratelimit = 1000000000
direct-reply = 1000000000
reply-to-self = true"""
# Off: a post skips those queries (a cost that traffic from many addresses would have less of).
GUARD_OFF = "enabled = false"


def _remove(database):
    for path in (database, database.with_name(database.name + "-journal")):
        path.unlink(missing_ok=True)


class IssoPeer:
    """A running Isso: seeds its database and builds the requests its embed.js client sends."""

    def __init__(self, base_url, database):
        self.base_url = base_url
        self.database = database

    def seed_thread(self, uri, count):
        """`count` approved comments on the thread `uri`, written straight into Isso's SQLite database as its own
        code writes them (replies point at their top-level comment, as Isso flattens them)."""
        comments = seed_comments(count)
        start = time.time() - count
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as db, db:
            db.execute("INSERT OR IGNORE INTO threads (uri, title) VALUES (?, ?)", (uri, _title(uri)))
            (thread,) = db.execute("SELECT id FROM threads WHERE uri = ?", (uri,)).fetchone()
            ids, roots = [], []
            for k, comment in enumerate(comments):
                root = k if comment.parent is None else roots[comment.parent]
                parent = None if comment.parent is None else ids[root]
                cursor = db.execute(
                    "INSERT INTO comments (tid, parent, created, modified, mode, remote_addr, text, author, email,"
                    " website, likes, dislikes, voters, notification) VALUES (?, ?, ?, NULL, 1, ?, ?, ?, ?, NULL,"
                    " 0, 0, ?, 0)",
                    (thread, parent, start + k, STORED_ADDRESS, comment.text, comment.author, comment.email,
                     _voters(STORED_ADDRESS)))
                ids.append(cursor.lastrowid)
                roots.append(root)

    def post_request(self, uri, i):
        """POST /new?uri=... with the JSON embed.js sends for a top-level comment. The page is taken to give
        data-title, as Isso otherwise fetches the page itself to name a thread it has not seen."""
        body = {"text": post_text(i), "author": f"reader{i}", "email": f"reader{i}@example.org", "website": None,
                "parent": None, "title": _title(uri), "notification": 0}
        headers = {**self._browser_headers(uri), "Content-Type": "application/json"}
        return "POST", f"/new?{urlencode({'uri': uri}, quote_via=quote)}", headers, json.dumps(body).encode()

    def read_request(self, uri):
        """GET /?uri=... as embed.js asks for a thread on a first view: all top-level comments, NESTED_LIMIT
        replies under each."""
        query = urlencode({"uri": uri, "sort": SORTING, "offset": 0, "nested_limit": NESTED_LIMIT}, quote_via=quote)
        return "GET", f"/?{query}", self._browser_headers(uri), b""

    def _browser_headers(self, uri):
        return {"Accept": "*/*", "Origin": self.base_url, "Referer": self.base_url + uri}

    def check(self, response_status, body, kind):
        """A post succeeded when Isso answered 202 (stored and pending); 201 would mean it was published without
        moderation. A read succeeded with a 200 that lists comments."""
        if kind == "post":
            return response_status == 202
        if response_status != 200:
            return False
        try:
            return bool(json.loads(body)["replies"])
        except (ValueError, KeyError, TypeError):
            return False


def _title(uri):
    return f"Benchmark article {uri}"


def _voters(address):
    """The 256-byte Bloom filter Isso keeps with each comment of who may not vote on it, holding its author's
    address: 11 probes of 11 bits each, taken from the SHA-256 of the address."""
    bits = bytearray(256)
    digest = int.from_bytes(hashlib.sha256(address.encode()).digest(), "big")
    for _ in range(11):
        probe = digest & 2047
        bits[probe // 8] |= 1 << probe % 8
        digest >>= 11
    return bytes(bits)
