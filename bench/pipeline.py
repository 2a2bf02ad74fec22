"""The worker, per stack: comments one worker process checks per second, and post-to-verdict latency.

Usage: python bench/pipeline.py [DATA_DIR] [--stacks sqlite,redis,rabbitmq] [--backlog 500] [--stream 500]
                                [--rate 50] [--seconds 60] [--quick]

Per stack (SQLite with the embedded SQLite broker; PostgreSQL with Redis; PostgreSQL with RabbitMQ), on a scratch
database and a queue of its own, both removed at the end:
- throughput: --backlog comments posted through the form while no worker runs, then ONE worker process
  (`--concurrency 1`) started. Checks per second are counted from the first verdict to the last (`checked_at`), so
  the worker's start and its first load of the model are left out.
- latency: with the worker `moderation serve` starts (`--concurrency 2`) running, --stream comments posted through
  the form at --rate per second (at most --seconds), each by a reader of its own whose form was opened before the
  stream began. Each comment is timed from the start of its POST to its `checked_at`, read from the database once
  all are decided: the web process, the broker and the worker share this machine's clock, and nothing is polled
  while the stream runs. `checked_at` is taken as the verdict is written, a few milliseconds before its commit.
The comments are the data set's texts and authors (what the checks cost depends on them); DATA_DIR defaults to
../shared/data. Needs PostgreSQL, Redis and RabbitMQ on 127.0.0.1 for those stacks. Writes the section "pipeline"
of bench/results/latest.json.
"""
import argparse
import math
import os
import random
import re
import signal
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MODERATION_ENV", "testing")

from flask_migrate import upgrade  # noqa: E402

import config  # noqa: E402
from moderation import create_app  # noqa: E402
from moderation.extensions import db  # noqa: E402
from moderation.models import Comment  # noqa: E402
from moderation.embedded_broker import POLLING_SECONDS as EMBEDDED_POLLING_SECONDS  # noqa: E402
from moderation.queue import CHECK_COMMENT  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import form_tokens  # noqa: E402
from tests.worker import Worker, drop_queue  # noqa: E402

from databases import scratch_database  # noqa: E402  (bench/, the script's own folder)
from results import record  # noqa: E402
from spam import DEFAULT_DATA, corpus  # noqa: E402

BROKERS = {
    "sqlite": None,
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}
LABELS = {"sqlite": "SQLite + SQLite broker", "redis": "PostgreSQL + Redis", "rabbitmq": "PostgreSQL + RabbitMQ"}
THREAD = "bench"
# What `moderation serve` starts by default (its --concurrency).
SERVE_CONCURRENCY = 2
TASK_TIME = re.compile(rf"Task {re.escape(CHECK_COMMENT)}\[[^\]]+\] succeeded in ([0-9.e-]+)s")


@contextmanager
def stack(name, folder, **settings):
    """(app, environment for subprocesses) on a fresh, migrated database with the thread THREAD, and a queue of
    its own; the database and the queue are removed on the way out, after an error or Ctrl-C too. `settings` are
    more environment variables, for the app and the subprocesses alike."""
    database_url, drop = scratch_database("sqlite" if name == "sqlite" else "postgresql", folder)
    broker_url = BROKERS[name] or f"sqla+sqlite:///{folder / 'broker.sqlite3'}"
    env = {"MODERATION_ENV": "testing", "MODERATION_INSTANCE_PATH": str(folder), "DATABASE_URL": database_url,
           "CELERY_BROKER_URL": broker_url, "MODERATION_QUEUE": f"moderation-bench-{uuid.uuid4().hex[:6]}",
           # Every benchmark post comes from 127.0.0.1: the flood check and the rate limits would refuse them.
           "MODERATION_FLOOD_INTERVAL": "0", "RATELIMIT_ENABLED": "false", **settings}
    app = None
    try:
        app = create_app(config.load({**os.environ, **env}, str(folder)))
        with app.app_context():
            upgrade()
            factories.make_thread(THREAD, "Benchmark")
        yield app, env
    finally:
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        drop()
        drop_queue(broker_url, env["MODERATION_QUEUE"])


