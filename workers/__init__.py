"""The Celery entry point: `celery -A workers worker` (and `beat`) finds the app here.

The Flask app is built when Celery first asks for `workers.celery`, not when this
package is imported, so tests and tools can import the tasks without side effects.
"""

_celery_app = None


def __getattr__(name):
    if name != "celery":
        raise AttributeError(name)
    global _celery_app
    if _celery_app is None:
        from config import private_folder
        from moderation import create_app

        from . import tasks  # noqa: F401 - registers the shared tasks

        flask_app = create_app()
        # The scheduler keeps its state there; a production start has had no reason to create it yet.
        private_folder(flask_app.instance_path)
        _celery_app = flask_app.extensions["celery"]
        tasks.bind_worker_signals(flask_app)
    return _celery_app
