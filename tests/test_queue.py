"""The Celery wiring: every task the workers run has a soft and a hard time limit."""
from celery import current_app as celery_current

import workers.tasks  # noqa: F401 - registers the shared tasks


def test_every_task_has_a_soft_and_a_hard_time_limit(app):
    celery_app = app.extensions["celery"]
    ours = {name for name in celery_current.tasks if name.startswith("moderation.")}
    assert {"moderation.check_comment", "moderation.sweep_pending", "moderation.purge_expired"} <= ours
    limits = celery_app.conf.task_annotations
    for name in ours:
        soft, hard = limits[name]["soft_time_limit"], limits[name]["time_limit"]
        assert 0 < soft < hard, name
    assert limits["moderation.check_comment"]["soft_time_limit"] == app.config["MODERATION_CHECK_TIME_LIMIT"]
