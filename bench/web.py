"""Web load: comments posted and threads read per second, against the bare limit and two peers, through gunicorn.

Usage: python bench/web.py [--seconds 10] [--rounds 3] [--clients 8] [--workers 4] [--requests N]
                           [--setups sqlite,postgresql] [--only ours,bare,floor,isso,waline]

Two setups, each on fresh databases dropped at the end:
- sqlite: the service on a SQLite file with the embedded broker (`sqla+sqlite://`), as `make run` has it; the bare
  app (bench/bare.py, the least a post must do) on a SQLite file and embedded broker of its own; Isso.
- postgresql: the service on a PostgreSQL database of its own with Redis as the broker (a queue name of its own,
  dropped at the end); the bare app likewise; Waline.
The floor (bench/floor.py) is the same work as the bare app's through the service's own stack (Flask, Flask-WTF,
Flask-SQLAlchemy, Celery) and nothing of the service's: how much of the gap to the bare app is the stack's.
The service runs in production mode under `gunicorn -w WORKERS` with rate limits and the flood check off (every load
comes from one loopback address, as for the peers); every other check stays on. No Celery worker runs: a post only
queues its check, so the figures are the web side's, and the checks' cost is left out for every contender.

Every contender's thread `bench-reading` holds the same 500 approved comments (bench/peers' seed: 200 to 600
characters of prose, one in five a reply, some links); posts go to `bench-posting` (bench/peers' texts, each
distinct), so that what is read stays the same. The loads (bench/load.py, CLIENTS connections, warm-up requests
not counted):
- posts through our HTML form: each client's session GETs the article page once for its cookie, CSRF token and
  form stamp, then posts many comments with them (each body distinct; a form sent sooner than a person types is
  only held by the checks, never refused);
- posts through our JSON API, as the widget sends them (Origin of a listed site, a form token fetched once);
- posts to the bare app, the same fields; posts to the peer;
- reads of the 500-comment thread: our article page, our JSON API (its biggest page, 200 top-level comments), the
  widget's first request (embed.js: the API's default page, with the site's Origin), and the peer's read.
Each load runs in its turn, round after round (A, B, C, A, B, C, ...), so that every ratio compares neighbours in
time on a noisy machine; a ratio is the median of its rounds' ratios. Every failed answer is printed (warm-up ones
too), and so is every error or warning in a server's log; after the rounds, the posts our service and the bare app
stored are counted against the messages waiting in their queues, which must match. Prints a table per setup and
records the figures with bench/results.py (section "web").
"""
import argparse
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable
from unittest import mock
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa
from kombu import Connection

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from config import new_data_key  # noqa: E402
from moderation import create_app, webserver  # noqa: E402
from moderation.extensions import db  # noqa: E402
from moderation.models import Comment, Thread, utcnow  # noqa: E402
from tests.conftest import form_tokens  # noqa: E402
from tests.worker import drop_queue  # noqa: E402

import bare  # noqa: E402  (bench/, the script's own folder)
import floor  # noqa: E402
from databases import scratch_database  # noqa: E402
from load import run  # noqa: E402
from peers import PEERS, post_text, seed_comments  # noqa: E402
from results import record  # noqa: E402

BIN = Path(sys.executable).parent
REDIS = "redis://127.0.0.1:6379/0"
READ_KEY, POST_KEY = "bench-reading", "bench-posting"
THREAD_COMMENTS = 500
SITE = "http://blog.example.test"  # the listed site the widget's requests come from
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
JSON_PAGE_MAX = 200
WARMUP_PER_CLIENT = 3
READY_SECONDS = 60
# `moderation web` serves with this class (threaded, each client socket bounded in time): ours and the bare app alike.
SERVED_AS = f"{webserver.Worker.__module__}.{webserver.Worker.__name__}"
STOP_SECONDS = 20
LOG_LINES = 30
# gunicorn's [ERROR] and [CRITICAL] (a worker timing out), Flask's "ERROR in ...", "WARNING in ..." and tracebacks.
FAILURE = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b|\bWARNING\b")
SETUPS = {"sqlite": "SQLite + embedded broker", "postgresql": "PostgreSQL + Redis broker"}
PEER_OF = {"sqlite": "isso", "postgresql": "waline"}
CONTENDERS = ("ours", "bare", "floor", "isso", "waline")
# Every load's key, for --loads.
LOADS = ("form", "api", "html", "json", "widget", "bare", "floor", "isso-post", "isso-read", "waline-post",
         "waline-read")
