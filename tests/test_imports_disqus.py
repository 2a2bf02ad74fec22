"""`moderation import disqus`: a Disqus export (tests/fixtures/imports/disqus.xml, as Disqus writes it: categories,
every thread, then every post in no thread's order; threaded replies, a reply before its parent, a parent never
exported, spam, pending, deleted, an unknown flag and date, a deleted thread, odd characters)."""
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from moderation.cli import cli
from moderation.extensions import db
from moderation.imports.disqus import path_key
from moderation.models import AuditEvent, Comment, Imported, Thread, TrainingExample
from moderation.privacy.addresses import truncated_ip
from moderation.privacy.crypto import ip_index

EXPORT = Path(__file__).parent / "fixtures" / "imports" / "disqus.xml"


def run_import(app, path, *options):
    return app.test_cli_runner().invoke(cli, ["import", "disqus", str(path), *options])


def _by_author(name):
    return db.session.scalar(sa.select(Comment).where(Comment.author_name == name))


def _count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_disqus_export_brings_its_threads_and_posts_with_what_each_kept(app):
    result = run_import(app, EXPORT)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Imported from Disqus: 10 comments (5 approved, 2 held, 1 spam, 2 trash)" in lines
    assert "Threads created: 3" in lines
    assert "Skipped: 1 comments of threads deleted in Disqus" in lines
    assert "Failed: post 8010 of thread 7003: no date that can be read ('yesterday')" in lines
    assert ("Failed: post 8013 of thread 7005: its thread has neither an identifier that can be a key nor an "
            "address") in lines
    assert "Failed: post 8014 of thread 7999: its thread is not in the file" in lines
    assert "Note: 1 comments in the unknown state isSpam='maybe', held for a person" in lines
    assert "Note: 1 threads keyed by their Disqus identifier" in lines
    assert "Note: 2 threads keyed by their address's path ('/' read as '-')" in lines
    assert "Note: 1 emails that are not addresses, left out" in lines
    assert "Note: 1 replies whose parent was not in the file (shown at the top)" in lines
    assert "Note: 1 deleted comments whose text was not kept, in the trash with none" in lines
    assert "Traceback" not in result.output

    with app.app_context():
        post = db.session.scalar(sa.select(Thread).where(Thread.key == "tomatoes-in-a-cold-spring"))
        assert post.title == "Tomatoes & a cold spring" and post.comments_open
        assert post.url == "https://garden.example.org/2026/04/tomatoes-in-a-cold-spring/"
        assert post.created_at == datetime(2026, 4, 10, 8, 0, tzinfo=timezone.utc)
        about = db.session.scalar(sa.select(Thread).where(Thread.key == "about"))
        assert about.comments_open is False, "a thread closed in Disqus stays closed"
        assert db.session.scalar(sa.select(Thread).where(Thread.key == "notes-2026-frost")) is not None
        assert db.session.scalar(sa.select(Thread).where(Thread.key == "nobody-commented")) is None

        ada, gardener, bjorn = _by_author("Ada Greenfinger"), _by_author("The Gardener"), _by_author("Björn Ødegård 🌱")
        assert (ada.thread_id, ada.state, ada.parent_id) == (post.id, "approved", None)
        assert ada.body == ("Mine went in a week ago.\nThe San Marzano sulk & the cherries don't care.\n\n"
                            "Which compost do you use?")
        assert ada.author_email == "ada.greenfinger@example.com" and ada.email_hash
        assert ada.author_url is None, "Disqus exports no website"
        assert ada.author_ip == truncated_ip("192.0.2.44") and ada.ip_hash == ip_index("192.0.2.44")
        assert ada.created_at == datetime(2026, 4, 11, 9, 15, tzinfo=timezone.utc)
        assert gardener.parent_id == ada.id and gardener.body == (
            "Home-made, from last year\u2019s leaves.\n\nSee the compost post.")
        assert bjorn.parent_id == gardener.id, "a reply read before its parent still finds it"
        assert "שלום and ☃ too" in bjorn.body and "script" not in bjorn.body and "alert" not in bjorn.body
        assert bjorn.author_ip == truncated_ip("2001:db8::7")
        assert _by_author('Tom "Thumbs" O\'Brien').thread_id == about.id
        assert _by_author("Cheap Pills").state == "spam"
        quiet = _by_author("Quiet Reader")
        assert (quiet.state, quiet.author_email, quiet.author_ip) == ("held", None, "192.0.2.77")
        gone = _by_author("Gone Away")
        assert (gone.state, gone.body) == ("trash", "")
        assert _by_author("Second Thoughts").state == "trash" and _by_author("Odd State").state == "held"
        assert _by_author("Late Reply").parent_id is None
        assert _by_author("Draft Reader") is None and _by_author("Orphan Reader") is None

        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.comment_id == ada.id)).all()
        assert [(e.actor, e.from_state, e.to_state, e.reason) for e in events] == [
            ("import", None, "approved", "imported from disqus")]
        assert _count(Imported) == 10
        assert db.session.scalar(sa.select(Imported.external_id).where(Imported.comment_id == ada.id)) == \
            "gardenblog#8001", "a forum's ids are told from another forum's"
        stored = db.session.execute(sa.text("SELECT author_email FROM comments WHERE id = :id"), {"id": ada.id}).scalar()
        assert "greenfinger" not in str(stored), "the email is encrypted like any other"
        unannounced = [db.session.scalar(sa.select(sa.func.count()).select_from(model).where(
            model.announced_at.is_(None))) for model in (Comment, AuditEvent)]
        assert unannounced == [0, 0], "old comments are not news to webhooks and subscribers"

    page = app.test_client().get("/threads/tomatoes-in-a-cold-spring").get_data(as_text=True)
    assert "Which compost do you use?" in page and "leaf mould" in page and "Disqus lost" in page
    assert "Best prices" not in page and "take it back" not in page
    assert "example.com" not in page


