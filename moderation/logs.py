"""Log lines as JSON, one object per line, for a log collector: MODERATION_LOG_FORMAT=json.

Each line has the time, the level, the logger and the message, and the comment's id, the task and its id where
the line is about one, as fields of their own, so that a collector can find every line about a comment. The
messages name comments by id only: no line carries an address, a name or a comment's text.
"""
import json
import logging
import sys
from datetime import datetime, timezone

# Fields a log call may pass in `extra`, kept as they are.
FIELDS = ("comment_id", "state", "checker")


class JsonLines(logging.Formatter):
    def format(self, record):
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        entry.update({field: getattr(record, field) for field in FIELDS if hasattr(record, field)})
        task = _current_task()
        if task is not None:
            entry.update(task=task.name, task_id=task.request.id)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _current_task():
    celery = sys.modules.get("celery._state")
    task = celery.get_current_task() if celery else None
    return task if task is not None and task.request.id else None


def use_json_lines(handlers=None):
    """JSON on `handlers` (Celery's, as it sets them up), or on the root logger's one handler to stderr."""
    if handlers is None:
        root = logging.getLogger()
        if not any(isinstance(handler.formatter, JsonLines) for handler in root.handlers):
            handler = logging.StreamHandler()
            root.handlers = [handler]
            root.setLevel(min(root.level or logging.INFO, logging.INFO))
        handlers = root.handlers
    for handler in handlers:
        handler.setFormatter(JsonLines())
