"""Memory: peak RSS of one gunicorn web worker after a realistic mix, and of one Celery worker process after checking
a few hundred comments and one retraining; parent and child processes apart.

Usage: python bench/memory.py [DATA_DIR] [--stack redis] [--requests 400] [--examples 10000] [--seconds 300] [--quick]

On a scratch database and queue (`--stack` as bench/pipeline.py names them: sqlite, redis, rabbitmq; PostgreSQL with
Redis by default, as in production), `gunicorn -w 1` and `celery -A workers worker --concurrency 1` run side by
side, each process tree sampled with psutil every 50 ms. In turn:
1. --examples training examples stored, as an imported CSV would (the data set's comments varied, see bench/spam.py);
2. 500 comments posted through the form and checked by the worker, then approved by a moderator at once, which
   makes the worker retrain on every example (MODERATION_RETRAIN_DELAY 0, so without waiting);
3. --requests requests to the web worker, one after another (at most --seconds): in every ten, four pages of the
   thread (its 500 comments), four JSON reads (the thread's comments, the next page, and the counts) and a
   reader's post (the form, then the POST), whose check the worker then runs.
Each process's RSS counts the pages it shares with its parent (a forked child shares the parent's code and
what the parent loaded before the fork); what each holds alone (USS) is read once, at the end. Writes the section
"memory" of bench/results/latest.json.
"""
import argparse
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
import sqlalchemy as sa

from pipeline import BROKERS, THREAD, open_forms, post, stack, wait_decided  # the script's own folder, bench/
from results import record
from spam import DEFAULT_DATA, corpus, store_examples, varied

# bench/pipeline.py, imported above, put the project on sys.path.
from moderation.extensions import db
from moderation.models import Comment, SpamModelVersion
from moderation.queue import LEARN_FROM_DECISION
from moderation.review.services import decide_many
from tests import factories
from tests.conftest import form_tokens
from tests.worker import Worker

BIN = Path(sys.executable).parent
THREAD_COMMENTS = 500
SAMPLE_SECONDS = 0.05
MB = 1024 * 1024


class Sampler:
    """Samples a process and its descendants in a thread of its own: RSS at the first sample and at the peak."""

    def __init__(self, pid):
        self.root = psutil.Process(pid)
        self.first, self.peak = {}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in processes:
                try:
                    rss = process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                self.first.setdefault(process.pid, rss)
                self.peak[process.pid] = max(self.peak.get(process.pid, 0), rss)

    def stop(self):
        """Stop sampling: {"parent": {...}, "child": {...}, "children": n}, the child the one with the highest peak."""
        self._stop.set()
        self._thread.join()
        children = [pid for pid in self.peak if pid != self.root.pid]
        child = max(children, key=self.peak.get, default=None)
        return {"parent": self._figures(self.root.pid), "child": self._figures(child) if child else None,
                "children": len(children)}

    def _figures(self, pid):
        return {"first_mb": round(self.first[pid] / MB, 1), "peak_mb": round(self.peak[pid] / MB, 1),
                "unique_mb_at_end": _unique_mb(pid)}


