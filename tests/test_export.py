"""`moderation export json`: the whole site as one JSON document, emails only when asked for and then recorded."""
import io
import json
import os
import stat

import sqlalchemy as sa

from config import new_data_key
from moderation.exports_cli import export
from moderation.extensions import db
from moderation.models import AuditEvent, Comment, Imported, PrivacyEvent, Subscriber, Thread, utcnow
from moderation.privacy.services import erase_person, use_keys
from moderation.review import services as review
from tests import factories


def _site(moderator):
    """Two threads, comments in every state (one a reply, one a moderator's), their history, an imported one."""
    one = factories.make_thread("one", "First article")
    two = factories.make_thread("two", 'Second "article" 😀')
    two.url = "https://blog.example.org/two"
    first = factories.make_comment(one, "held", email="export-first@example.org", author_url="https://a.example.net/",
                                   author_ip="198.51.100.7", user_agent="Export-Agent/1.0", reasons=["a link"],
                                   spam_score=0.4)
    review.decide(first.id, "approve", moderator, note="fine by me")
    factories.make_comment(one, "approved", email="export-reply@example.org", parent_id=first.id, body="A reply ‏שלום‏")
    factories.make_comment(two, "spam", email="export-spam@example.org", body="Buy now")
    factories.make_comment(two, "rejected", email="export-rejected@example.org")
    review.reply(first.id, moderator, "Thanks, from the team.")
    db.session.add(Imported(source="wordpress", external_id="https://old.example.org/#12", comment_id=first.id))
    db.session.add(Subscriber(email="export-reply@example.org", confirmed_at=utcnow()))
    db.session.commit()
    return first


def _export(app, tmp_path, *options):
    path = tmp_path / "site.json"
    result = app.test_cli_runner().invoke(export, ["json", str(path), *options])
    assert result.exit_code == 0, result.output
    return path, json.loads(path.read_text(encoding="utf-8")), result


def _count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_export_holds_the_whole_site_and_no_email(app, moderator, tmp_path):
    first = _site(moderator)
    path, document, result = _export(app, tmp_path)

    assert (document["format"], document["version"], document["with_emails"]) == ("moderation-export", 1, False)
    assert [t["key"] for t in document["threads"]] == ["one", "two"]
    second = document["threads"][1]
    assert second == {"key": "two", "title": 'Second "article" 😀', "url": "https://blog.example.org/two",
                      "comments_open": True, "created_at": second["created_at"]}
    assert len(document["comments"]) == _count(Comment) == 5
    assert len(document["audit_events"]) == _count(AuditEvent) and len(document["threads"]) == _count(Thread)
    assert document["counts"] == {"threads": 2, "comments": 5, "audit_events": _count(AuditEvent), "moderators": 1,
                                  "imported": 1}
    exported = {c["id"]: c for c in document["comments"]}[first.id]
    assert (exported["thread"], exported["state"], exported["author_url"], exported["reasons"]) == (
        "one", "approved", "https://a.example.net/", ["a link"])
    assert exported["decided_at"] and exported["spam_score"] == 0.4 and "author_email" not in exported
    assert sorted(c["state"] for c in document["comments"]) == ["approved", "approved", "approved", "rejected", "spam"]
    assert [c["staff"] for c in document["comments"]].count(True) == 1
    assert {"comment_id": first.id, "to_state": "approved", "action": "approve", "note": "fine by me",
            "actor": "alice"}.items() <= next(e for e in document["audit_events"] if e["action"] == "approve").items()
    assert document["moderators"] == [{"username": "alice", "role": "moderator", "active": True}]
    assert document["imported"][0]["external_id"] == "https://old.example.org/#12"
    assert "subscribers" not in document

    raw = path.read_text(encoding="utf-8")
    assert "@example.org" not in raw and "198.51.100" not in raw and "Export-Agent" not in raw
    assert "argon2" not in raw and "password" not in raw
    assert "שלום" in raw and "😀" in raw
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _count(PrivacyEvent) == 0
    assert "Exported 2 threads, 5 comments" in result.output


