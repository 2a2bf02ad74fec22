"""GET /healthz: whether the database and the broker answer."""
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .extensions import db

bp = Blueprint("health", __name__)


def _database_ok():
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable", reported below
        current_app.logger.exception("health check: database unreachable")
        return False


def _broker_ok():
    celery_app = current_app.extensions["celery"]
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
        return True
    except Exception:  # noqa: BLE001
        current_app.logger.warning("health check: broker unreachable")
        return False


@bp.get("/healthz")
def healthz():
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    body = {name: "ok" if ok else "unreachable" for name, ok in checks.items()}
    body["status"] = "ok" if all(checks.values()) else "degraded"
    return jsonify(body), 200 if all(checks.values()) else 503
