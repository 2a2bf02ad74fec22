"""The Celery entry point: `celery -A workers worker` (and `beat`) finds the app here.

The Flask app is built when Celery first asks for `workers.celery`, not when this
package is imported, so tests and tools can import the tasks without side effects.
"""

import os

_celery_app = None


def __getattr__(name):
    if name != "celery":
        raise AttributeError(name)
    global _celery_app
    if _celery_app is None:
        from config import ConfigError, private_folder
        from moderation import create_app

        from . import mails, tasks, webhooks  # noqa: F401 - registers the shared tasks

        try:
            flask_app = create_app()
        except ConfigError as error:
            raise SystemExit(f"Error: {error}") from None
        # The scheduler keeps its state there, readable by its owner only, as everything this process writes.
        os.umask(0o077)
        private_folder(flask_app.instance_path)
        _celery_app = flask_app.extensions["celery"]
        tasks.bind_worker_signals(flask_app)
    return _celery_app