# (numerator, denominator, target): requests/s of the one over the other, where both were measured. The widget's
# first page against each peer's client's first view has no target: they show different amounts of a thread.
RATIOS = (("form", "bare", 0.6), ("floor", "bare", None), ("form", "floor", None), ("form", "isso-post", 3), ("form", "waline-post", 1.5),
          ("html", "isso-read", 20), ("json", "isso-read", 20), ("widget", "isso-read", None),
          ("widget", "waline-read", None))


@dataclass
class Load:
    """One kind of request against one server: what the rounds take turns at."""

    key: str
    label: str
    base_url: str
    make_request: Callable
    check: Callable


def main():
    args = _arguments()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the finally blocks stop every server
    started, setups = time.perf_counter(), {}
    for setup in args.setups:
        setups[setup] = measure_setup(setup, args)
        _table(setup, setups[setup], args)
    settings = {"clients": args.clients, "workers": args.workers, "worker_class": args.worker_class,
                "isso_guard": args.isso_guard,
                "threads": args.threads, "rounds": args.rounds, "seconds": args.seconds,
                "requests": args.requests, "setups": args.setups, "only": sorted(args.only), "celery_worker": False,
                "warmup_per_client": WARMUP_PER_CLIENT, "command": "python bench/web.py " + " ".join(sys.argv[1:]),
                "run_seconds": round(time.perf_counter() - started, 1)}
    record("web", {"settings": settings, "setups": setups})
    print("\nrecorded in bench/results/latest.json (section \"web\")")


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="most seconds of each load in each round")
    parser.add_argument("--requests", type=int, default=100_000, help="most requests of each load in each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8, help="client connections")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of each server")
    parser.add_argument("--worker-class", default=SERVED_AS,
                        help="gunicorn's worker class for ours and the bare app (default: what `moderation web` runs)")
    parser.add_argument("--threads", type=int, default=webserver.THREADS, help="threads per worker (threaded classes)")
    parser.add_argument("--isso-guard", choices=("on", "off"), default="on",
                        help="Isso's flood guard: on with its limits raised (as the issue measured it), or off")
    parser.add_argument("--setups", default="sqlite,postgresql")
    parser.add_argument("--only", default=",".join(CONTENDERS), help="which of " + ",".join(CONTENDERS))
    parser.add_argument("--loads", default="", help=f"only these loads ({','.join(LOADS)}); all when empty")
    args = parser.parse_args()
    args.setups = [name.strip() for name in args.setups.split(",") if name.strip()]
    args.only = {name.strip() for name in args.only.split(",") if name.strip()}
    args.loads = {name.strip() for name in args.loads.split(",") if name.strip()}
    unknown = (set(args.setups) - set(SETUPS)) | (args.only - set(CONTENDERS)) | (args.loads - set(LOADS))
    if unknown:
        parser.error(f"unknown: {', '.join(sorted(unknown))}")
    return args


def measure_setup(setup, args):
    """Start what the setup compares, take the loads in turns, stop and drop everything; the figures."""
    print(f"\n{SETUPS[setup]}: starting", flush=True)
    with tempfile.TemporaryDirectory(prefix="web-bench-") as folder, ExitStack() as stack:
        folder, loads, missing, audits = Path(folder), [], {}, {}
        if "ours" in args.only:
            loads += _ours(setup, folder / "ours", args, stack, audits)
        if "bare" in args.only:
            loads += _bare(setup, folder / "bare", args, stack, audits)
        if "floor" in args.only:
            loads += _floor(setup, folder / "floor", args, stack, audits)
        peer = PEER_OF[setup]
        if peer in args.only:
            peer_loads, missing[peer] = _peer(peer, folder / peer, args, stack)
            loads += peer_loads
        if args.loads:
            loads = [load for load in loads if load.key in args.loads]
        print(f"  {len(loads)} loads, {args.rounds} round(s) of at most {args.seconds:g} s each; "
              "no Celery worker (posts are queued, their checks are not part of these figures)", flush=True)
        rounds = _rounds(loads, args)
        stored = {name: audit() for name, audit in audits.items()}
    return {**_figures(loads, rounds, {name: reason for name, reason in missing.items() if reason}),
            "stored_and_queued": stored}