def open_forms(app, n):
    """`n` readers, each with the thread page open in a client of its own: (client, the form's hidden values)."""
    readers = []
    for _ in range(n):
        client = app.test_client()
        readers.append((client, form_tokens(client.get(f"/threads/{THREAD}").get_data(as_text=True))))
    return readers


def post(reader, serial, text, author):
    """Send one reader's form: (comment id, when the POST started, when its answer came)."""
    client, tokens = reader
    data = {**tokens, "author_name": (author or "Reader")[:100], "author_email": f"reader-{serial}@example.org",
            "author_url": "", "body": text, "parent_id": ""}
    started = datetime.now(timezone.utc)
    response = client.post(f"/threads/{THREAD}", data=data)
    answered = datetime.now(timezone.utc)
    if response.status_code != 303:
        raise RuntimeError(f"posting answered {response.status_code}")
    return int(response.headers["Location"].rsplit("comment-", 1)[1]), started, answered


def wait_decided(app, ids, seconds):
    """Wait until none of `ids` is pending (one cheap count every 0.2 s), at most `seconds`; False if some still are."""
    deadline = time.monotonic() + seconds
    with app.app_context():
        while time.monotonic() < deadline:
            pending = db.session.scalar(sa.select(sa.func.count()).where(Comment.id.in_(ids), Comment.state == "pending"))
            db.session.remove()
            if not pending:
                return True
            time.sleep(0.2)
    return False


def verdict_times(app, ids):
    """{id: (created_at, checked_at)} of the decided comments among `ids`."""
    with app.app_context():
        rows = db.session.execute(sa.select(Comment.id, Comment.created_at, Comment.checked_at)
                                  .where(Comment.id.in_(ids), Comment.checked_at.is_not(None))).all()
        db.session.remove()
    return {row.id: (row.created_at, row.checked_at) for row in rows}


def task_seconds(worker):
    """How long each check task ran, as the worker logged it: the check itself, without broker or queueing."""
    return [float(match.group(1)) for match in map(TASK_TIME.search, worker.output) if match]


def throughput(app, env, comments, n, seconds):
    """Checks per second of one worker process (`--concurrency 1`) working through a backlog of `n` comments."""
    readers = open_forms(app, n)
    ids = [post(reader, i, *comments[i % len(comments)])[0] for i, reader in enumerate(readers)]
    worker = Worker(env, concurrency=1)
    try:
        ready = datetime.now(timezone.utc)
        finished = wait_decided(app, ids, seconds)
        runs = task_seconds(worker)
    finally:
        worker.stop()
    checked = sorted(checked_at for _, checked_at in verdict_times(app, ids).values())
    span = (checked[-1] - checked[0]).total_seconds() if len(checked) > 1 else 0
    return {"comments": n, "checked": len(checked), "all_checked": finished,
            "checks_per_second": round((len(checked) - 1) / span, 1) if span else None,
            "seconds_ready_to_last": round((checked[-1] - ready).total_seconds(), 2) if checked else None,
            "task_ms_p50": _ms(_percentile(runs, 50)) if runs else None}


def latency(app, env, comments, n, rate, seconds):
    """Post-to-verdict times of a steady stream of `n` comments at `rate` per second, at most `seconds` long."""
    readers = open_forms(app, n)
    worker = Worker(env, concurrency=SERVE_CONCURRENCY)
    try:
        posted, begun = [], time.monotonic()
        for i, reader in enumerate(readers):
            due = begun + i / rate
            if due - begun >= seconds:
                break
            time.sleep(max(due - time.monotonic(), 0))
            posted.append(post(reader, i, *comments[i % len(comments)]))
        sent_for = time.monotonic() - begun
        finished = wait_decided(app, [p[0] for p in posted], seconds)
        runs = task_seconds(worker)
    finally:
        worker.stop()
    return _latency_figures(posted, verdict_times(app, [p[0] for p in posted]), runs, sent_for, finished)


