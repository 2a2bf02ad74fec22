"""GET /metrics: Prometheus's text format, events counted as they happen, the database's state read at the scrape.
Across processes (gunicorn's and Celery's under `moderation serve`): tests/test_production.py."""
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from moderation.extensions import db
from moderation.models import SpamModelVersion, utcnow
from moderation.spam import services
from tests import factories


def scrape(client, **headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return response.get_data(as_text=True)


def samples(text):
    """{(sample name, frozenset of its labels): value}."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(text, name, **labels):
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def test_a_comment_posted_through_the_form_is_counted_and_no_personal_data_is_in_the_metrics(app, thread, post_form,
                                                                                             client):
    before = scrape(client)
    response = post_form(thread.key, author_name="Quentin Metricsworth", author_email="quentin-metrics@example.org",
                         body="A very particular sentence about metrics.")
    assert response.status_code == 303
    after = scrape(client)
    assert value(after, "moderation_comments_posted_total", via="form") == \
        value(before, "moderation_comments_posted_total", via="form") + 1
    assert value(after, "moderation_comments", state="pending") == 1
    assert value(after, "moderation_pending_checks") == 1
    for personal in ("Quentin", "quentin-metrics", "particular sentence", "127.0.0.1"):
        assert personal not in after


def test_the_database_state_is_read_at_the_scrape(app, thread, client):
    old = factories.make_comment(thread, "pending")
    old.created_at = utcnow() - timedelta(minutes=10)
    factories.make_comment(thread, "held")
    factories.make_comment(thread, "held")
    db.session.commit()
    text = scrape(client)
    assert value(text, "moderation_comments", state="held") == 2
    assert value(text, "moderation_comments", state="pending") == 1
    assert 590 < value(text, "moderation_oldest_pending_seconds") < 900
    assert value(text, "moderation_model_version", source="seed") == 0
    db.session.add(SpamModelVersion(source="decisions", examples=10, spam_examples=5, last_example_id=0, data=b""))
    db.session.commit()
    newest = db.session.scalar(db.select(SpamModelVersion.id).order_by(SpamModelVersion.id.desc()))
    assert value(scrape(client), "moderation_model_version", source="decisions") == newest


@pytest.mark.parametrize("body, state, checker", [
    ("Buy cheap viagra now", "spam", "rules"),
    ("Thanks, the second chart finally made the point clear to me.", "held", "policy"),
])
def test_a_verdict_is_counted_by_state_and_by_the_checker_that_gave_it(make_app, body, state, checker):
    # Thresholds no score of a plain comment reaches, whichever model an earlier test left loaded.
    app = make_app(MODERATION_BLOCKED_WORDS=("viagra",), MODERATION_CLEAN_THRESHOLD=0.98, MODERATION_SPAM_THRESHOLD=0.99)
    client = app.test_client()
    with app.app_context():
        comment = factories.make_comment(factories.make_thread(), "pending", body=body)
        before = value(scrape(client), "moderation_verdicts_total", state=state, checker=checker)
        checks_before = value(scrape(client), "moderation_check_duration_seconds_count")
        assert services.check_comment(comment.id) == state
        after = scrape(client)
    assert value(after, "moderation_verdicts_total", state=state, checker=checker) == before + 1
    assert value(after, "moderation_check_duration_seconds_count") == checks_before, \
        "the duration is the task's, counted in the worker"


def test_with_a_token_set_a_scrape_must_send_it(make_app):
    app = make_app(MODERATION_METRICS_TOKEN="scrape-secret-123")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert "moderation_comments" in scrape(client, Authorization="Bearer scrape-secret-123")


@pytest.mark.pipeline
def test_a_worker_on_a_machine_of_its_own_serves_the_events_its_processes_counted(request, tmp_path):
    """MODERATION_WORKER_METRICS_PORT: the checks its pool ran, scraped from the worker itself."""
    import httpx

    from tests.outages import free_port
    from tests.test_pipeline import _post, _start
    from tests.worker import wait_for

    port = free_port()
    app, worker = _start(request, tmp_path, "sqlite+sqlite-broker", MODERATION_WORKER_METRICS_PORT=port,
                         MODERATION_INSTANCE_PATH=str(tmp_path / "instance"))
    with app.app_context():
        factories.make_thread("apart", "Apart article")
    for n in range(3):
        _post(app.test_client(), "apart", body=f"Comment {n} for the worker apart.")
    worker.wait_until_finished({"moderation.check_comment": 3})
    text = wait_for(lambda: (lambda text: text if value(text, "moderation_check_duration_seconds_count") == 3 else None)(
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text), timeout=10)
    assert (tmp_path / "instance" / f"metrics-worker-{port}").is_dir()
    assert sum(count for (name, _), count in samples(text).items() if name == "moderation_verdicts_total") == 3


def test_with_the_database_down_a_scrape_still_has_the_events_and_says_so(make_app):
    from moderation import create_app
    from tests.conftest import app_config
    from tests.test_health import DOWN

    app = make_app()
    down = create_app(app_config(DOWN, SECRET_KEY=app.config["SECRET_KEY"]))
    text = scrape(down.test_client())
    assert value(text, "moderation_database_up") == 0
    assert "moderation_check_duration_seconds_count" in text and "moderation_comments{" not in text
    assert value(scrape(app.test_client()), "moderation_database_up") == 1
    with down.app_context():
        db.engine.dispose()


@pytest.mark.pipeline
def test_a_worker_logging_json_gives_each_line_about_a_comment_its_id_and_no_personal_data(request, tmp_path):
    import json

    from tests.test_pipeline import _post, _start

    app, worker = _start(request, tmp_path, "sqlite+sqlite-broker", MODERATION_LOG_FORMAT="json")
    with app.app_context():
        factories.make_thread("logged", "Logged article")
    comment_id = _post(app.test_client(), "logged", author_name="Ottoline Loggerhead",
                       body="A sentence that must stay out of the logs.")
    worker.wait_until_finished({"moderation.check_comment": 1})
    lines = [json.loads(line) for line in worker.output if line.startswith("{")]
    # Celery's banner is printed, not logged; every log line is JSON, none in Celery's "[2026-...: INFO/..." form.
    assert lines and not [line for line in worker.output if line.startswith("[20")], worker.log[-3000:]
    checked = [line for line in lines if line.get("comment_id") == comment_id and line["logger"].endswith("services")]
    assert len(checked) == 1, lines
    assert checked[0]["state"] in ("held", "spam", "approved") and checked[0]["task"] == "moderation.check_comment"
    assert checked[0]["task_id"] and checked[0]["level"] == "INFO" and checked[0]["time"].endswith("+00:00")
    assert "Ottoline" not in worker.log and "stay out of the logs" not in worker.log


def test_a_count_that_cannot_be_written_never_fails_the_post(app, thread, post_form, monkeypatch):
    """A metrics folder missing or full: the comment is posted all the same, and the operator is told once."""
    from moderation import metrics

    def unwritable():
        raise FileNotFoundError("/var/lib/moderation/metrics/counter_1234.db")

    monkeypatch.setattr(metrics, "events", unwritable)
    monkeypatch.setattr(metrics, "_warned", [])
    assert post_form(thread.key, body="Posted while the metrics folder was gone.").status_code == 303
    assert post_form(thread.key, body="And another one.").status_code == 303
    assert len(metrics._warned) == 1


def test_a_start_removes_the_counts_of_processes_gone_and_keeps_those_of_live_ones(tmp_path, monkeypatch):
    import os
    import subprocess

    from moderation import metrics

    gone = subprocess.Popen(["true"])
    gone.wait()
    folder = tmp_path / "metrics"
    folder.mkdir()
    for name in (f"counter_{gone.pid}.db", f"histogram_{gone.pid}.db", f"gauge_livesum_{gone.pid}.db",
                 f"counter_{os.getpid()}.db", "README.txt"):
        (folder / name).write_bytes(b"")
    monkeypatch.setenv(metrics.MULTIPROCESS, str(folder))
    assert metrics.prepare_folder(str(tmp_path)) == str(folder)
    assert sorted(path.name for path in folder.iterdir()) == ["README.txt", f"counter_{os.getpid()}.db"]


def test_the_token_is_asked_for_by_name_and_its_scheme_in_any_case(make_app):
    app = make_app(MODERATION_METRICS_TOKEN="scrape-secret-123")
    client = app.test_client()
    refused = client.get("/metrics")
    assert refused.headers["WWW-Authenticate"] == "Bearer" and "Authorization: Bearer" in refused.get_data(as_text=True)
    assert client.get("/metrics", headers={"Authorization": "bearer scrape-secret-123"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Basic scrape-secret-123"}).status_code == 401