def _rounds(loads, args):
    """{load key: [one summary per round]}, the loads taking turns within each round. A load's requests are numbered
    on from round to round, so that no post repeats an earlier one (a duplicate may be refused)."""
    rounds, first = {load.key: [] for load in loads}, {load.key: 0 for load in loads}
    for number in range(1, args.rounds + 1):
        for load in loads:
            figures = run(load.base_url, load.make_request, clients=args.clients, requests=args.requests,
                          seconds=args.seconds, warmup=args.clients * WARMUP_PER_CLIENT, check=load.check,
                          first=first[load.key])
            first[load.key] = figures.pop("next_number")
            rounds[load.key].append(figures)
            print(f"  round {number}, {load.label:26} {figures['requests_per_s']:8.1f}/s  p50 {figures['p50_ms']} ms"
                  f"  p99 {figures['p99_ms']} ms  errors {figures['errors']}", flush=True)
            for when, key in (("", "error_samples"), ("warm-up ", "warmup_error_samples")):
                for sample in figures[key]:
                    print(f"    {when}error: request {sample['request']}: {sample['status']} {sample['body'][:200]!r}")
    return rounds


def _figures(loads, rounds, missing):
    """Per load: the medians of its rounds (errors summed) and every round; the ratios with their targets."""
    per_load = {}
    for load in loads:
        runs = rounds[load.key]
        per_load[load.key] = {
            "label": load.label,
            **{name: statistics.median(r[name] for r in runs)
               for name in ("requests_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "client_cpu_us_per_request")},
            "errors": sum(r["errors"] for r in runs),
            "error_samples": [sample for r in runs for sample in r["error_samples"]][:5],
            "rounds": runs,
        }
    ratios = {}
    for top, bottom, target in RATIOS:
        if top in rounds and bottom in rounds:
            each = [a["requests_per_s"] / b["requests_per_s"] if b["requests_per_s"] else None
                    for a, b in zip(rounds[top], rounds[bottom])]
            value = statistics.median(each) if None not in each else None
            ratios[f"{top} / {bottom}"] = {"ratio": value and round(value, 2), "target": target,
                                           "met": None if target is None or value is None else value >= target,
                                           "rounds": [r and round(r, 2) for r in each]}
    return {"loads": per_load, "ratios": ratios, "not_measured": missing}


# --- our service ---------------------------------------------------------------------------------------------------

def _ours(setup, folder, args, stack, audits):
    """The service on the setup's database and broker, seeded and served; its post and read loads. Its audit counts
    the comments posted and their checks queued."""
    database, broker, queue = _scratch(setup, folder, stack, "moderation")
    env = {**os.environ, "MODERATION_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(48),
           "MODERATION_DATA_KEY": new_data_key(), "MODERATION_INSTANCE_PATH": str(folder), "DATABASE_URL": database,
           "CELERY_BROKER_URL": broker, "MODERATION_QUEUE": queue, "MODERATION_ALLOWED_ORIGINS": SITE,
           "RATELIMIT_ENABLED": "false", "MODERATION_FLOOD_INTERVAL": "0"}
    _migrate_and_seed(env)
    base = stack.enter_context(_gunicorn("moderation:create_app()", env, args.workers, folder / "gunicorn.log",
                                         *_served_as(args)))
    _verify_reading(base)
    posted = ("SELECT count(*) FROM comments JOIN threads ON threads.id = comments.thread_id "
              f"WHERE threads.key = '{POST_KEY}'")
    audits["ours"] = lambda: _stored_and_queued(database, posted, broker, queue)
    print(f"  ours: {base} ({THREAD_COMMENTS} comments seeded)", flush=True)
    return [
        Load("form", "ours, form post", base, _form_posts(base, args.clients), _status(303)),
        Load("api", "ours, API post", base, _api_posts(base, args.clients), _status(201)),
        Load("html", "ours, HTML read", base, _get(f"/threads/{READ_KEY}", {"Accept": "text/html"}), _status(200)),
        Load("json", "ours, JSON read", base, _get(f"/api/v1/threads/{READ_KEY}/comments?limit={JSON_PAGE_MAX}",
                                                    {"Accept": "application/json"}), _status(200)),
        Load("widget", "ours, widget first page", base,
             _get(f"/api/v1/threads/{READ_KEY}/comments", {"Accept": "application/json", "Origin": SITE,
                                                           "Accept-Language": "en"}), _status(200)),
    ]


def _migrate_and_seed(env):
    """Migrations, then the two threads, with the service's own models and keys (emails encrypted as when posted)."""
    with mock.patch.dict(os.environ, env):
        app = create_app()
    with app.app_context():
        upgrade()
        db.session.add(Thread(key=POST_KEY, title="Where the benchmark posts", url=f"{SITE}/posting"))
        reading = Thread(key=READ_KEY, title="A much-discussed article", url=f"{SITE}/reading")
        db.session.add(reading)
        _seed_comments(reading)
        db.session.commit()
        db.engine.dispose()


def _seed_comments(thread):
    """The same THREAD_COMMENTS comments the peers are seeded with (bench/peers), approved, over the last weeks."""
    ids, first = [], utcnow() - timedelta(days=30)
    for k, seeded in enumerate(seed_comments(THREAD_COMMENTS)):
        comment = Comment(thread=thread, parent_id=None if seeded.parent is None else ids[seeded.parent],
                          author_name=seeded.author, author_email=seeded.email, body=seeded.text, state="approved",
                          author_ip="127.0.0.1", user_agent=BROWSER, created_at=first + timedelta(minutes=80 * k))
        comment.checked_at = comment.decided_at = comment.created_at
        db.session.add(comment)
        db.session.flush()
        ids.append(comment.id)


def _verify_reading(base):
    """Every load reads the same 500 comments: the page shows them all, the API counts them all."""
    page = httpx.get(f"{base}/threads/{READ_KEY}", timeout=30)
    shown = len(re.findall(r'id="comment-\d+"', page.text))
    total = httpx.get(f"{base}/api/v1/threads/{READ_KEY}/comments", timeout=30).json()["total"]
    if page.status_code != 200 or shown != THREAD_COMMENTS or total != THREAD_COMMENTS:
        raise SystemExit(f"the seeded thread reads wrong: page {page.status_code} with {shown} comments, "
                         f"API total {total}, not {THREAD_COMMENTS}")


def _form_posts(base, clients):
    """Posts through the article's form: one browser session per client, each opened with a GET of the page."""
    sessions = []
    with httpx.Client(base_url=base, timeout=30) as browser:
        for _ in range(clients):
            browser.cookies.clear()
            page = browser.get(f"/threads/{POST_KEY}", headers={"User-Agent": BROWSER})
            if page.status_code != 200 or "session" not in page.cookies:
                raise SystemExit(f"GET /threads/{POST_KEY} answered {page.status_code} without a session cookie")
            sessions.append((f"session={page.cookies['session']}", form_tokens(page.text)))
    path = f"/threads/{POST_KEY}"

    def make_request(i):
        cookie, tokens = sessions[i % len(sessions)]
        form = {**tokens, "parent_id": "", "body": post_text(i), "author_name": f"Poster {i}",
                "author_email": f"poster-{i}@example.org", "author_url": "", "comment_check": ""}
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "User-Agent": BROWSER,
                   "Origin": base, "Referer": base + path}
        return "POST", path, headers, urlencode(form)

    return make_request


def _api_posts(base, clients):
    """Posts as the widget sends them from a listed site: one form token per client, fetched once."""
    with httpx.Client(base_url=base, timeout=30, headers={"Origin": SITE}) as widget:
        tokens = [widget.get(f"/api/v1/threads/{POST_KEY}/form").json()["token"] for _ in range(clients)]
    path = f"/api/v1/threads/{POST_KEY}/comments"
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Origin": SITE,
               "Referer": f"{SITE}/posting", "User-Agent": BROWSER, "Accept-Language": "en"}

    def make_request(i):
        sent = {"author_name": f"Poster {i}", "author_email": f"poster-{i}@example.org", "author_url": "",
                "body": post_text(i), "parent_id": None, "form_token": tokens[i % len(tokens)],
                "title": "Where the benchmark posts", "url": f"{SITE}/posting"}
        return "POST", path, headers, json.dumps(sent)

    return make_request