def _latency_figures(posted, verdicts, runs, sent_for, finished):
    """From the POST's start to the verdict; and from the comment's INSERT, inside that POST, to the verdict."""
    decided = [(started, *verdicts[i]) for i, started, _ in posted if i in verdicts]
    total = [(checked - started).total_seconds() for started, _, checked in decided]
    inserted = [(checked - created).total_seconds() for _, created, checked in decided]
    request = [(answered - started).total_seconds() for _, started, answered in posted]
    return {"comments": len(posted), "decided": len(decided), "all_decided": finished,
            "rate_per_second": round(len(posted) / sent_for, 1) if sent_for else None,
            **{f"p{q}_ms": _ms(_percentile(total, q)) for q in (50, 99)}, "max_ms": _ms(max(total)),
            **{f"insert_to_verdict_p{q}_ms": _ms(_percentile(inserted, q)) for q in (50, 99)},
            "post_request_ms_p50": _ms(_percentile(request, 50)),
            "task_ms_p50": _ms(_percentile(runs, 50)) if runs else None}


def _percentile(values, q):
    """The nearest-rank percentile: a value that was measured, never one interpolated between two."""
    values = sorted(values)
    return values[max(math.ceil(q / 100 * len(values)) - 1, 0)]


def _ms(seconds):
    return round(seconds * 1000, 1)


def measure(name, comments, args):
    with tempfile.TemporaryDirectory() as folder, stack(name, Path(folder)) as (app, env):
        print(f"{LABELS[name]}: {args.backlog} comments for one worker process, then {args.stream} at "
              f"{args.rate:g}/s", flush=True)
        return {"throughput": throughput(app, env, comments, args.backlog, args.seconds),
                "latency": latency(app, env, comments, args.stream, args.rate, args.seconds)}


def _print(name, figures):
    speed, late = figures["throughput"], figures["latency"]
    print(f"  one worker process: {speed['checks_per_second']} checks/s ({speed['checked']}/{speed['comments']} "
          f"checked, {speed['seconds_ready_to_last']} s from ready to last; a check task runs {speed['task_ms_p50']} ms)")
    print(f"  post to verdict, {late['decided']}/{late['comments']} at {late['rate_per_second']}/s: "
          f"p50 {late['p50_ms']} ms, p99 {late['p99_ms']} ms, max {late['max_ms']} ms; from the INSERT: "
          f"p50 {late['insert_to_verdict_p50_ms']} ms, p99 {late['insert_to_verdict_p99_ms']} ms "
          f"(the POST takes {late['post_request_ms_p50']} ms, the check task {late['task_ms_p50']} ms)", flush=True)
    if BROKERS[name] is None:
        print(f"  the embedded broker is polled every {EMBEDDED_POLLING_SECONDS} s while its queue is empty: a task "
              f"posted then waits half that on average", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=DEFAULT_DATA, type=Path, help="folder holding youtube-spam/*.csv")
    parser.add_argument("--stacks", default="sqlite,redis,rabbitmq")
    parser.add_argument("--backlog", type=int, default=500, help="comments for one worker process to check")
    parser.add_argument("--stream", type=int, default=500, help="comments posted at a steady rate")
    parser.add_argument("--rate", type=float, default=50,
                        help="posts per second in the stream (the issue's target is set at 50, with two worker processes)")
    parser.add_argument("--seconds", type=float, default=60, help="longest stream, and longest wait for verdicts")
    parser.add_argument("--quick", action="store_true", help="a backlog of 100 and a stream of 150")
    args = parser.parse_args()
    args.stacks = [name for name in args.stacks.split(",") if name]
    if set(args.stacks) - set(BROKERS):
        parser.error(f"--stacks: {', '.join(sorted(set(args.stacks) - set(BROKERS)))}? there are {', '.join(BROKERS)}")
    if args.quick:
        args.backlog, args.stream = 100, 150
    return args


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the finally blocks clean up, as on Ctrl-C
    texts, _, authors = corpus(args.data)
    comments = list(zip(texts, authors))
    random.Random(1).shuffle(comments)
    results = {}
    for name in args.stacks:
        results[name] = {"label": LABELS[name], **measure(name, comments, args)}
        _print(name, results[name])
    record("pipeline", {"stacks": results, "serve_concurrency": SERVE_CONCURRENCY, "rate_per_second": args.rate,
                        "embedded_polling_seconds": EMBEDDED_POLLING_SECONDS})


if __name__ == "__main__":
    main()