def _unique_mb(pid):
    """What the process holds that no other does (USS), once, at the end: the memory one more such process costs,
    which RSS, counting pages shared with the parent, overstates. Read from smaps, too slow to sample."""
    try:
        return round(psutil.Process(pid).memory_full_info().uss / MB, 1)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def start_gunicorn(env, folder):
    """`gunicorn -w 1` on a free port of 127.0.0.1, once it answers: (process, its address)."""
    port = _free_port()
    log = open(folder / "gunicorn.log", "w")
    server = subprocess.Popen([str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "--timeout", "300",
                               "moderation:create_app()"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    log.close()
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop(server)
    raise RuntimeError(f"gunicorn did not answer within 60 s:\n{(folder / 'gunicorn.log').read_text()[-3000:]}")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(server):
    """Stop gunicorn as its own signals say (TERM: finish the requests in hand), killed if it takes over 30 s."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def seed_thread(app, comments, seconds):
    """THREAD_COMMENTS comments posted through the form, checked by the worker, then all approved by a moderator."""
    ids = [post(reader, i, *comments[i % len(comments)])[0] for i, reader in enumerate(open_forms(app, THREAD_COMMENTS))]
    if not wait_decided(app, ids, seconds):
        raise RuntimeError(f"the worker did not check the thread's comments within {seconds} s")
    with app.app_context():
        done, _, _ = decide_many(ids, "approve", factories.make_moderator("memory"))
        db.session.remove()
    return len(done)


def web_mix(base, requests, seconds, serial):
    """`requests` requests in rounds of ten, one after another, at most `seconds`: {kind: count}."""
    counts, deadline = {}, time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=60) as client:
        while sum(counts.values()) < requests and time.monotonic() < deadline:
            for _ in range(4):
                _get(client, f"/threads/{THREAD}", "thread page", counts)
            first = _get(client, f"/api/v1/threads/{THREAD}/comments", "JSON", counts).json()
            _get(client, first["next"], "JSON", counts)
            _get(client, f"/api/v1/counts?thread={THREAD}", "JSON", counts)
            _get(client, f"/api/v1/threads/{THREAD}/comments?limit=100", "JSON", counts)
            _post(base, next(serial), counts)
    return counts


def _get(client, url, kind, counts):
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    counts[kind] = counts.get(kind, 0) + 1
    return response


def _post(base, serial, counts):
    """A reader of its own: the thread page, then the form sent."""
    with httpx.Client(base_url=base, timeout=60) as reader:
        tokens = form_tokens(_get(reader, f"/threads/{THREAD}", "thread page", counts).text)
        data = {**tokens, "author_name": "Reader", "author_email": f"mix-{serial}@example.org", "author_url": "",
                "body": f"A comment from the memory benchmark, number {serial}.", "parent_id": ""}
        if reader.post(f"/threads/{THREAD}", data=data).status_code != 303:
            raise RuntimeError("a post of the mix was refused")
    counts["post"] = counts.get("post", 0) + 1


def measure(args, comments, examples):
    """Start both servers under their samplers, run the three steps, stop everything: the figures."""
    with tempfile.TemporaryDirectory() as folder, \
            stack(args.stack, Path(folder), MODERATION_RETRAIN_DELAY="0") as (app, env):
        with app.app_context():
            store_examples(examples)
        worker, server, samplers = None, None, {}
        try:
            worker = Worker(env, concurrency=1)
            samplers["worker"] = Sampler(worker.proc.pid)
            server, base = start_gunicorn({**os.environ, **env}, Path(folder))
            samplers["web"] = Sampler(server.pid)
            approved = seed_thread(app, comments, args.seconds)
            worker.wait_until_finished({LEARN_FROM_DECISION: 1}, timeout=args.seconds)
            counts = web_mix(base, args.requests, args.seconds, itertools.count())
            checked = _checked_after_mix(app, args.seconds)
        finally:
            figures = {name: sampler.stop() for name, sampler in samplers.items()}
            if server:
                stop(server)
            if worker:
                worker.stop()
        figures["web"]["requests"] = counts
        figures["worker"].update(checked=checked, approved=approved, trained_on=_trained_on(app))
        return figures


def _checked_after_mix(app, seconds):
    """Wait for the checks of the mix's posts; how many comments the worker checked in all."""
    with app.app_context():
        pending = db.session.scalars(sa.select(Comment.id).where(Comment.state == "pending")).all()
        db.session.remove()
    if not wait_decided(app, pending, seconds):
        raise RuntimeError(f"the worker did not check the mix's comments within {seconds} s")
    with app.app_context():
        checked = db.session.scalar(sa.select(sa.func.count()).where(Comment.checked_at.is_not(None)))
        db.session.remove()
    return checked


def _trained_on(app):
    """Examples of the newest model version: the retraining happened, on every example."""
    with app.app_context():
        examples = db.session.scalar(sa.select(SpamModelVersion.examples).order_by(SpamModelVersion.id.desc()).limit(1))
        db.session.remove()
    if not examples:
        raise RuntimeError("the worker trained no model version")
    return examples


def _print(figures):
    for name, process in (("web (gunicorn -w 1)", "web"), ("Celery worker (--concurrency 1)", "worker")):
        tree = figures[process]
        child = tree["child"] or {"first_mb": "-", "peak_mb": "-"}
        print(f"{name:32} parent {tree['parent']['first_mb']} -> peak {tree['parent']['peak_mb']} MB "
              f"(its own at the end {tree['parent']['unique_mb_at_end']} MB);  child {child['first_mb']} -> peak "
              f"{child['peak_mb']} MB (its own {child.get('unique_mb_at_end', '-')} MB; {tree['children']} child process(es))")
    print(f"web requests: {figures['web']['requests']}; worker: {figures['worker']['checked']} comments checked, "
          f"one retraining on {figures['worker']['trained_on']:,} examples")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=DEFAULT_DATA, type=Path, help="folder holding youtube-spam/*.csv")
    parser.add_argument("--stack", default="redis", choices=tuple(BROKERS))
    parser.add_argument("--requests", type=int, default=400, help="requests of the web mix")
    parser.add_argument("--examples", type=int, default=10_000, help="training examples of the retraining")
    parser.add_argument("--seconds", type=float, default=300, help="longest web mix, and longest wait for the worker")
    parser.add_argument("--quick", action="store_true", help="100 requests, 2,000 examples")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.examples = 100, 2_000
    return args


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the finally blocks clean up, as on Ctrl-C
    texts, labels, authors = corpus(args.data)
    figures = measure(args, list(zip(texts, authors)), varied(texts, labels, authors, args.examples))
    _print(figures)
    record("memory", {"stack": args.stack, "examples": args.examples, **figures})


if __name__ == "__main__":
    main()