def test_an_import_run_twice_adds_nothing_and_a_comment_deleted_here_stays_deleted(app):
    assert run_import(app, EXPORT).exit_code == 0
    with app.app_context():
        db.session.delete(_by_author("Cheap Pills"))
        db.session.commit()
    again = run_import(app, EXPORT)
    assert again.exit_code == 0, again.output
    assert "Imported from Disqus: no new comments" in again.output
    assert "Skipped: 10 already imported" in again.output and "Threads created: 0" in again.output
    assert "Note: 3 threads that were already here, joined" in again.output
    with app.app_context():
        assert _count(Comment) == 9 and _count(Thread) == 3


def test_a_truncated_export_stops_at_its_line_and_writes_nothing_then_the_whole_file_is_imported(app, tmp_path):
    text = EXPORT.read_text()
    cut = tmp_path / "truncated.xml"
    cut.write_text(text[:text.index('<post dsq:id="8011">')])
    broken = run_import(app, cut)
    assert broken.exit_code == 1
    assert re.search(r"truncated\.xml: [^\n]*: line \d+, column \d+\. Nothing was imported", broken.output), \
        broken.output
    assert "run the import again" in broken.output and "Traceback" not in broken.output
    with app.app_context():
        assert _count(Comment) == 0 and _count(Thread) == 0, "never half of a thread"
    whole = run_import(app, EXPORT)
    assert whole.exit_code == 0 and "Imported from Disqus: 10 comments" in whole.output


@pytest.mark.parametrize("content, said", [
    ('<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "this is not a Disqus export: it starts with <rss>"),
    ("", "line 1"),
    ('<?xml version="1.0"?><!DOCTYPE disqus [<!ENTITY a "aaaaaaaaaa">]><disqus>&a;</disqus>', "DTD"),
    ('<disqus xmlns="http://disqus.com"><thread dsq:id="1"/></disqus>', "unbound prefix: line 1"),
])
def test_a_file_that_is_not_an_export_is_refused_with_a_sentence(app, tmp_path, content, said):
    path = tmp_path / "export.xml"
    path.write_text(content)
    result = run_import(app, path)
    assert result.exit_code == 1 and said in result.output, result.output
    assert "Traceback" not in result.output


def test_with_train_the_approved_and_spam_posts_become_labelled_examples(app):
    result = run_import(app, EXPORT, "--train")
    assert result.exit_code == 0 and "Offered to the spam model: 6 labelled examples" in result.output
    with app.app_context():
        examples = db.session.execute(sa.select(TrainingExample.is_spam, TrainingExample.source)).all()
        assert sorted(examples) == [(False, "import:disqus")] * 5 + [(True, "import:disqus")]


def test_with_key_link_every_thread_is_keyed_by_its_address(app):
    result = run_import(app, EXPORT, "--key", "link")
    assert result.exit_code == 0 and "Note: 3 threads keyed by their address's path" in result.output
    with app.app_context():
        assert sorted(db.session.scalars(sa.select(Thread.key))) == [
            "2026-04-tomatoes-in-a-cold-spring", "about", "notes-2026-frost"]


@pytest.mark.parametrize("address, key", [
    ("https://garden.example.org/2026/04/tomatoes-in-a-cold-spring/", "2026-04-tomatoes-in-a-cold-spring"),
    ("https://garden.example.org/caf%C3%A9-cr%C3%A8me", "café-crème"),
    ("https://garden.example.org/?p=12", "?p=12"),
    ("https://garden.example.org/", "index"),
])
def test_a_threads_address_is_read_as_a_key_like_a_slug(address, key):
    assert path_key(address) == key


def test_a_pipe_is_refused_at_once_rather_than_waited_on(app, tmp_path):
    pipe = tmp_path / "export.xml"
    os.mkfifo(pipe)
    for source in ("wxr", "disqus", "isso"):
        result = app.test_cli_runner().invoke(cli, ["import", source, str(pipe)])
        assert result.exit_code == 2 and "is not a regular file" in result.output
