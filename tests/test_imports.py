"""`moderation import wxr`: a WordPress export (tests/fixtures/imports/wordpress.xml, WXR 1.2 as WordPress 6.6
writes it: threaded replies, a reply before its parent, pingback, trackback, spam, pending, trash, odd characters)."""
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from moderation.cli import cli
from moderation.extensions import db
from moderation.models import AuditEvent, Comment, Imported, Thread, TrainingExample

EXPORT = Path(__file__).parent / "fixtures" / "imports" / "wordpress.xml"
SITE = "https://garden.example.org"


def run_import(app, path, *options):
    return app.test_cli_runner().invoke(cli, ["import", "wxr", str(path), *options])


def _by_author(name):
    return db.session.scalar(sa.select(Comment).where(Comment.author_name == name))


def test_a_wordpress_export_brings_its_posts_and_comments_with_what_each_kept(app):
    result = run_import(app, EXPORT)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Imported from WordPress: 7 comments (3 approved, 2 held, 1 spam, 1 trash)" in lines
    assert "Threads created: 2" in lines
    assert "Skipped: 1 pingbacks" in lines and "Skipped: 1 trackbacks" in lines
    assert "Failed: comment 204 of post 2: no date that can be read ('0000-00-00 00:00:00')" in lines
    assert "Note: 1 comments in the unknown state 'awaiting-review', held for a person" in lines
    assert "Note: 1 emails that are not addresses, left out" in lines
    assert "Note: 1 websites that are not http(s) addresses, left out" in lines
    assert "Note: 1 dates in the site's own time only (no GMT date), read as UTC" in lines

    with app.app_context():
        post = db.session.scalar(sa.select(Thread).where(Thread.key == "tomatoes-in-a-cold-spring"))
        assert post.title == "Tomatoes in a cold spring"
        assert post.url == f"{SITE}/2026/04/tomatoes-in-a-cold-spring/"
        ada, gardener, bjorn = _by_author("Ada Greenfinger"), _by_author("The Gardener"), _by_author("Björn Ødegård 🌱")
        assert (ada.thread_id, ada.state, ada.parent_id) == (post.id, "approved", None)
        assert ada.body == ("Mine went in a week ago.\nThe San Marzano sulk & the cherries don't care.\n\n"
                            "Which compost do you use?")
        assert ada.author_email == "ada.greenfinger@example.com" and ada.email_hash
        assert ada.author_url == "https://ada.example.com/" and ada.author_ip == "192.0.2.44"
        assert ada.created_at == datetime(2026, 4, 11, 9, 15, tzinfo=timezone.utc)
        assert gardener.parent_id == ada.id
        assert gardener.body == ("Home-made, from last year\u2019s leaves.\n\nSee the compost post.")
        assert bjorn.parent_id == gardener.id, "a reply read before its parent still finds it"
        assert "שלום and ☃ too" in bjorn.body and "script" not in bjorn.body and "alert" not in bjorn.body
        assert bjorn.author_ip == "2001:db8::7"
        assert _by_author("Cheap Pills").state == "spam"
        quiet = _by_author("Quiet Reader")
        assert (quiet.state, quiet.author_email, quiet.author_url) == ("held", None, None)
        assert quiet.created_at == datetime(2026, 4, 14, 18, 30, tzinfo=timezone.utc)
        assert _by_author("Old Friend").state == "trash" and _by_author("Odd State").state == "held"
        assert _by_author("Another Garden") is None and _by_author("Linker") is None
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.comment_id == ada.id)).all()
        assert [(e.actor, e.from_state, e.to_state, e.reason) for e in events] == [
            ("import", None, "approved", "imported from wordpress")]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Imported)) == 7
        stored = db.session.execute(sa.text("SELECT author_email FROM comments WHERE id = :id"), {"id": ada.id}).scalar()
        assert "greenfinger" not in str(stored), "the email is encrypted like any other"

    page = app.test_client().get("/threads/tomatoes-in-a-cold-spring").get_data(as_text=True)
    assert "Which compost do you use?" in page and "leaf mould" in page
    assert "Best prices" not in page and "too late to sow" not in page
    assert "example.com" not in page.replace("https://ada.example.com/", "")


def test_an_import_run_twice_adds_nothing(app):
    assert run_import(app, EXPORT).exit_code == 0
    again = run_import(app, EXPORT)
    assert again.exit_code == 0, again.output
    assert "Imported from WordPress: no new comments" in again.output
    assert "Skipped: 7 already imported" in again.output and "Threads created: 0" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 7
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Thread)) == 2


def test_a_truncated_export_stops_at_the_line_keeps_whole_posts_and_the_whole_file_then_adds_the_rest(app, tmp_path):
    text = EXPORT.read_text()
    cut = tmp_path / "truncated.xml"
    cut.write_text(text[:text.index("<wp:comment_id>202</wp:comment_id>")])
    broken = run_import(app, cut)
    assert broken.exit_code == 1
    assert "truncated.xml: line " in broken.output and "run the import again" in broken.output
    assert "Traceback" not in broken.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 5, "the first post, whole"
        assert db.session.scalar(sa.select(Thread).where(Thread.key == "about")) is None
    whole = run_import(app, EXPORT)
    assert whole.exit_code == 0 and "Imported from WordPress: 2 comments (1 held, 1 trash)" in whole.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 7


@pytest.mark.parametrize("content, said", [
    ("<html><body>Not an export</body></html>", "this is not a WordPress export: it starts with <html>"),
    ("", "line 1"),
    ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
     "<rss><channel><item><title>&b;</title></item></channel></rss>", "DTD"),
])
def test_a_file_that_is_not_an_export_is_refused_with_a_sentence(app, tmp_path, content, said):
    path = tmp_path / "export.xml"
    path.write_text(content)
    result = run_import(app, path)
    assert result.exit_code == 1 and said in result.output, result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 0


def test_with_train_the_approved_and_spam_comments_become_labelled_examples(app):
    result = run_import(app, EXPORT, "--train")
    assert result.exit_code == 0 and "Offered to the spam model: 4 labelled examples" in result.output
    with app.app_context():
        examples = db.session.execute(sa.select(TrainingExample.is_spam, TrainingExample.source)).all()
        assert sorted(examples) == [(False, "import:wordpress")] * 3 + [(True, "import:wordpress")]