def test_with_emails_the_export_holds_them_and_says_so_in_the_privacy_log(app, moderator, tmp_path):
    _site(moderator)
    path, document, _ = _export(app, tmp_path, "--with-emails")

    emails = {c["author_email"] for c in document["comments"]}
    assert {"export-first@example.org", "export-reply@example.org", "export-spam@example.org",
            "export-rejected@example.org"} <= emails
    assert document["with_emails"] is True and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    subscribers = [(s["email"], bool(s["confirmed_at"])) for s in document["subscribers"]]
    assert subscribers == [("export-reply@example.org", True)]
    assert document["counts"]["subscribers"] == 1
    event = db.session.scalars(sa.select(PrivacyEvent)).one()
    assert (event.actor, event.action) == ("command line", "site export with emails") and str(path) in event.detail


def test_an_erased_comment_is_exported_as_erased(app, moderator, tmp_path):
    first = _site(moderator)
    erase_person("export-first@example.org", with_text=True)
    _, document, _ = _export(app, tmp_path, "--with-emails")

    erased = {c["id"]: c for c in document["comments"]}[first.id]
    assert (erased["author_name"], erased["author_email"], erased["author_url"], erased["body"]) == (
        "Anonymous", None, None, "")
    assert erased["erased_at"] is not None


def test_to_standard_output_the_document_is_all_there_is(app, moderator):
    _site(moderator)
    result = app.test_cli_runner().invoke(export, ["json", "-"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert len(document["comments"]) == 5 and "@" not in result.stdout
    assert "Exported 2 threads" in result.stderr


def test_a_failed_export_leaves_the_previous_file_as_it_was(app, moderator, tmp_path):
    _site(moderator)
    path = tmp_path / "site.json"
    path.write_text("the export of yesterday")
    use_keys(app, (new_data_key(),))  # a data key that opens none of the stored emails
    result = app.test_cli_runner().invoke(export, ["json", str(path), "--with-emails"])

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the emails cannot be read" in result.output and "MODERATION_DATA_KEY" in result.output
    assert path.read_text() == "the export of yesterday" and os.listdir(tmp_path) == ["site.json"]


def test_an_unwritable_place_is_one_sentence(app, tmp_path):
    result = app.test_cli_runner().invoke(export, ["json", str(tmp_path / "missing" / "site.json")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"cannot write {tmp_path / 'missing' / 'site.json'}: No such file or directory" in result.output
    assert app.test_cli_runner().invoke(export, ["json", str(tmp_path)]).exit_code == 2  # a folder, not a file


def test_a_pipe_a_device_or_a_link_is_never_replaced_by_the_export(app, tmp_path):
    pipe, link = tmp_path / "pipe", tmp_path / "link.json"
    os.mkfifo(pipe)
    link.symlink_to(tmp_path / "elsewhere.json")
    for path in (pipe, link):
        result = app.test_cli_runner().invoke(export, ["json", str(path)])
        assert result.exit_code == 1 and "is not a regular file" in result.output and "Traceback" not in result.output
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode) and link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["link.json", "pipe"], "no temporary file either"


def test_what_changes_while_the_export_is_written_is_not_half_in_it(app, moderator):
    """Read from one snapshot: a comment posted and another decided after the first page was read are absent, as
    they were when the export began (with their audit events), on SQLite as on PostgreSQL."""
    from moderation import exports

    thread = factories.make_thread("one", "First article")
    held = factories.make_comment(thread, "held")
    sections = []

    def meanwhile(written):
        sections.append(written)
        if len(sections) == 1:  # the threads are written: someone else posts and decides, and commits
            with db.engine.begin() as other:
                other.execute(sa.insert(Comment).values(thread_id=thread.id, author_name="Late", body="Too late",
                                                        body_html="<p>Too late</p>", state="held", reasons=[]))
                other.execute(sa.update(Comment).where(Comment.id == held.id).values(state="approved"))
                other.execute(sa.insert(AuditEvent).values(comment_id=held.id, actor="alice", from_state="held",
                                                           to_state="approved"))

    stream = io.StringIO()
    counts = exports.write_json(stream, on_progress=meanwhile)
    document = json.loads(stream.getvalue())
    assert [(c["id"], c["state"]) for c in document["comments"]] == [(held.id, "held")]
    assert [e["to_state"] for e in document["audit_events"]] == ["held"]
    assert counts["comments"] == 1 and _count(Comment) == 2
