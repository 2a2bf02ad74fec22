"""A person's data on request: export and erase from the command line, and rotating the key that protects it."""
import json
import os
import subprocess
import sys
from datetime import datetime

import sqlalchemy as sa

from moderation.cli import cli
from moderation.extensions import db
from moderation.models import AuditEvent, Comment, Mail, Moderator, PrivacyEvent, Subscriber, TrainingExample, Webhook
from moderation.privacy.crypto import email_index
from moderation.review import services as review
from tests import factories
from tests.conftest import build_app, comment_fields, form_tokens
from tests.worker import ROOT
from workers.tasks import check_comment, learn_from_decision

PERSON = "zebulon.quixote@example.org"
NAME, SITE, TEXT, BROWSER = "Zebulon Quixote", "https://zebulon-quixote.example", "Xylophone quartz jambalaya", "ZebBrowser/9.1"


def _run(app, *args):
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def _post_as_the_person(app, key, body):
    client = app.test_client()
    tokens = form_tokens(client.get(f"/threads/{key}").get_data(as_text=True))
    fields = comment_fields(author_name=NAME, author_email=PERSON, author_url=SITE, body=body)
    response = client.post(f"/threads/{key}", data={**tokens, **fields}, headers={"User-Agent": BROWSER},
                           environ_overrides={"REMOTE_ADDR": "192.0.2.55"})
    assert response.status_code == 303
    return db.session.scalar(sa.select(Comment.id).order_by(Comment.id.desc()))


def _the_persons_comments(app, thread):
    moderator = factories.make_moderator()
    first = _post_as_the_person(app, thread.key, f"{TEXT}, first.")
    second = _post_as_the_person(app, thread.key, f"{TEXT}, second.")
    other = factories.make_comment(thread, "approved", email="someone.else@example.org", body="Not theirs.")
    for comment_id in (first, second):
        check_comment(comment_id)
    review.decide(first, "approve", moderator)
    learn_from_decision(first)
    return first, second, other


def test_export_prints_every_comment_and_event_of_one_address(app, thread):
    first, second, other = _the_persons_comments(app, thread)
    result = _run(app, "privacy", "export", PERSON.upper())
    document = json.loads(result.output)
    assert document["email"] == PERSON
    assert [c["id"] for c in document["comments"]] == [first, second]
    exported = document["comments"][0]
    assert (exported["author_name"], exported["author_email"], exported["author_url"]) == (NAME, PERSON, SITE)
    assert exported["user_agent"] == BROWSER and exported["thread"] == thread.key
    assert {e["comment_id"] for e in document["audit_events"]} == {first, second}
    assert [e["to_state"] for e in document["audit_events"] if e["comment_id"] == first] == ["pending", "held", "approved"]
    event = db.session.scalar(sa.select(PrivacyEvent).where(PrivacyEvent.action == "export"))
    assert event.detail == "2 comments" and PERSON not in json.dumps(event.detail)


def test_erase_removes_the_person_and_keeps_the_thread_readable(app, client, thread):
    first, second, other = _the_persons_comments(app, thread)
    result = _run(app, "privacy", "erase", PERSON)
    assert f"Erased the personal data of 2 comments: {first}, {second}." in result.output
    db.session.expire_all()
    for comment in db.session.scalars(sa.select(Comment).where(Comment.id.in_([first, second]))):
        assert (comment.author_email, comment.email_hash, comment.author_url, comment.author_ip) == (None, None, None, None)
        assert (comment.author_name, comment.user_agent, comment.referrer, comment.ip_hash) == ("Anonymous", None, None, None)
        assert comment.body.startswith(TEXT)
    assert db.session.get(Comment, other.id).author_email == "someone.else@example.org"
    assert db.session.scalar(sa.select(TrainingExample.author).where(TrainingExample.comment_id == first)) == ""
    page = client.get(f"/threads/{thread.key}").get_data(as_text=True)
    assert f"{TEXT}, first." in page and NAME not in page and SITE not in page
    assert json.loads(_run(app, "privacy", "export", PERSON).output)["comments"] == []
    events = db.session.scalars(sa.select(PrivacyEvent).where(PrivacyEvent.action == "erase")).all()
    assert sorted(e.comment_id for e in events) == [first, second]
    assert not any(NAME in (e.detail or "") or PERSON in (e.detail or "") for e in events)


