"""Waline 1.39.3 (the npm package `@waline/vercel`) self-hosted with `node vanilla.js`, on PostgreSQL.

Its server is ThinkJS: a master process that forks `workers` Node workers sharing the port. With COMMENT_AUDIT on,
a new comment is stored with status "waiting" and the list shows only other statuses.
"""
import contextlib
import json
import secrets
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg

from . import (INSTALLS, ensure_free, free_port, post_text, run_step, seed_comments, server_env, start, stop,
               wait_until_answering)

NAME = "Waline 1.39.3"
VERSION = "1.39.3"
HOME = INSTALLS / "waline"
PACKAGE = HOME / "node_modules" / "@waline" / "vercel"
SCHEMA = Path(__file__).resolve().parent / "waline.sql"
INSTALL_TIMEOUT = 900

# vanilla.js loads ./config.js beside it and applies every key with think.config() before the server starts: the
# only way to bind loopback (ThinkJS listens on every interface by default) and to set the number of workers.
CONFIG = """\
// Written by bench/peers/waline.py.
module.exports = {
  host: '127.0.0.1',
  port: Number(process.env.PORT),
  workers: Number(process.env.WALINE_WORKERS),
};
"""

# 1.39.3 asks OAUTH_URL (https://oauth.lithub.cc by default) for its list of sign-in services on every request,
# and fails the request without an answer. This machine has no way out, so a loopback stub answers: no services.
OAUTH_STUB = """\
require('node:http').createServer((request, response) => {
  response.writeHead(200, { 'Content-Type': 'application/json' });
  response.end('{"services":[]}');
}).listen(Number(process.env.PORT), '127.0.0.1');
"""

POSTGRES = "host=127.0.0.1 port=5432 user=postgres connect_timeout=10"

# What the browser client (@waline/client 3) asks for on a first view: page 1 of 10 top-level comments ("pageSize"),
# newest first ("commentSorting": "latest"), each with all its replies.
PAGE_SIZE = 10
SORTING = "insertedAt_desc"
LANG = "en-US"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def install():
    """`npm install @waline/vercel@1.39.3` in bench/.peers/waline, plus the config.js vanilla.js reads; nothing to
    do if both are there."""
    if _installed_version() != VERSION:
        for tool in ("node", "npm"):
            if not shutil.which(tool):
                raise RuntimeError(f"{NAME} needs {tool} on the PATH")
        HOME.mkdir(parents=True, exist_ok=True)
        (HOME / "package.json").write_text(json.dumps(
            {"name": "waline-bench", "private": True, "dependencies": {"@waline/vercel": VERSION}}, indent=2) + "\n")
        run_step(["npm", "install", "--omit=dev", "--no-audit", "--no-fund"], cwd=HOME,
                 what=f"npm install @waline/vercel@{VERSION}", timeout=INSTALL_TIMEOUT)
        if _installed_version() != VERSION:
            raise RuntimeError(f"npm install finished but {PACKAGE} does not hold version {VERSION}")
    config = PACKAGE / "config.js"
    if not config.is_file() or config.read_text() != CONFIG:
        config.write_text(CONFIG)


