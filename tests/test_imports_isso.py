"""`moderation import isso`: an Isso database made in the test from tests/fixtures/imports/isso.sql (Isso 0.14's own
schema and rows as its API writes them: replies two levels deep, a deleted comment kept for its reply, pending,
an unknown mode and date, a stray comment, paths with slashes and percent-escapes, odd characters)."""
import hashlib
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from moderation.cli import cli
from moderation.extensions import db
from moderation.imports import isso
from moderation.isso.uris import key_for
from moderation.models import AuditEvent, Comment, Imported, Thread, TrainingExample
from moderation.privacy.addresses import truncated_ip

SCHEMA_AND_ROWS = Path(__file__).parent / "fixtures" / "imports" / "isso.sql"
TOMATOES, ABOUT = "/2026/04/tomatoes-in-a-cold-spring/", "/about/"


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "comments.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(SCHEMA_AND_ROWS.read_text())
    connection.close()
    return path


def run_import(app, path, *options):
    return app.test_cli_runner().invoke(cli, ["import", "isso", str(path), *options])


def _by_author(name):
    return db.session.scalar(sa.select(Comment).where(Comment.author_name == name))


def _count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_an_isso_database_brings_its_threads_and_comments_with_what_each_kept(app, database):
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    result = run_import(app, database)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Imported from Isso: 9 comments (6 approved, 2 held, 1 trash)" in lines
    assert "Threads created: 4" in lines
    assert "Skipped: 1 comments whose thread is not in the database" in lines
    assert "Failed: comment 8 of '/about/': no date that can be read ('yesterday')" in lines
    assert "Note: 1 comments in the unknown mode '3', held for a person" in lines
    assert ("Note: 4 threads keyed by their path percent-encoded, as Isso's client asks the Isso-compatible "
            "endpoints for them (/blog/hello-world/ is %2Fblog%2Fhello-world%2F)") in lines
    assert "Note: 1 deleted comments whose text was not kept, in the trash with none" in lines
    assert "Traceback" not in result.output
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before, "Isso's database is never changed"
    assert sorted(p.name for p in database.parent.iterdir()) == ["comments.db"], "not even a journal"

    with app.app_context():
        assert sorted(db.session.scalars(sa.select(Thread.key))) == sorted(
            key_for(uri) for uri in (TOMATOES, ABOUT, "/", "/caf%C3%A9-cr%C3%A8me/"))
        assert key_for(TOMATOES) == "%2F2026%2F04%2Ftomatoes-in-a-cold-spring%2F"
        post = db.session.scalar(sa.select(Thread).where(Thread.key == key_for(TOMATOES)))
        assert (post.title, post.url, post.comments_open) == ("Tomatoes in a cold spring", None, True)
        assert post.created_at == datetime(2026, 4, 11, 9, 15, tzinfo=timezone.utc), "dated by its first comment"
        ada, gardener, bjorn = _by_author("Ada Greenfinger"), _by_author("The Gardener"), _by_author("Björn Ødegård 🌱")
        assert (ada.thread_id, ada.state, ada.parent_id, ada.notify_replies) == (post.id, "approved", None, True)
        assert ada.body == ("Mine went in a week ago.\nThe **San Marzano** sulk & the cherries don't care.\n\n"
                            "Which compost do you use?"), "Markdown kept as typed, its entities read"
        assert ada.author_email == "ada.greenfinger@example.com" and ada.email_hash
        assert ada.author_url == "https://ada.example.com/" and ada.author_ip == "192.0.2.0"
        assert ada.created_at == datetime(2026, 4, 11, 9, 15, tzinfo=timezone.utc)
        assert (gardener.parent_id, gardener.notify_replies) == (ada.id, False)
        assert "[the compost post](https://garden.example.org/compost/)" in gardener.body
        assert bjorn.parent_id == gardener.id, "two levels down"
        assert "שלום and ☃ too" in bjorn.body and "script" not in bjorn.body and "alert" not in bjorn.body
        assert bjorn.author_ip == truncated_ip("2001:db8::")
        tom = _by_author('Tom & "Thumbs" O\'Brien')
        assert (tom.state, tom.author_email, tom.author_url) == (
            "held", "tom&thumbs@example.com", "http://tom.example.com")
        assert tom.notify_replies is True, "set, for the subscriptions to confirm before any email"
        gone = db.session.scalar(sa.select(Comment).where(Comment.state == "trash"))
        assert (gone.body, gone.author_name) == ("", "Anonymous")
        late = _by_author("Late Reply")
        assert (late.parent_id, late.author_email) == (gone.id, None)
        assert _by_author("Odd Mode").state == "held" and _by_author("No Date") is None
        home = db.session.scalar(sa.select(Comment).where(Comment.body.like("A note on the home page%")))
        assert (home.author_name, home.author_ip, home.ip_hash) == ("Anonymous", None, None)

        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.comment_id == ada.id)).all()
        assert [(e.actor, e.from_state, e.to_state, e.reason) for e in events] == [
            ("import", None, "approved", "imported from isso")]
        assert _count(Imported) == 9
        stored = db.session.execute(sa.text("SELECT author_email FROM comments WHERE id = :id"), {"id": ada.id}).scalar()
        assert "greenfinger" not in str(stored), "the email is encrypted like any other"
        unannounced = [db.session.scalar(sa.select(sa.func.count()).select_from(model).where(
            model.announced_at.is_(None))) for model in (Comment, AuditEvent)]
        assert unannounced == [0, 0], "old comments are not news to webhooks and subscribers"

    page = app.test_client().get(_page(TOMATOES)).get_data(as_text=True)
    assert "Which compost do you use?" in page and "leaf mould" in page and "too late to sow" not in page
    assert "example.com" not in page.replace("https://ada.example.com/", "")
    assert "Answering a comment that was deleted." in app.test_client().get(_page(ABOUT)).get_data(as_text=True)
    isso_client = app.test_client().get("/isso/", query_string={"uri": TOMATOES})
    assert isso_client.status_code == 200 and "Which compost do you use?" in isso_client.get_data(as_text=True), \
        "Isso's own client, pointed at us, finds the imported thread"


