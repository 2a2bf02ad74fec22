"""Never lose a comment under load: thousands of posts through the form while a worker is killed and restarted.

Usage: python bench/durability.py [--comments 5000] [--rate 0] [--clients 8] [--restart kill|term] [--wait 180]

On a scratch PostgreSQL database and a queue of its own on the machine's Redis (both removed at the end), as in
production: `moderation:create_app()` under gunicorn with `moderation web`'s worker class (4 processes), two
Celery worker processes on other node names (one, two), and the scheduler (`celery beat`) on its own, sweeping
every 5 s for checks pending over 15 s. --comments readers, each a browser of its own (a GET of the article for
its form, then the POST), are served by --clients threads at --rate posts per second (0: as fast as they go).
When half have been posted, worker "two" is stopped (--restart kill: SIGKILL to it and its pool, as when its
machine dies; term: a warm shutdown) and started again.

Then it waits (at most --wait seconds) until no comment is pending and prints: posted (answered 303), stored,
lost (answered but not stored, never given a verdict, or held only because every check of it failed), the
final states, verdicts per comment (exactly one
each), how many the sweep had to send again, the posting throughput, and post-to-verdict latency p50/p99 (from
the POST's start to `checked_at`, one clock). Writes the section "durability" of bench/results/latest.json.
"""
import argparse
import itertools
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MODERATION_ENV", "testing")

from flask_migrate import upgrade  # noqa: E402

from config import new_data_key  # noqa: E402
from moderation import create_app  # noqa: E402
from moderation.extensions import db  # noqa: E402
from moderation.models import Thread  # noqa: E402
from tests.conftest import form_tokens  # noqa: E402
from tests.worker import Worker, drop_queue  # noqa: E402

from databases import scratch_database  # noqa: E402  (bench/, the script's own folder)
from results import record  # noqa: E402
from web import BIN, REDIS, SERVED_AS, _gunicorn  # noqa: E402

KEY = "durability"
WEB_PROCESSES, WEB_THREADS = 4, 4
# The sweep sends a check again after 15 s, as often as needed: a comment held because its checks ran out would
# be a comment the workers lost.
SWEEP = {"MODERATION_SWEEP_EVERY": "5", "MODERATION_SWEEP_AFTER": "15", "MODERATION_CHECK_ATTEMPTS": "50"}


def _environment(folder):
    """A production environment on a scratch database and a queue of its own; and what removes them."""
    database, drop = scratch_database("postgresql", folder)
    queue = f"moderation-durability-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "MODERATION_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(48),
           "MODERATION_DATA_KEY": new_data_key(), "MODERATION_INSTANCE_PATH": str(folder), "DATABASE_URL": database,
           "CELERY_BROKER_URL": REDIS, "MODERATION_QUEUE": queue, "MODERATION_ALLOWED_ORIGINS": "",
           # Every post comes from 127.0.0.1: the flood check and the rate limits would refuse them.
           "RATELIMIT_ENABLED": "false", "MODERATION_FLOOD_INTERVAL": "0",
           # These readers post as soon as the page is open; the form's minimum time is a spam rule, not measured here.
           "MODERATION_MIN_FORM_SECONDS": "0", **SWEEP}
    with mock.patch.dict(os.environ, env):
        app = create_app()
    with app.app_context():
        upgrade()
        db.session.add(Thread(key=KEY, title="Durability", url="http://blog.example.test/durability"))
        db.session.commit()
        db.engine.dispose()
    return env, lambda: (drop(), drop_queue(REDIS, queue))


