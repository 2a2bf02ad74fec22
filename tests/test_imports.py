"""`moderation import wxr`: a WordPress export (tests/fixtures/imports/wordpress.xml, WXR 1.2 as WordPress 6.6
writes it: threaded replies, a reply before its parent, pingback, trackback, spam, pending, trash, odd characters)."""
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from moderation.cli import cli
from moderation.extensions import db
from moderation.models import AuditEvent, Comment, Imported, Thread, TrainingExample
from moderation.privacy.addresses import truncated_ip
from moderation.privacy.crypto import ip_index

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
        # Decided: only the network is kept, as for a comment decided here; the index is of the whole address.
        assert ada.author_url == "https://ada.example.com/" and ada.author_ip == truncated_ip("192.0.2.44")
        assert ada.ip_hash == ip_index("192.0.2.44")
        assert _by_author("Odd State").author_ip == "192.0.2.202", "held for a person: the whole address"
        assert ada.created_at == datetime(2026, 4, 11, 9, 15, tzinfo=timezone.utc)
        assert ada.decided_at > datetime(2026, 11, 1, tzinfo=timezone.utc), "decided by the import, now"
        assert post.created_at == datetime(2026, 4, 10, 8, 0, tzinfo=timezone.utc) and post.comments_open
        assert gardener.parent_id == ada.id
        assert gardener.body == ("Home-made, from last year\u2019s leaves.\n\nSee the compost post.")
        assert bjorn.parent_id == gardener.id, "a reply read before its parent still finds it"
        assert "שלום and ☃ too" in bjorn.body and "script" not in bjorn.body and "alert" not in bjorn.body
        assert bjorn.author_ip == truncated_ip("2001:db8::7")
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
    assert re.search(r"truncated\.xml: [^\n]*: line \d+, column \d+\. Every whole post", broken.output), broken.output
    assert "run the import again" in broken.output
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


HEAD = ('<?xml version="1.0" encoding="{encoding}"?><rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/">'
        "<channel><title>Small</title><wp:base_site_url>https://network.example.org</wp:base_site_url>"
        "<wp:base_blog_url>{blog}</wp:base_blog_url>")


def export(tmp_path, *posts, blog="https://small.example.org", encoding="UTF-8", name="small.xml"):
    """A small WXR file: `posts` are (post fields, [comment fields]) with WordPress's element names."""
    items = []
    for post, comments in posts:
        fields = {"post_id": "1", "post_name": "first", "status": "publish", "post_type": "post",
                  "comment_status": "open", **post}
        body = "".join(f"<wp:{key}>{value}</wp:{key}>" for key, value in fields.items() if key != "title")
        for comment in comments:
            comment = {"comment_author": "Reader", "comment_date_gmt": "2026-01-02 03:04:05",
                       "comment_approved": "1", "comment_content": "A comment.", "comment_parent": "0", **comment}
            body += "<wp:comment>" + "".join(f"<wp:{k}>{v}</wp:{k}>" for k, v in comment.items()) + "</wp:comment>"
        items.append(f"<item><title>{post.get('title', 'A post')}</title>{body}</item>")
    path = tmp_path / name
    path.write_bytes((HEAD.format(encoding=encoding, blog=blog) + "".join(items) + "</channel></rss>")
                     .encode("utf-8" if encoding == "UTF-8" else encoding, errors="replace"))
    return path


def _count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_comments_of_posts_not_public_are_not_imported_and_closed_posts_stay_closed(app, tmp_path):
    path = export(tmp_path,
                  ({"post_id": "1", "post_name": "secret", "status": "private"}, [{"comment_id": "1"}]),
                  ({"post_id": "2", "post_name": "locked", "post_password": "hunter2"}, [{"comment_id": "2"}]),
                  ({"post_id": "3", "post_name": "draft", "status": "draft"}, [{"comment_id": "3"}]),
                  ({"post_id": "4", "post_name": "closed", "comment_status": "closed"}, [{"comment_id": "4"}]))
    result = run_import(app, path)
    assert result.exit_code == 0, result.output
    assert "Skipped: 1 comments of posts not public (private)" in result.output
    assert "Skipped: 1 comments of posts not public (password)" in result.output
    assert "Skipped: 1 comments of posts not public (draft)" in result.output
    with app.app_context():
        assert [t.key for t in db.session.scalars(sa.select(Thread))] == ["closed"]
        assert db.session.scalar(sa.select(Thread.comments_open)) is False


def test_a_comment_deleted_after_its_import_does_not_come_back_with_the_next(app, tmp_path):
    path = export(tmp_path, ({}, [{"comment_id": "1", "comment_approved": "spam"}, {"comment_id": "2"}]))
    assert run_import(app, path).exit_code == 0
    with app.app_context():
        db.session.delete(db.session.scalar(sa.select(Comment).where(Comment.state == "spam")))
        db.session.commit()
    again = run_import(app, path)
    assert "Skipped: 2 already imported" in again.output, again.output
    with app.app_context():
        assert _count(Comment) == 1


