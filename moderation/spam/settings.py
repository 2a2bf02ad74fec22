"""Moderation settings: defaults from config.py (or from here), overridden by what an administrator saved."""
import json
import time

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Setting
from ..privacy.crypto import keyring

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
    "auto_approve": "MODERATION_AUTO_APPROVE",
}
# Settings with no config.py variable: their defaults are these.
OWN_DEFAULTS = {
    "close_after_days": 0,  # 0: threads never close by age
    "thread_depth": 5,  # WordPress's default; 1 turns replies off
    "comments_per_page": 0,  # 0: a thread page shows every comment (the API then answers 50 at a time)
    "spam_retention_days": 15,  # 0: kept for ever
    "trash_retention_days": 30,  # 0: kept for ever
}
# Lists of personal data (emails, domains, addresses): sealed with the data key at rest, never logged.
SEALED = ("trusted_emails", "trusted_domains", "trusted_ips", "blocked_emails", "blocked_domains", "blocked_ips")
WORD_LISTS = ("hold_words", "blocked_words")
NAMES = (*DEFAULTS, *OWN_DEFAULTS, *SEALED)


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
    values.update(OWN_DEFAULTS)
    values.update(dict.fromkeys(SEALED, ()))
    for row in db.session.scalars(sa.select(Setting).where(Setting.key.in_(NAMES))):
        values[row.key] = _opened(row.key, row.value) if row.key in SEALED else row.value
    for name in (*WORD_LISTS, *SEALED):
        values[name] = tuple(values[name])
    return values


def save(changes):
    """Store the administrator's values (one commit); a value equal to its default is stored too, deliberately."""
    for name, value in changes.items():
        if name not in NAMES:
            raise KeyError(name)
        value = list(value) if isinstance(value, tuple) else value
        row = db.session.get(Setting, name) or Setting(key=name)
        row.value = _sealed(name, value) if name in SEALED else value
        db.session.add(row)
    db.session.commit()
    forget_cached()


def reseal():
    """Seal the stored lists again under the first data key (after a key rotation); returns how many were resealed."""
    rows = db.session.scalars(sa.select(Setting).where(Setting.key.in_(SEALED))).all()
    for row in rows:
        row.value = _sealed(row.key, _opened(row.key, row.value))
    db.session.commit()
    forget_cached()
    return len(rows)


def _purpose(name):
    return f"setting {name}"


def _sealed(name, entries):
    return keyring().encrypt(json.dumps(list(entries), separators=(",", ":")), _purpose(name))


def _opened(name, value):
    return json.loads(keyring().decrypt(value, _purpose(name)))


def forget_cached():
    """Read the settings afresh on the next check."""
    _cache.clear()
