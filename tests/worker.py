"""A real `celery -A workers worker` subprocess for the pipeline tests."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
from kombu import Connection

from moderation.queue import training_queue, webhooks_queue

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60


class Worker:
    """Starts the worker, collects everything it logs, and waits until it says it is ready."""

    def __init__(self, env, concurrency=1, beat=False, queues=("checks", "training"), name=None):
        """`beat=True` runs the scheduler inside the worker (`-B`), so the sweep runs on its schedule. `queues`: the
        checks' queue (MODERATION_QUEUE), the retraining's or the webhooks' (`moderation serve` gives each a worker
        of its own), or several, so that one worker does all a test needs. `name`: its node name (`name@host`), as on another machine."""
        self.output = []
        self._ready = threading.Event()
        full_env = {**os.environ, "MODERATION_ENV": "testing", **env}
        checks = full_env.get("MODERATION_QUEUE", "moderation")
        names = {"checks": checks, "training": training_queue({"MODERATION_QUEUE": checks}),
                 "webhooks": webhooks_queue({"MODERATION_QUEUE": checks})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers", "worker", "--loglevel", "INFO",
             "--concurrency", str(concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--queues", ",".join(names[queue] for queue in queues), *(["--beat"] if beat else []),
             *(["--hostname", f"{name}@%h"] if name else [])],
            cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group, so kill() takes the pool's processes too
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(READY_TIMEOUT):
            self.stop()
            raise RuntimeError("the Celery worker did not become ready:\n" + self.log)

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line)
            if " ready." in line:
                self._ready.set()

    def finished(self, task_name):
        """How many runs of the task the worker has logged as finished (succeeded or failed)."""
        return sum(f"Task {task_name}[" in line and (" succeeded in " in line or " raised " in line)
                   for line in list(self.output))

    def wait_until_finished(self, counts, timeout=60):
        """Wait until each named task has finished at least that many times, so the log holds all they wrote."""
        try:
            wait_for(lambda: all(self.finished(name) >= n for name, n in counts.items()), timeout=timeout)
        except AssertionError:
            raise AssertionError(f"the worker did not finish {counts}:\n{self.log}") from None

    @property
    def log(self):
        return "".join(self.output)

    def kill(self):
        """SIGKILL to the worker and its pool's processes at once, as when its machine dies: nothing is acknowledged
        or cleaned up."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group: a pool's process outliving its parent too
        except ProcessLookupError:
            pass
        self.proc.wait()

    def received(self, task_name):
        return sum(f"Task {task_name}[" in line and " received" in line for line in list(self.output))

    def stop(self, graceful=False):
        """Killed at once, which is all a test's end needs (its queue and tables go next); `graceful`: SIGTERM, a
        warm shutdown that lets the task running finish (a few seconds, up to 20)."""
        if self.proc.poll() is None and graceful:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self.proc.stdout.close()


def drop_queue(broker_url, queue):
    """Leave the broker as it was: the queue, its exchange and its bindings go (the embedded one is a temp file)."""
    if broker_url.startswith("redis://"):
        client = redis.Redis.from_url(broker_url)
        keys = list(client.scan_iter(f"*{queue}*"))
        if keys:
            client.delete(*keys)
        _forget_unacknowledged(client, queue)
    elif broker_url.startswith("amqp://"):
        with Connection(broker_url) as connection:
            for name in _queues(queue):
                connection.default_channel.queue_delete(name)
                connection.default_channel.exchange_delete(name)


def _queues(queue):
    """The checks' queue and those named after it: the retraining's and the webhooks'."""
    return queue, training_queue({"MODERATION_QUEUE": queue}), webhooks_queue({"MODERATION_QUEUE": queue})


def _forget_unacknowledged(client, queue):
    """A worker killed in the middle of a task leaves the message in Redis's `unacked` hash, shared by every queue
    of that database, where the next worker to start would put it back into its queue after an hour."""
    names = set(_queues(queue))
    for tag, raw in list(client.hscan_iter("unacked")):
        try:
            _, exchange, routing_key = json.loads(raw)
        except ValueError:
            continue
        if exchange in names or routing_key in names:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def wait_for(predicate, timeout=30, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"still waiting after {timeout}s")