def test_two_blogs_of_one_network_keep_their_comments_apart(app, tmp_path):
    first = export(tmp_path, ({"post_name": "one"}, [{"comment_id": "1", "comment_content": "On blog one."}]),
                   blog="https://one.example.org", name="one.xml")
    second = export(tmp_path, ({"post_name": "two"}, [{"comment_id": "1", "comment_content": "On blog two."}]),
                    blog="https://two.example.org", name="two.xml")
    assert "1 comments (1 approved)" in run_import(app, first).output
    assert "1 comments (1 approved)" in run_import(app, second).output
    with app.app_context():
        assert sorted(db.session.scalars(sa.select(Comment.body))) == ["On blog one.", "On blog two."]


def test_replies_in_a_loop_another_post_or_to_themselves_are_shown_at_the_top(app, tmp_path):
    path = export(tmp_path,
                  ({"post_id": "1", "post_name": "loop"}, [
                      {"comment_id": "1", "comment_parent": "2", "comment_content": "First of the loop."},
                      {"comment_id": "2", "comment_parent": "1", "comment_content": "Second of the loop."},
                      {"comment_id": "3", "comment_parent": "3", "comment_content": "Its own reply."}]),
                  ({"post_id": "2", "post_name": "elsewhere"}, [
                      {"comment_id": "4", "comment_parent": "1", "comment_content": "Replying across posts."}]))
    result = run_import(app, path)
    assert result.exit_code == 0 and "Note: 3 replies whose parent is elsewhere or their own reply" in result.output
    page = app.test_client().get("/threads/loop").get_data(as_text=True)
    assert "First of the loop." in page and "Second of the loop." in page and "Its own reply." in page
    assert "Replying across posts." in app.test_client().get("/threads/elsewhere").get_data(as_text=True)
    with app.app_context():
        first = db.session.scalar(sa.select(Comment).where(Comment.body == "First of the loop."))
        second = db.session.scalar(sa.select(Comment).where(Comment.body == "Second of the loop."))
        assert (second.parent_id, first.parent_id) == (first.id, None)


def test_what_wordpress_escaped_reads_as_typed_and_a_long_text_is_cut_to_the_forms_limit(app, tmp_path):
    path = export(tmp_path, ({"title": "Salt &amp;amp; pepper"}, [
        {"comment_id": "1", "comment_author": "Tom &amp;amp; Jerry", "comment_content": "x" * 12_000},
        {"comment_id": "1", "comment_content": "The same id again."}]))
    result = run_import(app, path)
    assert "Note: 1 texts longer than 10,000 characters (the form's limit), cut" in result.output
    assert "Failed: comment 1 of post 1: its id is in the file twice: the first one was imported" in result.output
    with app.app_context():
        comment = db.session.scalar(sa.select(Comment))
        assert comment.author_name == "Tom & Jerry" and len(comment.body) == 10_000
        assert db.session.scalar(sa.select(Thread.title)) == "Salt & pepper"


def test_with_key_id_a_thread_is_wordpress_and_the_posts_id_and_a_slug_is_read_decoded(app, tmp_path):
    path = export(tmp_path, ({"post_id": "7", "post_name": "caf%c3%a9-cr%c3%a8me"}, [{"comment_id": "1"}]))
    assert run_import(app, path, "--key", "id").exit_code == 0
    other = export(tmp_path, ({"post_id": "8", "post_name": "caf%c3%a9-cr%c3%a8me"}, [{"comment_id": "2"}]),
                   name="other.xml")
    assert run_import(app, other).exit_code == 0
    with app.app_context():
        assert sorted(db.session.scalars(sa.select(Thread.key))) == ["café-crème", "wordpress-7"]


@pytest.mark.parametrize("encoding", ["GBK", "ISO-8859-1"])
def test_an_export_in_another_encoding_is_read_or_refused_with_a_sentence(app, tmp_path, encoding):
    path = export(tmp_path, ({}, [{"comment_id": "1", "comment_content": "Café au lait"}]), encoding=encoding)
    result = run_import(app, path)
    assert "Traceback" not in result.output
    if encoding == "GBK":
        assert result.exit_code == 1 and "cannot be read" in result.output, result.output
    else:
        assert result.exit_code == 0, result.output
        with app.app_context():
            assert db.session.scalar(sa.select(Comment.body)) == "Café au lait"


def test_an_article_address_that_is_not_http_is_left_out_and_said(app, tmp_path):
    """The thread page links its address as "Read the article": never a javascript: address from a file."""
    path = export(tmp_path, ({}, [{"comment_id": "1"}]))
    path.write_text(path.read_text().replace("<item><title>", "<item><link>javascript:alert(1)</link><title>"))
    result = run_import(app, path)
    assert "article addresses that are not http(s) addresses, left out" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(Thread.url)) is None and _count(Comment) == 1
