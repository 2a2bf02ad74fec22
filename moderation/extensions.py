"""The Flask extensions, created unbound and bound to the app in the factory."""
import os
import stat

from flask import request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from .privacy.addresses import same_address_key
from .privacy.crypto import keyring

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
login_manager = LoginManager()


def _client_address():
    """Rate limits count an IPv6 /64 as one client, as the flood check does, and `::ffff:a.b.c.d` as a.b.c.d.

    The counter is named by a keyed hash, so the shared store (Redis) holds no reader's address.
    """
    return keyring().index(same_address_key(request.remote_addr), "rate limit")


limiter = Limiter(key_func=_client_address)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """Let the web process and the worker share one SQLite file without 'database is locked'."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    _owner_only(cursor)
    # Deleted and overwritten content is zeroed, so that an erased person leaves nothing in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last commits, not the database.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _owner_only(cursor):
    """The database file holds personal data: readable by its owner only (SQLite gives its WAL the same mode)."""
    for _, name, path in cursor.execute("PRAGMA database_list").fetchall():
        if path and os.path.exists(path) and stat.S_IMODE(os.stat(path).st_mode) != 0o600:
            os.chmod(path, 0o600)


def conflict_insert(model):
    """An INSERT of `model` that can say what to do ON CONFLICT, in the session's database's own dialect."""
    return (postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert)(model)