def _installed_version():
    try:
        return json.loads((PACKAGE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


@contextlib.contextmanager
def running(port, workdir, workers=4):
    """Waline on 127.0.0.1:`port` with `workers` workers, on a fresh PostgreSQL database of its own and the OAuth
    stub; yields a WalinePeer, and on exit stops every process and drops the database."""
    if _installed_version() != VERSION or not (PACKAGE / "config.js").is_file():
        raise RuntimeError(f"{NAME} is not installed: call install() first")
    ensure_free(port)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "waline.log"
    with contextlib.ExitStack() as cleanup:
        database = f"waline_bench_{secrets.token_hex(4)}"
        _create_database(database)
        cleanup.callback(_drop_database, database)
        _create_tables(database)

        stub_port = free_port()
        stub = start(["node", "-e", OAUTH_STUB], cwd=workdir, env=server_env(PORT=stub_port), log=log)
        cleanup.callback(stop, stub)
        wait_until_answering(stub, stub_port, "/", log)

        server = start(["node", str(PACKAGE / "vanilla.js")], cwd=workdir, log=log, env=server_env(
            PORT=port, WALINE_WORKERS=workers, NODE_ENV="production",
            PG_DB=database, PG_USER="postgres", PG_HOST="127.0.0.1", PG_PORT=5432, PG_SSL="false",
            # PG_PASSWORD stays unset: the server trusts loopback, and Waline would sign its tokens with it.
            JWT_TOKEN=secrets.token_urlsafe(32),
            COMMENT_AUDIT="true",  # moderation: new comments wait for approval
            IPQPS=0,  # one comment per address per IPQPS seconds (60 by default): 0 lets any number through
            OAUTH_URL=f"http://127.0.0.1:{stub_port}/"))
        cleanup.callback(stop, server)
        wait_until_answering(server, port, "/api/comment?type=count&url=%2F", log)
        yield WalinePeer(f"http://127.0.0.1:{port}", f"{POSTGRES} dbname={database}")


def _create_database(name):
    with psycopg.connect(f"{POSTGRES} dbname=postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')


def _create_tables(database):
    """Waline's tables, from waline.sql: Waline does not make them itself."""
    with psycopg.connect(f"{POSTGRES} dbname={database}") as db:
        db.execute(SCHEMA.read_text())


def _drop_database(name):
    with psycopg.connect(f"{POSTGRES} dbname=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class WalinePeer:
    """A running Waline: seeds its tables and builds the requests its browser client sends."""

    def __init__(self, base_url, dsn):
        self.base_url = base_url
        self.dsn = dsn

    def seed_thread(self, uri, count):
        """`count` approved comments on the page `uri`, written straight into wl_comment as Waline writes them: a
        reply keeps the comment it answers in `pid` and the top-level comment of its branch in `rid`."""
        comments = seed_comments(count)
        start = datetime.now().replace(microsecond=0) - timedelta(seconds=count)  # local time, as Waline stores
        with psycopg.connect(self.dsn) as db:
            ids, roots = [], []
            for k, comment in enumerate(comments):
                root = k if comment.parent is None else roots[comment.parent]
                at = start + timedelta(seconds=k)
                parent = (None, None) if comment.parent is None else (ids[comment.parent], ids[root])
                (row,) = db.execute(
                    "INSERT INTO wl_comment (comment, insertedat, ip, link, mail, nick, pid, rid, status, ua, url,"
                    " createdat, updatedat) VALUES (%s, %s, '127.0.0.1', '', %s, %s, %s, %s, 'approved', %s, %s, %s,"
                    " %s) RETURNING id",
                    (comment.text, at, comment.email, comment.author, *parent, USER_AGENT, uri, at, at)).fetchone()
                ids.append(row)
                roots.append(root)

    def post_request(self, uri, i):
        """POST /api/comment?lang=... with the JSON @waline/client 3 sends for a top-level comment."""
        body = {"comment": post_text(i), "nick": f"reader{i}", "mail": f"reader{i}@example.org", "link": "",
                "url": uri, "ua": USER_AGENT}
        headers = {**self._browser_headers(uri), "Content-Type": "application/json"}
        return "POST", f"/api/comment?{urlencode({'lang': LANG})}", headers, json.dumps(body).encode()

    def read_request(self, uri):
        """GET /api/comment?path=... as @waline/client 3 asks on a first view: page 1 of PAGE_SIZE."""
        query = urlencode({"path": uri, "pageSize": PAGE_SIZE, "page": 1, "lang": LANG, "sortBy": SORTING},
                          quote_via=quote)
        return "GET", f"/api/comment?{query}", self._browser_headers(uri), b""

    def _browser_headers(self, uri):
        return {"Accept": "*/*", "Origin": self.base_url, "Referer": self.base_url + uri}

    def check(self, response_status, body, kind):
        """Waline answers refusals (duplicate, too fast) with a 200 too, so success is errno 0 in the body: for a
        post, with the comment "waiting" for approval; for a read, with comments on the page."""
        if response_status != 200:
            return False
        try:
            answer = json.loads(body)
            if answer["errno"] != 0:
                return False
            if kind == "post":
                return answer["data"]["status"] == "waiting"
            return bool(answer["data"]["data"])
        except (ValueError, KeyError, TypeError):
            return False
