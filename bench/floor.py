"""The floor of the service's own stack: what a post costs through Flask, Flask-WTF, Flask-SQLAlchemy and Celery
before any of the service's features, to tell the stack's cost from the service's.

The bare app (bench/bare.py) is the least any web process must do, without a framework. This app does the same work
(one form, one row, one task naming it, 303 to the comment) the way the service is built: a Flask app with a
session cookie, a Flask-WTF form with its CSRF token and length checks, the row through a Flask-SQLAlchemy model and
one commit, the task through Celery's `send_task` to the same broker (the embedded broker's transport is the
service's). It has none of the service's own work: no email validation or encryption, no rendering of the text, no
audit event, no flood gate, no saved details, no reader key. `bench/web.py --only floor` serves it with the same
gunicorn and workers as the service:

    FLOOR_DATABASE=sqlite:///path/floor.sqlite3 FLOOR_BROKER=sqla+sqlite:///path/broker.sqlite3 FLOOR_QUEUE=name \\
        gunicorn -w 4 --pythonpath bench 'floor:create_app()'

`prepare()` makes the table before the workers start; the queue is made by the first publish of each process, as
the service's is. SQLite is set up as the service sets it up (moderation/extensions.py registers its pragmas on
every SQLAlchemy engine, the broker's too).
"""
import os
import secrets
import time

from celery import Celery
from flask import Flask, redirect, render_template_string
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

import moderation.extensions  # noqa: F401  (its SQLite pragmas, on every engine: the same settings as the service)
from moderation import embedded_broker

# The answer names the new row's id: the commit need not read the row back (the service commits the same way).
db = SQLAlchemy(session_options={"expire_on_commit": False})
PAGE = """<form method="post">{{ form.csrf_token }}
<input name="opened" type="hidden" value="{{ opened }}">{{ form.author_name }}{{ form.author_email }}
{{ form.author_url }}{{ form.body }}{{ form.parent_id }}</form>"""


class Comment(db.Model):
    __tablename__ = "floor_comments"
    id = db.Column(db.Integer, primary_key=True)
    thread_key = db.Column(db.String(200), nullable=False)
    parent_id = db.Column(db.Integer)
    author_name = db.Column(db.String(100), nullable=False)
    author_email = db.Column(db.String(320), nullable=False)
    author_url = db.Column(db.String(2000))
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.Float, nullable=False)


class CommentForm(FlaskForm):
    author_name = StringField(validators=[DataRequired(), Length(max=100)])
    author_email = StringField(validators=[DataRequired(), Length(max=320)])
    author_url = StringField(validators=[Optional(), Length(max=2000)])
    body = TextAreaField(validators=[DataRequired(), Length(max=10_000)])
    parent_id = HiddenField()


def create_app():
    app = Flask(__name__)
    app.config.update(SECRET_KEY=os.environ.get("FLOOR_SECRET_KEY") or secrets.token_urlsafe(32),
                      SQLALCHEMY_DATABASE_URI=os.environ["FLOOR_DATABASE"], WTF_I18N_ENABLED=False)
    db.init_app(app)
    if os.environ["FLOOR_BROKER"].startswith("sqla+"):
        embedded_broker.register()
    celery = Celery("floor", broker=os.environ["FLOOR_BROKER"], set_as_current=False)
    celery.conf.update(task_default_queue=os.environ["FLOOR_QUEUE"], task_serializer="json", task_ignore_result=True)

    @app.get("/threads/<key>")
    def thread(key):
        return render_template_string(PAGE, form=CommentForm(), opened=int(time.time()))

    @app.post("/threads/<key>")
    def post(key):
        form = CommentForm()
        if not form.validate_on_submit():
            return render_template_string(PAGE, form=form, opened=int(time.time())), 422
        parent = form.parent_id.data
        comment = Comment(thread_key=key, parent_id=int(parent) if parent.isdigit() else None,
                          author_name=form.author_name.data, author_email=form.author_email.data,
                          author_url=form.author_url.data or None, body=form.body.data, created_at=time.time())
        db.session.add(comment)
        db.session.commit()
        celery.send_task("floor.check", args=(comment.id,))
        return redirect(f"/threads/{key}#comment-{comment.id}", code=303)

    return app


def prepare():
    """The table, once, before the workers start."""
    app = create_app()
    with app.app_context():
        db.create_all()
        db.engine.dispose()
