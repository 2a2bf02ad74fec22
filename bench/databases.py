"""A scratch database for one benchmark run: a SQLite file in its folder, or a PostgreSQL database of its own."""
import uuid

import sqlalchemy as sa

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def scratch_database(kind, folder):
    """The database URL and a function that removes it; `kind` "sqlite" is a file, anything else PostgreSQL."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.sqlite3'}", lambda: None
    name = f"moderation_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return POSTGRES + name, drop