def _page(uri):
    return "/threads/" + quote(key_for(uri), safe="")


def test_an_import_run_twice_adds_nothing_and_a_comment_deleted_here_stays_deleted(app, database):
    assert run_import(app, database).exit_code == 0
    with app.app_context():
        db.session.delete(_by_author("Odd Mode"))
        db.session.commit()
    again = run_import(app, database)
    assert again.exit_code == 0, again.output
    assert "Imported from Isso: no new comments" in again.output
    assert "Skipped: 9 already imported" in again.output and "Threads created: 0" in again.output
    with app.app_context():
        assert _count(Comment) == 8 and _count(Thread) == 4


def test_two_isso_databases_keep_their_comments_apart_and_site_gives_the_threads_addresses(app, database, tmp_path):
    other = tmp_path / "other" / "comments.db"
    other.parent.mkdir()
    other.write_bytes(database.read_bytes())
    with sqlite3.connect(other) as connection:
        connection.execute("UPDATE preferences SET value = 'another-site-key' WHERE key = 'session-key'")
        connection.execute("UPDATE threads SET uri = '/elsewhere' || uri")
    connection.close()
    assert "Imported from Isso: 9 comments" in run_import(app, database).output
    result = run_import(app, other, "--site", "https://other.example.org/")
    assert "Imported from Isso: 9 comments" in result.output, result.output
    with app.app_context():
        thread = db.session.scalar(sa.select(Thread).where(Thread.key == key_for("/elsewhere/about/")))
        assert thread.url == "https://other.example.org/elsewhere/about/"
        assert _count(Comment) == 18


def test_a_database_without_a_session_key_needs_its_site_and_a_text_stored_as_bytes_is_read(app, database, tmp_path):
    keyless = tmp_path / "keyless.db"
    keyless.write_bytes(database.read_bytes())
    with sqlite3.connect(keyless) as connection:
        connection.execute("DELETE FROM preferences WHERE key = 'session-key'")
        connection.execute("UPDATE threads SET uri = '/keyless' || uri")
        connection.execute("UPDATE comments SET text = CAST(? AS BLOB) WHERE id = (SELECT MIN(id) FROM comments "
                           "WHERE mode = 1)", ("Caf\u00e9 in bytes".encode() + b" \xff",))
    connection.close()
    run_import(app, database)
    refused = run_import(app, keyless)
    assert refused.exit_code == 1 and "no session key" in refused.output and "--site" in refused.output
    result = run_import(app, keyless, "--site", "https://keyless.example.org")
    assert "Imported from Isso: 9 comments" in result.output, result.output
    with app.app_context():
        assert _count(Comment) == 18, "its comments are not taken for the first database's"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment).where(
            Comment.body.like("Café in bytes \ufffd%"))) == 1


def test_with_train_the_approved_comments_become_labelled_examples(app, database):
    result = run_import(app, database, "--train")
    assert result.exit_code == 0 and "Offered to the spam model: 6 labelled examples" in result.output
    with app.app_context():
        assert db.session.scalars(sa.select(TrainingExample.source).distinct()).all() == ["import:isso"]


def _text(path):
    path.write_text("threads,comments\n1,2\n")
    return path


def _empty(path):
    path.write_bytes(b"")
    return path


def _damaged(path):
    """The database cut short: its last pages gone, as a copy interrupted halfway leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 4096])
    return path


@pytest.mark.parametrize("make, said", [
    (_text, "this is not an Isso database"),
    (_empty, "it has no threads table with the columns id, title, uri"),
    (_damaged, "the database is damaged"),
])
def test_a_file_that_is_not_an_isso_database_is_refused_with_a_sentence(app, database, make, said):
    result = run_import(app, make(database))
    assert result.exit_code == 1 and said in result.output and "Nothing was imported." in result.output, \
        result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert _count(Comment) == 0


def test_a_database_isso_holds_locked_is_refused_with_a_sentence(app, database, monkeypatch):
    monkeypatch.setattr(isso, "WAIT_SECONDS", 0.05)
    writing = sqlite3.connect(database, isolation_level=None)
    writing.execute("BEGIN EXCLUSIVE")
    try:
        result = run_import(app, database)
    finally:
        writing.close()
    assert result.exit_code == 1 and "the database is locked" in result.output, result.output
    assert "Traceback" not in result.output
