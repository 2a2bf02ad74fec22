"""Leases: work one process at a time may do across every machine sharing the database (a retraining).

A lease is one row, claimed by a single INSERT ... ON CONFLICT DO UPDATE ... WHERE the current lease ran out, so of
several processes asking at once exactly one gets it, on PostgreSQL and on SQLite alike. It is held for a bounded
time: a holder that dies (a hard time limit, a machine lost) frees it by itself when that time is up.
"""
import secrets
from contextlib import contextmanager
from datetime import timedelta


from .extensions import conflict_insert, db
from .models import Lease, utcnow


class Busy(Exception):
    """Another process holds the lease."""


def take(name, seconds):
    """Claim the lease `name` for `seconds` and commit; the holder's token, or None if another holds it."""
    token, now = secrets.token_hex(16), utcnow()
    held_until = now + timedelta(seconds=seconds)
    claim = conflict_insert(Lease).values(name=name, holder=token, held_until=held_until).on_conflict_do_update(
        index_elements=[Lease.name], set_={"holder": token, "held_until": held_until}, where=Lease.held_until <= now,
    ).returning(Lease.holder)
    won = db.session.execute(claim).first()
    db.session.commit()
    return token if won is not None else None


def give_back(name, token):
    """End the lease at once, if this token still holds it; commits."""
    db.session.query(Lease).filter(Lease.name == name, Lease.holder == token).update(
        {"held_until": utcnow()}, synchronize_session=False)
    db.session.commit()


@contextmanager
def held(name, seconds):
    """`with held("retrain", 600):` runs the block holding the lease, or raises Busy without running it."""
    token = take(name, seconds)
    if token is None:
        raise Busy(name)
    try:
        yield token
    finally:
        db.session.rollback()  # whatever the block left half-done must not be committed with the release
        give_back(name, token)