def _scheduler(env, folder):
    log = open(folder / "beat.log", "w")
    return subprocess.Popen([str(BIN / "celery"), "-A", "workers", "beat", "--loglevel", "INFO",
                             "--schedule", str(folder / "beat-schedule")], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop_scheduler(scheduler):
    for stop in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(scheduler.pid, stop)
        except ProcessLookupError:
            pass
        try:
            scheduler.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


class Readers:
    """--comments readers posting through the form, from --clients threads at --rate per second overall."""

    def __init__(self, base, count, rate):
        self.base, self.count, self.rate = base, count, rate
        self.numbers = itertools.count()
        self.lock = threading.Lock()
        self.posted = []  # (comment id, POST started)
        self.failed = []  # (reader, what went wrong)
        self.halfway = threading.Event()
        self.begun = None

    def run(self, clients):
        self.begun = time.monotonic()
        threads = [threading.Thread(target=self._client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - self.begun

    def _client(self):
        with httpx.Client(base_url=self.base, timeout=30) as browser:
            while (n := next(self.numbers)) < self.count:
                if self.rate:
                    time.sleep(max(self.begun + n / self.rate - time.monotonic(), 0))
                self._reader(browser, n)

    def _reader(self, browser, n):
        try:
            posted = self._post(browser, n)
        except Exception as error:  # a benchmark's finding, not its end
            posted = None
            with self.lock:
                self.failed.append((n, repr(error)[:300]))
        with self.lock:
            if posted:
                self.posted.append(posted)
            if len(self.posted) + len(self.failed) >= self.count // 2:
                self.halfway.set()

    def _post(self, browser, n):
        """A reader of its own: no cookie from the last one, the page opened, the form sent."""
        browser.cookies.clear()
        page = browser.get(f"/threads/{KEY}")
        tokens = form_tokens(page.text)
        # The session cookie is Secure in production; a browser behind the site's TLS would send it back.
        cookie = {"Cookie": f"session={page.cookies['session']}"}
        browser.cookies.clear()
        started = datetime.now(timezone.utc)
        answer = browser.post(f"/threads/{KEY}", headers=cookie, data={
            **tokens, "author_name": f"Reader {n}", "author_email": f"reader-{n}@example.org", "author_url": "",
            "body": f"Comment number {n}: the second chart reads wrong to me, the axis starts at {n % 97}.",
            "parent_id": ""})
        if answer.status_code != 303:
            said = "; ".join(re.findall(r'<p class="error"[^>]*>([^<]*)</p>', answer.text)) or answer.text[:200]
            raise RuntimeError(f"answered {answer.status_code}: {said}")
        return int(answer.headers["Location"].rsplit("comment-", 1)[1]), started


def _restart(worker, how, env):
    """Stop worker "two" as --restart says, then start it again under the same node name."""
    stopped = time.monotonic()
    if how == "kill":
        worker.kill()
    else:
        worker.stop(graceful=True)
    again = Worker(env, concurrency=1, queues=("checks",), name="two")
    return again, round(time.monotonic() - stopped, 1)


def _outcome(database, posted, seconds):
    """Wait until no posted comment is pending (at most `seconds`); then every figure, read from the database."""
    ids = [comment_id for comment_id, _ in posted]
    engine = sa.create_engine(database)
    deadline = time.monotonic() + seconds
    try:
        with engine.connect() as connection:
            while True:
                pending = connection.scalar(sa.text(
                    "SELECT count(*) FROM comments WHERE state = 'pending' AND id = ANY(:ids)"), {"ids": ids})
                connection.rollback()
                if not pending or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            rows = connection.execute(sa.text(
                "SELECT id, state, checked_at, check_attempts, reasons FROM comments WHERE id = ANY(:ids)"),
                {"ids": ids}).all()
            in_thread = connection.scalar(sa.text(
                "SELECT count(*) FROM comments JOIN threads ON threads.id = thread_id WHERE threads.key = :key"),
                {"key": KEY})
            verdicts = dict(connection.execute(sa.text(
                "SELECT comment_id, count(*) FROM audit_events WHERE from_state = 'pending' AND comment_id = ANY(:ids) "
                "GROUP BY comment_id"), {"ids": ids}).all())
    finally:
        engine.dispose()
    return rows, verdicts, in_thread


def _percentile(values, q):
    values = sorted(values)
    return values[max(math.ceil(q / 100 * len(values)) - 1, 0)] if values else None


def measure(args):
    with tempfile.TemporaryDirectory() as name, ExitStack() as stack:
        folder = Path(name)
        env, remove = _environment(folder)
        stack.callback(remove)
        base = stack.enter_context(_gunicorn("moderation:create_app()", env, WEB_PROCESSES, folder / "gunicorn.log",
                                             "--worker-class", SERVED_AS, "--threads", str(WEB_THREADS)))
        workers = {name: Worker(env, concurrency=1, queues=("checks",), name=name) for name in ("one", "two")}
        stack.callback(lambda: [worker.stop() for worker in workers.values()])
        scheduler = _scheduler(env, folder)
        stack.callback(_stop_scheduler, scheduler)
        print(f"  {args.comments} readers at {args.rate or 'full speed'}/s from {args.clients} clients; gunicorn "
              f"{WEB_PROCESSES}x{WEB_THREADS} at {base}, workers one and two, the scheduler apart", flush=True)

        readers = Readers(base, args.comments, args.rate)
        restart = {}

        def restart_halfway():
            readers.halfway.wait()
            restart["at_posted"] = len(readers.posted)
            workers["two"], restart["seconds_down"] = _restart(workers["two"], args.restart, env)

        restarter = threading.Thread(target=restart_halfway)
        restarter.start()
        posting_seconds = readers.run(args.clients)
        readers.halfway.set()
        restarter.join()
        rows, verdicts, in_thread = _outcome(env["DATABASE_URL"], readers.posted, args.wait)
        checks = {name: worker.finished("moderation.check_comment") for name, worker in workers.items()}
    return _figures(args, readers, rows, verdicts, in_thread, posting_seconds, restart, checks)


def _figures(args, readers, rows, verdicts, in_thread, posting_seconds, restart, checks):
    started = dict(readers.posted)
    states = {}
    for row in rows:
        states[row.state] = states.get(row.state, 0) + 1
    decided = [row for row in rows if row.state != "pending"]
    latency = [(row.checked_at - started[row.id]).total_seconds() for row in decided if row.checked_at]
    checked_at = sorted(row.checked_at for row in decided if row.checked_at)
    stored = {row.id for row in rows}
    return {
        "comments": args.comments, "clients": args.clients, "rate_asked": args.rate, "restart": args.restart,
        "posted": len(readers.posted), "failed_posts": len(readers.failed), "failures": readers.failed[:5],
        "stored": len(stored),
        # Answered 303 but not stored, still pending at the end, or held only because every check failed.
        "lost": len(set(started) - stored) + sum(1 for row in rows if row.state == "pending"
                                                 or any(reason.startswith("spam check failed")
                                                        for reason in row.reasons or [])),
        # Stored although the reader was told it failed (a timeout after the commit): a reader would post again.
        "stored_but_answered_failed": in_thread - len(stored),
        "states": states,
        "verdicts_not_exactly_one": sum(1 for row in rows if verdicts.get(row.id, 0) != 1),
        "sent_again_by_the_sweep": sum(1 for row in rows if row.check_attempts > 0),
        "posts_per_second": round(len(readers.posted) / posting_seconds, 1),
        "verdicts_per_second": round((len(checked_at) - 1) / (checked_at[-1] - checked_at[0]).total_seconds(), 1)
        if len(checked_at) > 1 else None,
        "post_to_verdict_p50_ms": round(_percentile(latency, 50) * 1000, 1) if latency else None,
        "post_to_verdict_p99_ms": round(_percentile(latency, 99) * 1000, 1) if latency else None,
        "post_to_verdict_max_ms": round(max(latency) * 1000, 1) if latency else None,
        "restarted_after_posts": restart.get("at_posted"), "worker_down_seconds": restart.get("seconds_down"),
        "checks_logged": checks,
    }


def _print(figures):
    print(f"  posted {figures['posted']} of {figures['comments']} (answered 303; {figures['failed_posts']} failed, "
          f"{figures['stored_but_answered_failed']} of those stored), stored {figures['stored']}, "
          f"lost {figures['lost']}", flush=True)
    print(f"  final states: {figures['states']}; verdicts not exactly one: {figures['verdicts_not_exactly_one']}; "
          f"sent again by the sweep: {figures['sent_again_by_the_sweep']}")
    how = "killed" if figures["restart"] == "kill" else "stopped warmly"
    print(f"  worker two {how} after {figures['restarted_after_posts']} posts, back in "
          f"{figures['worker_down_seconds']} s; checks logged by worker (the restarted one's second life only): "
          f"{figures['checks_logged']}")
    print(f"  {figures['posts_per_second']} posts/s, {figures['verdicts_per_second']} verdicts/s; post to verdict "
          f"p50 {figures['post_to_verdict_p50_ms']} ms, p99 {figures['post_to_verdict_p99_ms']} ms, "
          f"max {figures['post_to_verdict_max_ms']} ms")
    for reader, failure in figures["failures"]:
        print(f"  reader {reader}: {failure}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=0, help="posts per second overall; 0: as fast as they go")
    parser.add_argument("--clients", type=int, default=8, help="threads posting at once")
    parser.add_argument("--restart", choices=("kill", "term"), default="kill")
    parser.add_argument("--wait", type=float, default=180, help="longest wait for the last verdict")
    parser.add_argument("--quick", action="store_true", help="1,000 comments")
    args = parser.parse_args()
    if args.quick:
        args.comments = 1000
    if args.comments < 2 or args.clients < 1 or args.rate < 0:
        parser.error("--comments at least 2, --clients at least 1, --rate 0 or more")
    return args


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the cleanups run, as on Ctrl-C
    print("PostgreSQL + Redis: posts through the form while a worker is restarted", flush=True)
    figures = measure(args)
    _print(figures)
    record("durability", figures)
    if figures["lost"] or figures["verdicts_not_exactly_one"] or figures["failed_posts"] \
            or figures["stored_but_answered_failed"]:
        raise SystemExit("comments were lost, judged twice, or refused: see above")


if __name__ == "__main__":
    main()
