"""The spam checks' settings: defaults from config.py, overridden by what an administrator saved."""
import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Setting

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
    """Every setting's value in force now, as a dict keyed by setting name."""
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
