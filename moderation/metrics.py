"""GET /metrics in Prometheus's text format: what happened, counted in every process, and what is, read at the scrape.

Two kinds of figures:
- Events, counted where they happen (prometheus-client): comments posted (web), verdicts by state and by the
  checker that decided them, the check's duration, retrainings' duration (workers). Under several processes, each
  writes its counts to files in PROMETHEUS_MULTIPROC_DIR and a scrape adds them up: `moderation serve` and
  `moderation web` set it (the instance folder's `metrics/`, without the files of processes gone) for every
  process they start.
  Without it, a scrape sees the counts of the one process that answered.
- State, read from the database at each scrape, the same whichever process or machine answers: comments by state,
  the checks waiting and the age of the oldest, decision follow-ups not yet sent, the model in use.

Nothing here carries personal data: labels are states, checkers and sources, never an address, a name or a text.
With MODERATION_METRICS_TOKEN set, a scrape must send it as `Authorization: Bearer TOKEN`.
"""
import hmac
import logging
import os
import time
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from flask import Blueprint, Response, current_app, request

# prometheus_client is imported where it is used, not here: it chooses between counting in this process and in
# files as it is imported, so it must first be imported after PROMETHEUS_MULTIPROC_DIR is set (prepare_folder) and
# in the process that counts, after gunicorn's or Celery's fork.
from .extensions import db
from .models import Comment, Followup, SpamModelVersion, utcnow

bp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)
# PostgreSQL: a scrape's queries give up after this, so a database in trouble does not hold a web thread for long.
SCRAPE_STATEMENT_MS = 5000
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"
CHECK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
RETRAIN_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


@lru_cache(maxsize=1)
def events():
    """The event metrics, made in the process that first counts one: after gunicorn's or Celery's fork, and after
    PROMETHEUS_MULTIPROC_DIR is set, so each process writes files of its own."""
    from prometheus_client import Counter, Histogram

    return {
        "posted": Counter("moderation_comments_posted", "Comments readers posted, by the way they came in.", ["via"],
                          registry=None),
        "verdicts": Counter("moderation_verdicts", "Verdicts the spam check gave, by the state it gave and the "
                            "checker that decided it.", ["state", "checker"], registry=None),
        "check": Histogram("moderation_check_duration_seconds", "How long one spam check took in the worker.",
                           buckets=CHECK_BUCKETS, registry=None),
        "retrain": Histogram("moderation_retrain_duration_seconds", "How long a retraining of the spam model took.",
                             buckets=RETRAIN_BUCKETS, registry=None),
    }


def _count(what):
    """Counting never fails what is being counted: a post committed, a verdict saved. A folder that cannot be
    written (missing, full, not ours) costs the count and one warning per process, nothing else."""
    try:
        what(events())
    except Exception as error:  # noqa: BLE001 - see above
        if not _warned:
            _warned.append(error)
            log.warning("metrics: an event could not be counted (%s: %s); %s=%r", type(error).__name__, error,
                        MULTIPROCESS, os.environ.get(MULTIPROCESS))


_warned = []


def posted(via):
    _count(lambda metrics: metrics["posted"].labels(via=via).inc())


def verdict(state, checker):
    _count(lambda metrics: metrics["verdicts"].labels(state=state, checker=checker).inc())


def check_took(seconds):
    _count(lambda metrics: metrics["check"].observe(seconds))


def retrain_took(seconds):
    _count(lambda metrics: metrics["retrain"].observe(seconds))