def _get(path, headers):
    return lambda i: ("GET", path, {"User-Agent": BROWSER, **headers}, b"")


def _status(expected):
    return lambda status, body: status == expected


# --- the bare limit ------------------------------------------------------------------------------------------------

def _bare(setup, folder, args, stack, audits):
    """bench/bare.py on a database and broker of its own, of the setup's kinds; its post load, and its audit."""
    database, broker, queue = _scratch(setup, folder, stack, "bare")
    plain = database.replace("postgresql+psycopg://", "postgresql://")  # psycopg's own form, not SQLAlchemy's
    bare.prepare(plain, broker, queue)
    audits["bare"] = lambda: _stored_and_queued(database, "SELECT count(*) FROM comments", broker, queue)
    env = {**os.environ, "BARE_DATABASE": plain, "BARE_BROKER": broker, "BARE_QUEUE": queue}
    base = stack.enter_context(_gunicorn("bare:app", env, args.workers, folder / "gunicorn.log", *_served_as(args),
                                         "--pythonpath", str(BENCH)))
    print(f"  bare: {base}", flush=True)
    path = f"/threads/{POST_KEY}"

    def make_request(i):
        form = {"parent_id": "", "body": post_text(i), "author_name": f"Poster {i}",
                "author_email": f"poster-{i}@example.org", "author_url": ""}
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": BROWSER}
        return "POST", path, headers, urlencode(form)

    return [Load("bare", "bare app, post", base, make_request, _status(303))]


