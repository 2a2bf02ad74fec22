"""The moderators' console on a big database: median and p95 of its pages, timed from outside through gunicorn.

Usage: python bench/console.py [--comments N] [--backends sqlite,postgresql] [--requests 200] [--seconds 30]
Per backend: a fresh database seeded by `moderation demo --comments N` (timed), `gunicorn -w 2` on 127.0.0.1 in
front of it, a moderator signed in through the login form, then each page requested one after another (at most
--requests times or --seconds per figure, after one untimed request). Prints a table and writes
bench/results/console.json. PostgreSQL (127.0.0.1:5432, a database `moderation_bench_*` of its own, dropped at the
end) is fronted with Redis as the broker (127.0.0.1:6379); SQLite with the embedded broker, as `make run` has it.
"""
import argparse
import json
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.demo import BIG_THREAD_KEY, COMMON_WORD, RARE_WORD  # noqa: E402
from tests.worker import drop_queue  # noqa: E402

BIN = Path(sys.executable).parent
from databases import scratch_database  # noqa: E402  (bench/, the script's own folder)
from results import record  # noqa: E402

REDIS = "redis://127.0.0.1:6379/0"
RESULTS = ROOT / "bench" / "results" / "console.json"
MODERATOR, PASSWORD = "bench", "a long benchmark passphrase"
BULK_IDS, BULK_ROUNDS = 500, 5
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
INSERTED = re.compile(r"^Inserted .* in ([0-9.]+) s ")
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _moderation(env, *args, stdin=None):
    done = subprocess.run([str(BIN / "moderation"), *args], env=env, input=stdin, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"moderation {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def _seed(env, comments):
    """`moderation demo --comments N`, its progress passed on: the seconds of the whole command and of its inserts."""
    started, inserts = time.perf_counter(), None
    demo = subprocess.Popen([str(BIN / "moderation"), "demo", "--comments", str(comments)], env=env,
                            stdout=subprocess.PIPE, text=True)
    for line in demo.stdout:
        if "password" not in line:
            print("   ", line.rstrip(), flush=True)
        inserts = INSERTED.search(line) or inserts
    if demo.wait() or not inserts:
        sys.exit("moderation demo failed")
    return round(time.perf_counter() - started, 1), float(inserts.group(1))


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _gunicorn(env, port, log):
    server = subprocess.Popen([str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "300",
                               "moderation:create_app()"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn stopped (exit {server.returncode}):\n{Path(log.name).read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/moderation/login", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("gunicorn did not answer within 60 s")


def _csrf(html):
    match = CSRF.search(html)
    if not match:
        sys.exit("the page has no CSRF token")
    return match.group(1) or match.group(2)


def _sign_in(client):
    token = _csrf(client.get("/moderation/login").text)
    response = client.post("/moderation/login", data={"csrf_token": token, "username": MODERATOR, "password": PASSWORD})
    if response.status_code != 303:
        sys.exit(f"signing in answered {response.status_code}")


# The server's own time for each console answer (its Server-Timing header), by address: the figure the targets
# speak of, without the client's and the network's share.
SERVER_TIMES = {}


def _timed(client, url, requests, seconds):
    """Seconds per request, one after another, after one untimed request; every answer must be a 200."""
    client.get(url)
    times, deadline = [], time.monotonic() + seconds
    server = SERVER_TIMES.setdefault(url, [])
    while len(times) < requests and time.monotonic() < deadline:
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            sys.exit(f"GET {url} answered {response.status_code}")
        timing = response.headers.get("server-timing", "")
        if "dur=" in timing:
            server.append(float(timing.split("dur=", 1)[1].split(";")[0]) / 1000)
    return times


def _held_ids(engine, limit, offset=0):
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT id FROM comments WHERE state = 'held' ORDER BY id LIMIT :n OFFSET :o"),
                                  {"n": limit, "o": offset}).scalars().all()


def _count(engine, state, ids=None):
    query = sa.select(sa.func.count()).select_from(sa.table("comments", sa.column("state"), sa.column("id")))
    query = query.where(sa.column("state") == state)
    with engine.connect() as connection:
        return connection.scalar(query.where(sa.column("id").in_(ids)) if ids else query)


def _bulk(client, engine, rounds):
    """Reject BULK_IDS held comments at once, each round on ones still held; the page it redirects to is timed apart."""
    posts, follows = [], []
    for _ in range(rounds):
        token = _csrf(client.get("/moderation/?state=held").text)
        ids = _held_ids(engine, BULK_IDS)
        data = {"csrf_token": token, "action": "reject", "next": "/moderation/?state=held", "ids": [str(i) for i in ids]}
        started = time.perf_counter()
        response = client.post("/moderation/comments/bulk", data=data)
        posts.append(time.perf_counter() - started)
        if response.status_code != 303:
            sys.exit(f"the bulk action answered {response.status_code}")
        started = time.perf_counter()
        client.get(response.headers["Location"])
        follows.append(time.perf_counter() - started)
        if _count(engine, "rejected", ids) != len(ids):
            sys.exit("the bulk action did not reject every comment it was given")
    return posts, follows


def _figures(base, engine, args):
    client = httpx.Client(base_url=base, timeout=300)
    _sign_in(client)
    later = _held_ids(engine, 1, offset=_count(engine, "held") // 2)[0]
    pages = {
        "held queue (HTML)": "/moderation/?state=held",
        "held queue (JSON)": "/api/v1/moderation/comments?state=held",
        "held queue, a later page": f"/moderation/?state=held&after={later}",
        f"search, common word ({COMMON_WORD})": f"/moderation/?state=held&q={COMMON_WORD}",
        f"search, rare word ({RARE_WORD})": f"/moderation/?state=held&q={RARE_WORD}",
        "search, a word no comment has": "/moderation/?state=held&q=qxqxqxq",
        f"search every state, rare word ({RARE_WORD})": f"/moderation/?state=all&q={RARE_WORD}",
        "search every state, a word no comment has": "/moderation/?state=all&q=qxqxqxq",
        "the author panel's counts (queue page with a prolific author)": "/moderation/?state=approved",
        "audit trail": "/moderation/audit",
        "thread page, 400 approved": f"/threads/{BIG_THREAD_KEY}",
    }
    figures = {}
    SERVER_TIMES.clear()  # each backend's own
    for name, url in pages.items():
        print(f"  timing {name}: GET {url}", flush=True)
        figures[name] = _timed(client, url, args.requests, args.seconds)
        if SERVER_TIMES.get(url):
            figures[f"{name}, server time"] = SERVER_TIMES[url]
    # Never more than half the queue, so that every round has BULK_IDS comments still held.
    rounds = min(BULK_ROUNDS, _count(engine, "held") // 2 // BULK_IDS)
    print(f"  timing the bulk action: {rounds} rounds of {BULK_IDS} ids, reject", flush=True)
    if rounds:
        figures[f"bulk reject of {BULK_IDS} (POST)"], figures["bulk: the page it redirects to"] = \
            _bulk(client, engine, rounds)
    client.close()
    return figures


def measure(backend, args):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        database_url, drop = scratch_database(backend, folder)
        broker = f"sqla+sqlite:///{folder / 'broker.sqlite3'}" if backend == "sqlite" else REDIS
        queue = f"moderation-bench-{uuid.uuid4().hex[:6]}"
        env = {**os.environ, "MODERATION_ENV": "testing", "MODERATION_INSTANCE_PATH": str(folder),
               "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker, "MODERATION_QUEUE": queue,
               "RATELIMIT_ENABLED": "false"}
        engine, server = sa.create_engine(database_url), None
        try:
            _moderation(env, "db", "upgrade")
            print(f"{LABELS[backend]}: seeding {args.comments:,} comments", flush=True)
            seed, inserts = _seed(env, args.comments)
            _moderation(env, "moderators", "create", MODERATOR, stdin=PASSWORD + "\n")
            port = _free_port()
            with open(folder / "gunicorn.log", "w") as log:
                server = _gunicorn(env, port, log)
                return {"seed_seconds": seed, "insert_seconds": inserts,
                        "figures": _figures(f"http://127.0.0.1:{port}", engine, args)}
        finally:
            if server:
                server.terminate()
                server.wait(30)
            engine.dispose()
            drop()
            drop_queue(broker, queue)


def _summary(times):
    times = sorted(times)
    p95 = times[math.ceil(len(times) * 0.95) - 1]
    return {"n": len(times), "median_ms": round(statistics.median(times) * 1000, 1), "p95_ms": round(p95 * 1000, 1),
            "max_ms": round(times[-1] * 1000, 1)}


def _table(results):
    backends = list(results)
    print(f"\n{'':34}" + "".join(f"{LABELS[b]:>32}" for b in backends))
    print(f"{'ms':34}" + "".join(f"{'median':>12}{'p95':>10}{'n':>10}" for _ in backends))
    for label, key in (("whole run, s", "run_seconds"), ("moderation demo, s", "seed_seconds"),
                       ("  of which inserting, s", "insert_seconds")):
        print(f"{label:34}" + "".join(f"{results[b][key]:>12.1f}{'':20}" for b in backends))
    for name in results[backends[0]]["figures"]:
        cells = [results[b]["figures"].get(name) for b in backends]
        print(f"{name:34}" + "".join(f"{c['median_ms']:>12.1f}{c['p95_ms']:>10.1f}{c['n']:>10}" if c else f"{'-':>32}"
                                     for c in cells))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=200, help="most requests per figure")
    parser.add_argument("--seconds", type=float, default=30, help="most seconds per figure")
    args = parser.parse_args()
    started, results = time.perf_counter(), {}
    for backend in args.backends.split(","):
        begun = time.perf_counter()
        raw = measure(backend, args)
        figures = {name: _summary(times) for name, times in raw.pop("figures").items()}
        results[backend] = {**raw, "run_seconds": round(time.perf_counter() - begun, 1), "figures": figures}
        print(f"{LABELS[backend]} done in {results[backend]['run_seconds']:.0f} s", flush=True)
    _table(results)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "comments": args.comments,
        "command": "python bench/console.py " + " ".join(sys.argv[1:]), "cpus": os.cpu_count(),
        "seconds": round(time.perf_counter() - started, 1), "backends": results}, indent=2) + "\n")
    record("console", {"comments": args.comments, "backends": results})
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