class DatabaseState:
    """What is true now, read from the database at the scrape."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        try:
            figures = list(self._read(GaugeMetricFamily))
        except SQLAlchemyError:
            # The events are still worth a scrape; the state says the database did not answer.
            db.session.rollback()
            current_app.logger.warning("metrics: the database did not answer")
            figures = []
        yield GaugeMetricFamily("moderation_database_up", "Whether the database answered this scrape (1) or not (0).",
                                value=1 if figures else 0)
        yield from figures

    def _read(self, GaugeMetricFamily):  # noqa: N803 - the class, imported late
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text(f"SET LOCAL statement_timeout = {SCRAPE_STATEMENT_MS}"))
        now = utcnow()
        by_state = GaugeMetricFamily("moderation_comments", "Comments by state.", labels=["state"])
        for state, count in db.session.execute(sa.select(Comment.state, sa.func.count()).group_by(Comment.state)):
            by_state.add_metric([state], count)
        yield by_state
        count, oldest = db.session.execute(sa.select(
            sa.func.count(), sa.func.min(sa.func.coalesce(Comment.check_sent_at, Comment.created_at)))
            .where(Comment.state == "pending")).one()
        yield GaugeMetricFamily("moderation_pending_checks", "Comments waiting for their spam check.", value=count)
        yield GaugeMetricFamily("moderation_oldest_pending_seconds", "Age of the oldest check waiting (0: none).",
                                value=max((now - oldest).total_seconds(), 0) if oldest else 0)
        yield GaugeMetricFamily("moderation_followups_waiting", "Decision follow-ups (retraining, Akismet reports) "
                                "not yet taken by the broker.",
                                value=db.session.scalar(sa.select(sa.func.count()).select_from(Followup)))
        newest = db.session.execute(sa.select(SpamModelVersion.id, SpamModelVersion.source)
                                    .order_by(SpamModelVersion.id.desc()).limit(1)).first()
        model = GaugeMetricFamily("moderation_model_version", "The spam model version in use (0: the seed model).",
                                  labels=["source"])
        model.add_metric([newest.source if newest else "seed"], newest.id if newest else 0)
        yield model


def registry():
    """The events of every process (or of this one), and the database's state."""
    from prometheus_client import CollectorRegistry, multiprocess

    scraped = CollectorRegistry()
    if os.environ.get(MULTIPROCESS):
        multiprocess.MultiProcessCollector(scraped)
    else:
        for metric in events().values():
            scraped.register(metric)
    scraped.register(DatabaseState())
    return scraped


@bp.get("/metrics")
def metrics():
    token = current_app.config.get("MODERATION_METRICS_TOKEN")
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
            return Response("A scrape of /metrics needs its token: Authorization: Bearer TOKEN.\n", status=401,
                            content_type="text/plain; charset=utf-8", headers={"WWW-Authenticate": "Bearer"})
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    started = time.perf_counter()
    body = generate_latest(registry())
    body += (f"# HELP moderation_scrape_duration_seconds How long this scrape took.\n"
             f"# TYPE moderation_scrape_duration_seconds gauge\n"
             f"moderation_scrape_duration_seconds {time.perf_counter() - started:.6f}\n").encode()
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def serve_worker_events(instance_path, port, host):
    """A worker machine's own scrape address (MODERATION_WORKER_METRICS_PORT): the events its pool's processes
    counted. Called in the worker's main process before its pool starts; the database's state is the web's."""
    folder = os.environ.setdefault(MULTIPROCESS, os.path.join(instance_path, f"metrics-worker-{port}"))
    os.makedirs(folder, exist_ok=True)
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    scraped = CollectorRegistry()
    multiprocess.MultiProcessCollector(scraped)
    try:
        start_http_server(port, addr=host, registry=scraped)
    except OSError as error:
        # Celery would only log a signal's failure and go on: say what it means. The pool still counts in the
        # folder, which the next start on this port tidies.
        log.error("metrics: cannot serve this worker's events on %s:%s (%s); its checks go on unscraped", host, port,
                  error)
        return
    _forget_the_dead(folder)


def _forget_the_dead(folder):
    """Remove the files of processes that are gone (a restart's predecessors); those of live ones stay, whoever
    started them (another `moderation web` on the same instance folder, a worker beside it)."""
    for name in os.listdir(folder):
        stem, _, pid = name.removesuffix(".db").rpartition("_")
        if name.endswith(".db") and stem and pid.isdigit() and not _alive(int(pid)):
            try:
                os.remove(os.path.join(folder, name))
            except FileNotFoundError:
                pass  # another process starting removed it first


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def prepare_folder(instance_path):
    """For `moderation serve` and `moderation web`: PROMETHEUS_MULTIPROC_DIR, unless already set, is the instance
    folder's `metrics/`. The files of processes that are gone go (their counts with them, as a restart resets a
    counter); those of processes still running stay."""
    folder = os.environ.setdefault(MULTIPROCESS, os.path.join(instance_path, "metrics"))
    os.makedirs(folder, exist_ok=True)
    _forget_the_dead(folder)
    return folder
