"""Where the spam model lives: versions in the database, the shipped seed model, and training from examples."""
import logging
import time
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from celery.exceptions import SoftTimeLimitExceeded
from flask import current_app

from ..extensions import db
from ..models import SpamModelVersion, TrainingExample
from .model import SpamModel, train

SEED_MODEL = Path(__file__).resolve().parent / "seed_model.npz"
LOOK_AGAIN_SECONDS = 2.0
log = logging.getLogger(__name__)
_loaded = {}
# A model that could not be loaded is tried again after this, in case what failed was passing (a file that could
# not be opened just then); a damaged version fails again, once a minute at most.
RETRY_UNAVAILABLE_SECONDS = 60.0


class ModelUnavailable(Exception):
    """The model to score with cannot be loaded: its stored version is damaged, or the seed model's file is gone."""


class _Failed:
    """A load that failed, as kept between checks: its message and when, not the exception and its traceback
    (which would keep a check's comment, personal fields and all, alive as long as the failure is kept)."""

    def __init__(self, error):
        self.message, self.at = str(error), time.monotonic()


@lru_cache(maxsize=1)
def _seed_model():
    return SpamModel.from_bytes(SEED_MODEL.read_bytes(), {"version": "seed", "source": "seed"})


def seed_model():
    """Trained on the YouTube Spam Collection (Alberto, Lochter and Almeida 2015, CC BY 4.0)."""
    try:
        return _seed_model()
    except SoftTimeLimitExceeded:
        raise  # the check's time is up: not the model's fault
    except Exception as error:  # a file gone or damaged fails in numpy's, zipfile's or zlib's own ways
        log.error("the seed spam model %s cannot be loaded: %s", SEED_MODEL, error)
        raise ModelUnavailable(f"the seed model cannot be loaded ({_kind(error)})") from error


def _kind(error):
    """ValueError, zipfile.BadZipFile, zlib.error: the error's name, with its module unless it is a built-in."""
    kind = type(error)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def current_model():
    """The newest version in the database, loaded once per process; the seed model until one exists.

    Whether a newer version exists is asked at most every LOOK_AGAIN_SECONDS, so a worker picks up a
    version trained elsewhere within that time; one this process trained is used at once.

    Raises ModelUnavailable when that model cannot be loaded; the failure is kept RETRY_UNAVAILABLE_SECONDS, so a
    damaged version is not read again for every check.
    """
    url = str(db.engine.url)
    if url not in _loaded or time.monotonic() - _loaded[url][0] >= LOOK_AGAIN_SECONDS:
        newest = db.session.execute(
            sa.select(SpamModelVersion.id, SpamModelVersion.created_at).order_by(SpamModelVersion.id.desc()).limit(1)
        ).first()
        key = tuple(newest) if newest else None
        kept = _loaded[url][1] if url in _loaded and _loaded[url][2] == key else None
        if kept is not None and not (isinstance(kept, _Failed)
                                     and time.monotonic() - kept.at >= RETRY_UNAVAILABLE_SECONDS):
            model = kept
        else:
            try:
                model = _load(newest.id) if newest else seed_model()
            except ModelUnavailable as error:
                model = _Failed(error)
        _loaded[url] = (time.monotonic(), model, key)
    model = _loaded[url][1]
    if isinstance(model, _Failed):
        raise ModelUnavailable(model.message)
    return model


def _load(version_id):
    row = db.session.get(SpamModelVersion, version_id)
    try:
        model = SpamModel.from_bytes(row.data or b"", {"version": version_id, "source": row.source})
    except SoftTimeLimitExceeded:
        raise
    except Exception as error:  # damaged: numpy's, zipfile's, zlib's or the format's own error
        log.error("spam model version %r cannot be loaded: %s", version_id, error)
        raise ModelUnavailable(f"version {version_id} cannot be loaded ({_kind(error)})") from error
    log.info("spam model version %r loaded", version_id)
    return model


def forget_loaded_model():
    """Look for the newest version on the next check (this process just trained one, or emptied the table)."""
    _loaded.clear()


def example_rows():
    return db.session.execute(
        sa.select(TrainingExample.id, TrainingExample.text, TrainingExample.author, TrainingExample.is_spam, TrainingExample.weight)
        .order_by(TrainingExample.id)
    ).all()


def enough_examples(rows):
    spam = sum(1 for r in rows if r.is_spam)
    least = current_app.config["MODERATION_MIN_TRAINING_EXAMPLES"]
    return len(rows) >= least and min(spam, len(rows) - spam) >= max(least // 10, 1)


def train_from_examples(source, force=False):
    """Fit a new version on every stored example and add it (flushed, not committed); None if too few.

    `force` trains on any number of examples as long as both classes are there (an operator asked).
    """
    rows = example_rows()
    if not (enough_examples(rows) or (force and len({r.is_spam for r in rows}) == 2)):
        return None
    model = train([r.text for r in rows], [int(r.is_spam) for r in rows], [r.author for r in rows], [r.weight for r in rows])
    version = SpamModelVersion(source=source, examples=len(rows), spam_examples=sum(r.is_spam for r in rows),
                               last_example_id=rows[-1].id, data=model.to_bytes())
    db.session.add(version)
    db.session.flush()
    forget_loaded_model()
    return version


def retrain_due():
    """New or removed examples since the newest version was trained."""
    latest = db.session.scalars(sa.select(SpamModelVersion).order_by(SpamModelVersion.id.desc()).limit(1)).first()
    count, last = db.session.execute(sa.select(sa.func.count(), sa.func.max(TrainingExample.id))).one()
    if latest is None:
        return count > 0
    return (last or 0) > latest.last_example_id or count != latest.examples