def test_export_says_whether_the_person_asked_for_email_and_erase_forgets_the_subscription_and_its_mails(app, thread):
    _the_persons_comments(app, thread)
    subscriber = Subscriber(email=PERSON.upper())
    db.session.add(subscriber)
    db.session.flush()
    db.session.add(Mail(kind="confirm", subscriber_id=subscriber.id))
    db.session.commit()
    exported = json.loads(_run(app, "privacy", "export", PERSON).output)
    assert exported["subscription"]["confirmed_at"] is None and exported["subscription"]["asked_at"]
    _run(app, "privacy", "erase", PERSON)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mail)) == 0
    assert json.loads(_run(app, "privacy", "export", PERSON).output)["subscription"] is None


def test_erase_with_text_removes_the_text_and_what_was_learned_from_it(app, client, thread):
    first, second, _ = _the_persons_comments(app, thread)
    assert "personal data and text of 2 comments" in _run(app, "privacy", "erase", PERSON, "--with-text").output
    db.session.expire_all()
    assert [c.body for c in db.session.scalars(sa.select(Comment).where(Comment.id.in_([first, second])))] == ["", ""]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingExample).where(
        TrainingExample.comment_id.in_([first, second]))) == 0
    reasons = db.session.scalars(sa.select(AuditEvent.reason).where(AuditEvent.comment_id.in_([first, second]))).all()
    assert not any("Xylophone" in (r or "").title() or "xylophone" in (r or "") for r in reasons)
    assert "This comment was removed at its author's request." in client.get(f"/threads/{thread.key}").get_data(as_text=True)


def test_an_erased_person_leaves_no_trace_in_the_sqlite_files(tmp_path):
    """Free pages and the write-ahead log included: the bytes themselves are gone, not only the rows."""
    path = tmp_path / "erase.sqlite3"
    app = build_app(f"sqlite:///{path}")
    with app.app_context():
        thread = factories.make_thread("erase-me")
        first, second, _ = _the_persons_comments(app, thread)
        sealed = db.session.execute(sa.text("SELECT author_email, author_ip, user_agent FROM comments WHERE id = :id"),
                                    {"id": first}).one()
        files = lambda: b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("erase.sqlite3"))  # noqa: E731
        assert NAME.encode() in files() and TEXT.encode() in files() and sealed[0].encode() in files()
        _run(app, "privacy", "erase", PERSON, "--with-text")
        remains = files()
        db.session.remove()
        db.engine.dispose()
    for trace in (NAME, SITE, TEXT, "zebulon-quixote", *sealed):
        assert trace.encode() not in remains, trace
    assert (tmp_path / "erase.sqlite3-wal").stat().st_size == 0 if (tmp_path / "erase.sqlite3-wal").exists() else True


