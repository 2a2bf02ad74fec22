"""End-to-end latency: a comment posted through the form until the worker has it `held`, per broker.

Usage: python bench/pipeline.py [--comments N] [--stacks sqlite,redis,rabbitmq]
Needs PostgreSQL, Redis and RabbitMQ on 127.0.0.1 for those stacks; prints one line per stack.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MODERATION_ENV", "testing")

from flask_migrate import upgrade  # noqa: E402

from moderation import create_app  # noqa: E402
from moderation.extensions import db  # noqa: E402
from moderation.models import Comment  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import form_tokens  # noqa: E402
from tests.worker import Worker, drop_queue  # noqa: E402

from databases import scratch_database  # noqa: E402  (bench/, the script's own folder)

BROKERS = {
    "sqlite": None,
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}


def measure(stack, comments):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        database_url, drop = scratch_database(stack, folder)
        broker_url = BROKERS[stack] or f"sqla+sqlite:///{folder / 'broker.sqlite3'}"
        queue = f"moderation-bench-{uuid.uuid4().hex[:6]}"
        settings = {"SQLALCHEMY_DATABASE_URI": database_url, "CELERY_BROKER_URL": broker_url,
                    "MODERATION_QUEUE": queue, "MODERATION_FLOOD_INTERVAL": 0, "RATELIMIT_ENABLED": False}
        app = create_app(settings)
        with app.app_context():
            upgrade()
            factories.make_thread("bench", "Benchmark")
        worker = Worker({"DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url, "MODERATION_QUEUE": queue})
        try:
            return [_one(app, i) for i in range(comments)]
        finally:
            worker.stop()
            with app.app_context():
                db.engine.dispose()
            drop()
            drop_queue(broker_url, queue)


def _one(app, i):
    client = app.test_client()
    tokens = form_tokens(client.get("/threads/bench").get_data(as_text=True))
    data = {**tokens, "author_name": "Bench", "author_email": f"bench-{i}@example.org", "body": f"Comment {i}."}
    started = time.perf_counter()
    response = client.post("/threads/bench", data=data)
    comment_id = int(response.headers["Location"].rsplit("comment-", 1)[1])
    with app.app_context():
        while db.session.scalar(sa.select(Comment.state).where(Comment.id == comment_id)) == "pending":
            db.session.remove()
            time.sleep(0.005)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=20)
    parser.add_argument("--stacks", default="sqlite,redis,rabbitmq")
    args = parser.parse_args()
    print(f"post -> held through a real worker, {args.comments} comments one after another")
    for stack in args.stacks.split(","):
        times = sorted(measure(stack, args.comments))
        p95 = times[max(int(len(times) * 0.95) - 1, 0)]
        label = "SQLite + SQLite broker" if stack == "sqlite" else f"PostgreSQL + {stack}"
        print(f"{label:28} median {statistics.median(times) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   max {times[-1] * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
