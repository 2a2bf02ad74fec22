"""The spam checks' settings: defaults from config.py, overridden by what an administrator saved."""
import time

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Setting

READ_AGAIN_SECONDS = 2.0
_cache = {}

# setting name -> config.py default it falls back to
DEFAULTS = {
    "link_limit": "MODERATION_LINK_LIMIT",
    "hold_words": "MODERATION_HOLD_WORDS",
    "blocked_words": "MODERATION_BLOCKED_WORDS",
    "spam_threshold": "MODERATION_SPAM_THRESHOLD",
    "clean_threshold": "MODERATION_CLEAN_THRESHOLD",
    "min_form_seconds": "MODERATION_MIN_FORM_SECONDS",
}


def current():
    """Every setting's value in force now, as a dict keyed by setting name.

    Read from the database at most every READ_AGAIN_SECONDS per process: a change made in the
    web app reaches every worker within that time, and this process at once.
    """
    key = (id(current_app._get_current_object()), str(db.engine.url))
    cached = _cache.get(key)
    if cached and time.monotonic() - cached[0] < READ_AGAIN_SECONDS:
        return cached[1]
    values = _read()
    _cache.clear()
    _cache[key] = (time.monotonic(), values)
    return values


def _read():
    values = {name: current_app.config[key] for name, key in DEFAULTS.items()}
    values.update({row.key: row.value for row in db.session.scalars(sa.select(Setting)) if row.key in DEFAULTS})
    values["hold_words"] = tuple(values["hold_words"])
    values["blocked_words"] = tuple(values["blocked_words"])
    return values


def save(changes):
    """Store the administrator's values (one commit); a value equal to its default is stored too, deliberately."""
    for name, value in changes.items():
        if name not in DEFAULTS:
            raise KeyError(name)
        row = db.session.get(Setting, name) or Setting(key=name)
        row.value = list(value) if isinstance(value, tuple) else value
        db.session.add(row)
    db.session.commit()
    forget_cached()


def forget_cached():
    """Read the settings afresh on the next check."""
    _cache.clear()