def _floor(setup, folder, args, stack, audits):
    """bench/floor.py (the stack's floor) on a database and broker of its own, of the setup's kinds; its form posts,
    each client with a session and a CSRF token of its own, as for ours; and its audit."""
    database, broker, queue = _scratch(setup, folder, stack, "floor")
    env = {**os.environ, "FLOOR_DATABASE": database, "FLOOR_BROKER": broker, "FLOOR_QUEUE": queue,
           "FLOOR_SECRET_KEY": secrets.token_urlsafe(32)}
    with mock.patch.dict(os.environ, env):
        floor.prepare()
    audits["floor"] = lambda: _stored_and_queued(database, "SELECT count(*) FROM floor_comments", broker, queue)
    base = stack.enter_context(_gunicorn("floor:create_app()", env, args.workers, folder / "gunicorn.log",
                                         *_served_as(args), "--pythonpath", str(BENCH)))
    print(f"  floor: {base}", flush=True)
    return [Load("floor", "floor of the stack, post", base, _form_posts(base, args.clients), _status(303))]


def _scratch(setup, folder, stack, name):
    """(database URL, broker URL, queue name) of the setup's kinds, of a contender's own in `folder`: a fresh
    database and queue, both dropped when `stack` closes."""
    folder.mkdir(mode=0o700)
    database, drop = scratch_database(setup, folder)
    stack.callback(drop)
    queue = f"{name}-bench-{uuid.uuid4().hex[:6]}"
    broker = f"sqla+sqlite:///{folder / 'broker.sqlite3'}" if setup == "sqlite" else REDIS
    stack.callback(drop_queue, broker, queue)
    return database, broker, queue


def _stored_and_queued(database, count_rows, broker, queue):
    """With no worker reading the queue, every post a contender accepted must be one row and one waiting message;
    a post answered but not queued would flatter its figures."""
    engine = sa.create_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.scalar(sa.text(count_rows))
    finally:
        engine.dispose()
    with Connection(broker) as connection:
        queued = connection.default_channel.queue_declare(queue, passive=True).message_count
    return {"rows": rows, "queued": queued}


# --- the peers -----------------------------------------------------------------------------------------------------

