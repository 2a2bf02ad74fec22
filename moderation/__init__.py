"""The comment moderation service: the Flask application factory."""
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings

from . import errors, i18n, ids, logs, security, text
from .extensions import db, limiter, login_manager, migrate
from .privacy import crypto
from .privacy import views as privacy_views
from .queue import celery_init_app
from .sessions import SessionInterface

PACKAGE_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"


def templates_dir():
    """The repository's templates/ in a checkout; the copy inside the package in a wheel."""
    in_checkout = PACKAGE_DIR.parent / "templates"
    return in_checkout if in_checkout.is_dir() else PACKAGE_DIR / "templates"


def create_app(config=None):
    """Wire configuration, extensions, blueprints, error handlers, CLI and Celery."""
    app = Flask(__name__, template_folder=str(templates_dir()), instance_path=settings.instance_path())
    app.config.from_mapping(settings.load(instance_path=app.instance_path))
    app.config.from_mapping(config or {})
    if app.config["MODERATION_LOG_FORMAT"] == "json":
        logs.use_json_lines()
    app.session_interface = SessionInterface()
    if app.config["MODERATION_PROXY_HOPS"]:
        hops = app.config["MODERATION_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    crypto.init_app(app)
    i18n.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    login_manager.init_app(app)
    limiter.init_app(app)
    celery_init_app(app)
    app.url_map.converters["id"] = ids.IdConverter
    register_blueprints(app)
    errors.register(app)
    security.register(app)
    text.register(app)
    privacy_views.register(app)
    return app


def register_blueprints(app):
    from .api.spec import spec
    from .api.views import bp as api_bp
    from .comments.views import bp as comments_bp
    from .discussion.views import bp as discussion_bp
    from .feeds.views import bp as feeds_bp
    from .health import bp as health_bp
    from .isso.views import bp as isso_bp
    from .metrics import bp as metrics_bp
    from .notify.views import bp as notify_bp
    from .privacy.views import bp as avatars_bp
    from .review.views import bp as review_bp
    from .subscriptions.views import bp as subscriptions_bp
    from .team.views import bp as team_bp
    from .webhooks.views import bp as webhooks_bp
    from .widget import bp as widget_bp

    app.register_blueprint(comments_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(avatars_bp)
    app.register_blueprint(widget_bp)
    app.register_blueprint(team_bp)
    app.register_blueprint(notify_bp)
    app.register_blueprint(discussion_bp)
    app.register_blueprint(feeds_bp)
    app.register_blueprint(isso_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(subscriptions_bp)
    spec.register(app)