def test_keys_rotate_re_encrypts_under_a_new_development_key(tmp_path):
    """In development the key lives in the instance folder; rotating replaces it there."""
    instance = tmp_path / "instance"
    env = {**os.environ, "MODERATION_ENV": "development", "MODERATION_INSTANCE_PATH": str(instance),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'rotate.sqlite3'}", "CELERY_BROKER_URL": "memory://"}
    moderation = [sys.executable, "-m", "moderation.cli"]
    assert subprocess.run([*moderation, "db", "upgrade"], env=env, cwd=ROOT, capture_output=True).returncode == 0
    old_key = (instance / "data_key").read_text().strip()
    app = build_app(env["DATABASE_URL"], MODERATION_DATA_KEYS=(old_key,))
    with app.app_context():
        comment_id = factories.make_comment(factories.make_thread(), email="rotated@example.org", author_ip="192.0.2.1").id
        before = db.session.execute(sa.text("SELECT author_email, email_hash FROM comments")).one()
        db.session.remove()
        db.engine.dispose()
    done = subprocess.run([*moderation, "keys", "rotate"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Re-encrypted 1 comments under a new key" in done.stdout
    new_key = (instance / "data_key").read_text().strip()
    assert new_key != old_key and "," not in new_key and "\n" not in new_key
    rotated = build_app(env["DATABASE_URL"], MODERATION_DATA_KEYS=(new_key,))
    with rotated.app_context():
        after = db.session.execute(sa.text("SELECT author_email, email_hash FROM comments")).one()
        assert after[0].split(":")[1] != before[0].split(":")[1] and after[1] != before[1]
        reread = db.session.get(Comment, comment_id)
        assert (reread.author_email, reread.author_ip) == ("rotated@example.org", "192.0.2.1")
        db.engine.dispose()


def test_keys_rotate_with_keys_from_the_environment(app, thread):
    """In production the operator puts the new key first; a single key is refused with what to do."""
    from config import new_data_key
    from moderation.privacy.services import use_keys

    from moderation.spam import settings as spam_settings

    comment = factories.make_comment(thread, email="env.rotation@example.org")
    moderator = factories.make_moderator("notified")
    moderator.email = "notified.moderator@example.org"
    subscriber = Subscriber(email="subscribed.reader@example.org")
    webhook = Webhook(url="https://hooks.example.net/comments", events="approved", secret="the signing secret")
    db.session.add_all([subscriber, webhook])
    db.session.commit()
    spam_settings.save({"blocked_emails": ["blocked.person@example.com"]})
    refused = app.test_cli_runner().invoke(cli, ["keys", "rotate"])
    assert refused.exit_code != 0 and "MODERATION_DATA_KEY=NEW,OLD" in refused.output
    old = app.config["MODERATION_DATA_KEYS"]
    try:
        app.config["MODERATION_DATA_KEYS"] = (new_data_key(), *old)
        use_keys(app, app.config["MODERATION_DATA_KEYS"])
        assert "the others can be removed" in _run(app, "keys", "rotate").output
        use_keys(app, app.config["MODERATION_DATA_KEYS"][:1])
        db.session.expire_all()
        assert db.session.get(Comment, comment.id).author_email == "env.rotation@example.org"
        assert db.session.get(Moderator, moderator.id).email == "notified.moderator@example.org"
        # A subscription is still found by its address, and a webhook still signs with its secret.
        assert db.session.scalar(sa.select(Subscriber.id).where(
            Subscriber.email_hash == email_index("subscribed.reader@example.org"))) == subscriber.id
        assert db.session.get(Subscriber, subscriber.id).email == "subscribed.reader@example.org"
        assert db.session.get(Webhook, webhook.id).secret == "the signing secret"
        spam_settings.forget_cached()
        assert spam_settings.current()["blocked_emails"] == ("blocked.person@example.com",)
        assert db.session.scalar(sa.select(PrivacyEvent.action)) == "rotate keys"
    finally:
        app.config["MODERATION_DATA_KEYS"] = old
        use_keys(app, old)


COMMENT_FIELDS = {"id", "thread", "thread_title", "parent_id", "state", "author_name", "author_email", "author_url", "body",
                  "ip", "user_agent", "referrer", "akismet_payload", "spam_score", "reasons", "created_at", "decided_at"}


def test_the_export_holds_every_stored_field_of_each_comment_and_event(app, thread):
    first, second, _ = _the_persons_comments(app, thread)
    document = json.loads(_run(app, "privacy", "export", PERSON).output)
    assert set(document) == {"email", "exported_at", "comments", "audit_events", "subscription"}
    assert datetime.fromisoformat(document["exported_at"]).tzinfo is not None
    decided, held = document["comments"]
    assert set(decided) == set(held) == COMMENT_FIELDS
    assert (decided["thread_title"], decided["parent_id"], decided["state"], held["state"]) == (thread.title, None, "approved", "held")
    assert (decided["body"], decided["ip"], held["ip"]) == (f"{TEXT}, first.", "192.0.2.0", "192.0.2.55")
    assert (held["referrer"], held["akismet_payload"]) == (None, None)
    assert held["spam_score"] == db.session.get(Comment, second).spam_score and any(r.startswith("model: ") for r in held["reasons"])
    assert datetime.fromisoformat(decided["decided_at"]) >= datetime.fromisoformat(decided["created_at"])
    assert held["decided_at"] is None
    events, moderator = document["audit_events"], db.session.scalar(sa.select(Moderator.username))
    assert [e["comment_id"] for e in events] == [first] * 3 + [second] * 2, "grouped by comment, oldest first"
    assert all(set(e) == {"comment_id", "actor", "action", "from_state", "to_state", "reason", "note", "detail",
                          "created_at"} for e in events)
    assert [(e["actor"], e["from_state"], e["reason"]) for e in events[:3:2]] == [("reader", None, "posted"),
                                                                                  (moderator, "held", "approve")]
    assert all(datetime.fromisoformat(e["created_at"]) for e in events)


def test_the_export_of_a_referred_reply_names_its_parent_and_where_the_reader_came_from(app, thread):
    parent = factories.make_comment(thread, "approved", body="The comment replied to.")
    client = app.test_client()
    tokens = form_tokens(client.get(f"/threads/{thread.key}").get_data(as_text=True))
    fields = comment_fields(author_email=PERSON, body="A reply.", parent_id=str(parent.id))
    assert client.post(f"/threads/{thread.key}", data={**tokens, **fields},
                       headers={"Referer": f"https://blog.example.org/{thread.key}"}).status_code == 303
    exported, = json.loads(_run(app, "privacy", "export", PERSON).output)["comments"]
    assert (exported["parent_id"], exported["referrer"]) == (parent.id, f"https://blog.example.org/{thread.key}")


def test_erasing_the_text_replaces_what_the_checks_said_about_it_and_nothing_else(app, thread):
    moderator = factories.make_moderator()
    mine = _post_as_the_person(app, thread.key, f"{TEXT}, checked.")
    theirs = factories.make_comment(thread, "pending", email="someone.else@example.org", body="Quartz, said someone else.")
    for comment_id in (mine, theirs.id):
        check_comment(comment_id)
    review.decide(mine, "approve", moderator, reason="a fine comment")
    reasons = lambda comment_id: db.session.execute(sa.select(AuditEvent.actor, AuditEvent.reason).where(  # noqa: E731
        AuditEvent.comment_id == comment_id).order_by(AuditEvent.id)).all()
    before = reasons(theirs.id)
    assert "model: " in before[-1][1]
    _run(app, "privacy", "erase", PERSON, "--with-text")
    assert reasons(mine) == [("reader", "posted"),
                             ("spam check", "(removed with the comment's text at its author's request)"),
                             (moderator.username, "a fine comment")]
    assert reasons(theirs.id) == before
    action = db.session.scalar(sa.select(PrivacyEvent.action).where(PrivacyEvent.comment_id == mine))
    assert action == "erase with text"


def test_erasing_keeps_the_text_unless_asked(app, thread):
    from moderation.privacy.services import erase_person

    mine = _post_as_the_person(app, thread.key, f"{TEXT}, kept.")
    assert erase_person(PERSON) == [mine]
    db.session.expire_all()
    assert db.session.get(Comment, mine).body == f"{TEXT}, kept."
    assert db.session.scalar(sa.select(PrivacyEvent.action).where(PrivacyEvent.comment_id == mine)) == "erase"


def test_after_a_rotation_lookups_by_email_and_by_address_still_find_the_persons_comments(app, thread):
    from config import new_data_key
    from moderation.privacy.crypto import Keyring
    from moderation.privacy.services import use_keys

    first = _post_as_the_person(app, thread.key, "Before the rotation, first.")
    _post_as_the_person(app, thread.key, "Before the rotation, second.")
    old = app.config["MODERATION_DATA_KEYS"]
    try:
        app.config["MODERATION_DATA_KEYS"] = (new_data_key(), *old)
        use_keys(app, app.config["MODERATION_DATA_KEYS"])
        assert "Re-encrypted 2 comments under the first key" in _run(app, "keys", "rotate").output
        new_key_id = Keyring(app.config["MODERATION_DATA_KEYS"][:1]).current_id
        stored = db.session.scalars(sa.text("SELECT author_email FROM comments")).all()
        assert [value.split(":")[1] for value in stored] == [new_key_id, new_key_id]
        use_keys(app, app.config["MODERATION_DATA_KEYS"][:1])
        db.session.expire_all()
        event = db.session.scalar(sa.select(PrivacyEvent).where(PrivacyEvent.action == "rotate keys"))
        assert event.detail == "2 comments re-encrypted"
        assert len(json.loads(_run(app, "privacy", "export", PERSON).output)["comments"]) == 2
        # Another browser and another email, the same address: the duplicate check still knows the author.
        client = app.test_client()
        tokens = form_tokens(client.get(f"/threads/{thread.key}").get_data(as_text=True))
        fields = comment_fields(author_email="second.identity@example.org", body="Before the rotation, first.")
        assert client.post(f"/threads/{thread.key}", data={**tokens, **fields},
                           environ_overrides={"REMOTE_ADDR": "192.0.2.55"}).status_code == 303
        copy = db.session.scalar(sa.select(Comment.id).order_by(Comment.id.desc()))
        assert check_comment(copy) == "spam"
        assert db.session.get(Comment, copy).reasons[0] == f"duplicate of comment {first} by the same author on this article"
    finally:
        app.config["MODERATION_DATA_KEYS"] = old
        use_keys(app, old)