def _peer(name, folder, args, stack):
    """([its post and read loads], None), or ([], why it could not be measured); bench/peers runs it."""
    try:
        module = PEERS[name]
        module.install()
        folder.mkdir(mode=0o700)
        options = {"guard": args.isso_guard == "on"} if name == "isso" else {}
        peer = stack.enter_context(module.running(_free_port(), folder, workers=args.workers, **options))
        peer.seed_thread(f"/{READ_KEY}", THREAD_COMMENTS)
        peer.seed_thread(f"/{POST_KEY}", 0)
    except Exception as error:  # a peer that cannot run is reported, and the rest is still measured
        reason = f"{type(error).__name__}: {error}"
        print(f"  {name}: not measured: {reason}", flush=True)
        return [], reason
    print(f"  {name}: {peer.base_url}", flush=True)
    return [
        Load(f"{name}-post", f"{module.NAME}, post", peer.base_url, lambda i: peer.post_request(f"/{POST_KEY}", i),
             lambda status, body: peer.check(status, body, "post")),
        Load(f"{name}-read", f"{module.NAME}, read", peer.base_url, lambda i: peer.read_request(f"/{READ_KEY}"),
             lambda status, body: peer.check(status, body, "read")),
    ], None


# --- servers -------------------------------------------------------------------------------------------------------

def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _served_as(args):
    """The same server for ours and the bare app: `moderation web`'s worker class and threads unless told otherwise."""
    return ["--worker-class", args.worker_class, "--threads", str(args.threads)]


@contextmanager
def _gunicorn(app, env, workers, log_path, *options):
    """`gunicorn -w WORKERS` on a free loopback port in a process group of its own, stopped whole at the end."""
    port = _free_port()
    with open(log_path, "w") as log:
        server = subprocess.Popen([str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
                                   "--timeout", "120", "--no-control-socket", *options, app], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_answering(server, port, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(server)
        _show_failures(log_path)


def _wait_until_answering(server, port, log_path):
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped (exit {server.returncode}):\n{Path(log_path).read_text()[-3000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {READY_SECONDS} s:\n{Path(log_path).read_text()[-3000:]}")


def _show_failures(log_path):
    """A server's tracebacks and errors are findings: the first of them are printed before its log goes."""
    lines = Path(log_path).read_text(errors="replace").splitlines()
    failures = [n for n, line in enumerate(lines) if FAILURE.search(line)]
    if failures:
        print(f"  {len(failures)} errors or warnings in the log of {log_path.parent.name}'s gunicorn; the first:")
        print("\n".join("    " + line for line in lines[failures[0]:failures[0] + LOG_LINES]))


def _stop(server):
    """SIGTERM to the whole group (gunicorn stops its workers, then itself), then SIGKILL to whatever is left."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        server.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait()


# --- the table -----------------------------------------------------------------------------------------------------

def _table(setup, figures, args):
    print(f"\n{SETUPS[setup]}: gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}, "
          f"{args.clients} clients, {args.rounds} round(s) of {args.seconds:g} s; medians of the rounds; no Celery worker")
    print(f"{'':28}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'client us/req':>15}")
    for row in figures["loads"].values():
        print(f"{row['label']:28}{row['requests_per_s']:>12.1f}{row['p50_ms']:>10.1f}{row['p99_ms']:>10.1f}"
              f"{row['errors']:>8}{row['client_cpu_us_per_request']:>15.0f}")
    for name, reason in figures["not_measured"].items():
        print(f"{name:28}not measured: {reason}")
    for name, counts in figures["stored_and_queued"].items():
        verdict = "" if counts["rows"] == counts["queued"] else "  MISMATCH: a post was answered but not queued"
        print(f"{name}: {counts['rows']:,} posts stored, {counts['queued']:,} messages queued{verdict}")
    if figures["ratios"]:
        print(f"\n{'ratio of requests/s':28}{'measured':>12}{'target':>10}{'rounds':>10}")
    for name, ratio in figures["ratios"].items():
        target = f">= {ratio['target']:g}" if ratio["target"] is not None else "-"
        verdict = {True: "met", False: "NOT met", None: ""}[ratio["met"]]
        print(f"{name:28}{ratio['ratio']!s:>12}{target:>10}  {verdict:8}{ratio['rounds']}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; every server this run started is stopped and its databases dropped")
