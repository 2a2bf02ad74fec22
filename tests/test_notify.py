"""Moderators' email notifications against a real SMTP server (aiosmtpd), and the one-click links they carry."""
import email
import logging
import re
import socket
import threading
import time
from datetime import timedelta
from email import policy

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import current_app
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from werkzeug.serving import make_server

import config
from moderation.extensions import db
from moderation.models import AuditEvent, Comment, Moderator, utcnow
from moderation.notify import services as notify
from moderation.review.services import change_password
from tests import factories
from tests.conftest import build_app, csrf_token, empty_tables, sign_in
from tests.services import CHROMIUM, need
from tests.test_browser import CHROMIUM_ARGS
from tests.worker import Worker, wait_for

BASE_URL = "http://comments.example.org"
LINK = re.compile(r"https?://[^\s\"<>]+/moderation/email/[^\s\"<>]+")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """What a real SMTP server on loopback received; addresses it is told to refuse get a 550."""

    def __init__(self):
        self.received, self.refuse = [], set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address):
        return [message for recipients, message in self.received if address in recipients]


@pytest.fixture
def smtp():
    """The server, not started yet: `smtp.start()` (a test of a server that is down starts it late)."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.mailbox = mailbox
    # The server's own debug log names every address; it is the test's stand-in for the world's mail, not ours.
    server_log = logging.getLogger("mail.log")
    level = server_log.level
    server_log.setLevel(logging.WARNING)
    yield controller
    server_log.setLevel(level)
    if controller._thread is not None:
        controller.stop()
    else:
        controller.loop.close()


def mail_settings(port, **overrides):
    return {"MODERATION_SMTP_HOST": "127.0.0.1", "MODERATION_SMTP_PORT": port, "MODERATION_SMTP_TIMEOUT": 5.0,
            "MODERATION_BASE_URL": BASE_URL, "MODERATION_MAIL_FROM": "moderation@example.org", **overrides}


@pytest.fixture
def mail_app(make_app, smtp):
    app = make_app(**mail_settings(smtp.port))
    with app.app_context():
        yield app


@pytest.fixture
def web(mail_app):
    """A browser of that app (the suite's `client` belongs to an app of its own, without a mail server)."""
    return mail_app.test_client()


@pytest.fixture
def article(mail_app):
    return factories.make_thread("mailed-article", "An article worth mail")


def subscriber(username, address, notify="instant", since=timedelta(hours=1)):
    """A moderator who turned notifications on `since` ago."""
    moderator = factories.make_moderator(username)
    moderator.email, moderator.notify, moderator.notified_at = address, notify, utcnow() - since
    db.session.commit()
    return moderator


def held(thread, ago=timedelta(minutes=5), **fields):
    """A comment the checks held `ago`."""
    return factories.make_comment(thread, "held", checked_at=utcnow() - ago, **fields)


def time_passes(delta):
    """Every notification time and every check time moves `delta` into the past, as if that much time had passed."""
    for moderator in db.session.scalars(sa.select(Moderator).where(Moderator.notified_at.is_not(None))):
        moderator.notified_at -= delta
    for comment in db.session.scalars(sa.select(Comment).where(Comment.checked_at.is_not(None))):
        comment.checked_at -= delta
    db.session.commit()


def text_of(message):
    return message.get_body(("plain",)).get_content()


def links_in(message):
    return LINK.findall(text_of(message))


def _moderator(username):
    return db.session.scalar(sa.select(Moderator).where(Moderator.username == username))


def _notified_at(username):
    db.session.expire_all()
    return db.session.scalar(sa.select(Moderator.notified_at).where(Moderator.username == username))


def _log_text(handler):
    return "\n".join(line for line in handler.lines if not line.startswith("mail.log")).lower()


def test_held_comments_make_one_email_to_the_subscribed_moderator_only(mail_app, article, smtp, no_email_in_any_log):
    smtp.start()
    subscriber("alice", "alice@example.org")
    subscriber("bob", "bob@example.org", notify="off")
    carol = subscriber("carol", "carol@example.org")
    carol.active = False
    db.session.commit()
    held(article, ago=timedelta(hours=2), body="Old news from before alice turned it on.")
    first = held(article, author_name="Ann Author", email="ann-commenter@example.org", author_ip="203.0.113.7",
                 body="A long comment about the chorus. " * 30, reasons=["3 links, the limit is 2"])
    held(article, author_name="Ben Author", body="Second held comment.")
    factories.make_comment(article, "approved", checked_at=utcnow(), body="Already published.")

    assert notify.notify_moderators() == 1
    [(recipients, message)] = smtp.mailbox.received
    assert recipients == ["alice@example.org"] and message["To"] == "alice@example.org"
    assert message["Subject"] == "2 comments are waiting for moderation"
    text = text_of(message)
    assert "Ann Author" in text and "Ben Author" in text and "An article worth mail" in text
    assert "3 links, the limit is 2" in text and "Second held comment." in text
    assert "A long comment about the chorus." in text and text.count("chorus.") < 15  # the long text is shortened
    assert "Old news" not in text and "Already published." not in text
    assert "ann-commenter@example.org" not in message.as_string() and "203.0.113" not in message.as_string()
    assert f"{BASE_URL}/moderation/" in text and f"{BASE_URL}/moderation/account" in text
    assert "Approve:" in text and "Mark as spam:" in text and len(links_in(message)) == 4
    assert LINK.findall(message.get_body(("html",)).get_content()) == links_in(message)

    assert notify.notify_moderators() == 0, "nothing new: no second email"
    time_passes(timedelta(minutes=10))
    later = held(article, ago=timedelta(minutes=1), body="Held after the first email.")
    assert notify.notify_moderators() == 1
    latest = smtp.mailbox.to("alice@example.org")[-1]
    assert latest["Subject"] == "1 comment is waiting for moderation"
    assert "Held after the first email." in text_of(latest) and first.body[:20] not in text_of(latest)
    assert len(links_in(latest)) == 2 and f"comment {later.id}" in text_of(latest)
    assert len(smtp.mailbox.received) == 2
    assert "alice@example.org" not in _log_text(no_email_in_any_log)


def test_a_digest_comes_at_most_once_a_period_with_the_count_and_the_oldest(mail_app, article, smtp):
    smtp.start()
    subscriber("dora", "dora@example.org", notify="digest", since=timedelta(hours=25))
    comments = [held(article, body=f"Waiting comment {n}.") for n in range(25)]

    assert notify.notify_moderators() == 1
    [digest] = smtp.mailbox.to("dora@example.org")
    assert digest["Subject"] == "25 comments are waiting for moderation"
    text = text_of(digest)
    assert "Waiting comment 0." in text and "Waiting comment 19." in text and "Waiting comment 20." not in text
    assert "5 more in the queue" in text and len(links_in(digest)) == 2 * notify.LISTED

    time_passes(timedelta(hours=1))
    held(article, body="Held just after the digest.")
    assert notify.notify_moderators() == 0, "a second digest within the period"
    time_passes(timedelta(hours=23))
    assert notify.notify_moderators() == 1
    latest = smtp.mailbox.to("dora@example.org")[-1]
    assert latest["Subject"] == f"{len(comments) + 1} comments are waiting for moderation"


def test_no_digest_when_nothing_new_was_held_since_the_last(mail_app, article, smtp):
    smtp.start()
    held(article, ago=timedelta(hours=30))
    subscriber("dora", "dora@example.org", notify="digest", since=timedelta(hours=25))
    assert notify.notify_moderators() == 0 and smtp.mailbox.received == []


def test_while_the_mail_server_is_down_nothing_is_lost_and_the_next_run_sends_it(mail_app, article, smtp,
                                                                                 no_email_in_any_log):
    subscriber("alice", "alice@example.org")
    before = _notified_at("alice")
    held(article, body="Held while the mail server was down.")

    assert notify.notify_moderators() == 0
    assert _notified_at("alice") == before
    assert "not sent, the next run tries again: connectionrefusederror" in _log_text(no_email_in_any_log)

    smtp.start()
    assert notify.notify_moderators() == 1
    [message] = smtp.mailbox.to("alice@example.org")
    assert "Held while the mail server was down." in text_of(message)
    assert _notified_at("alice") > before
    assert "alice@example.org" not in _log_text(no_email_in_any_log)


def test_an_address_the_server_refuses_is_tried_again_and_the_others_still_get_theirs(mail_app, article, smtp,
                                                                                      no_email_in_any_log):
    smtp.mailbox.refuse.add("gone@example.org")
    smtp.start()
    subscriber("alice", "gone@example.org")
    subscriber("bob", "bob@example.org")
    held(article)

    assert notify.notify_moderators() == 1
    assert len(smtp.mailbox.to("bob@example.org")) == 1
    logged = _log_text(no_email_in_any_log)
    assert "not sent, the next run tries again: smtprecipientsrefused" in logged
    assert "mailbox unavailable" not in logged, "the server's answer (which may quote the address) is not logged"
    assert "gone@example.org" not in _log_text(no_email_in_any_log)
    smtp.mailbox.refuse.clear()
    assert notify.notify_moderators() == 1
    assert len(smtp.mailbox.to("gone@example.org")) == 1 and len(smtp.mailbox.to("bob@example.org")) == 1


def test_nothing_is_sent_without_a_mail_server_or_the_services_address(make_app, smtp):
    smtp.start()
    for missing in ({"MODERATION_SMTP_HOST": None}, {"MODERATION_BASE_URL": None}):
        app = make_app(**mail_settings(smtp.port, **missing))
        with app.app_context():
            if db.session.scalar(sa.select(Moderator)) is None:
                subscriber("alice", "alice@example.org")
                held(factories.make_thread())
            assert notify.notify_moderators() == 0
    assert smtp.mailbox.received == []


def test_links_keep_the_path_the_service_is_served_under(make_app, smtp):
    smtp.start()
    app = make_app(**mail_settings(smtp.port, MODERATION_BASE_URL="https://example.org/comments"))
    with app.app_context():
        subscriber("alice", "alice@example.org")
        held(factories.make_thread())
        notify.notify_moderators()
    [message] = smtp.mailbox.to("alice@example.org")
    assert all(url.startswith("https://example.org/comments/moderation/email/") for url in links_in(message))
    assert "https://example.org/comments/moderation/account" in text_of(message)


def test_email_settings_are_optional_even_in_production_and_a_wrong_one_is_named(tmp_path):
    production = {"MODERATION_ENV": "production", "SECRET_KEY": "k" * 40,
                  "MODERATION_DATA_KEY": config.TestingConfig.TEST_DATA_KEY}
    settings = config.load(production, tmp_path)
    assert settings["MODERATION_SMTP_HOST"] is None and settings["MODERATION_BASE_URL"] is None
    settings = config.load({**production, "MODERATION_SMTP_HOST": "mail.example.org", "MODERATION_SMTP_PORT": "587",
                            "MODERATION_SMTP_STARTTLS": "true", "MODERATION_BASE_URL": "https://comments.example.org/"},
                           tmp_path)
    assert (settings["MODERATION_SMTP_PORT"], settings["MODERATION_SMTP_STARTTLS"]) == (587, True)
    assert settings["MODERATION_BASE_URL"] == "https://comments.example.org"
    for wrong, named in [({"MODERATION_BASE_URL": "comments.example.org"}, "MODERATION_BASE_URL must be an http"),
                         ({"MODERATION_SMTP_STARTTLS": "1", "MODERATION_SMTP_SSL": "1"}, "exclude each other"),
                         ({"MODERATION_SMTP_PORT": "70000"}, "MODERATION_SMTP_PORT must be a port number"),
                         ({"MODERATION_MAIL_FROM": "nobody"}, "MODERATION_MAIL_FROM must be an email address")]:
        with pytest.raises(config.ConfigError, match=named):
            config.load({**production, **wrong}, tmp_path)


# The account page.

def _account(web):
    return web.get("/moderation/account").get_data(as_text=True)


def test_a_moderator_turns_notifications_on_and_gets_only_what_is_held_from_then_on(mail_app, article, smtp, web):
    smtp.start()
    factories.make_moderator("alice")
    held(article, ago=timedelta(minutes=1), body="Held before alice turned it on.")
    sign_in(web)
    page = _account(web)
    assert "This service can send email." in page and re.search(r'<input checked[^>]*value="off"', page)

    answer = web.post("/moderation/account", data={"csrf_token": csrf_token(page), "email": "alice@example.org",
                                                      "notify": "instant"})
    assert answer.status_code == 303
    page = _account(web)
    assert 'value="alice@example.org"' in page and re.search(r'<input checked[^>]*value="instant"', page)
    assert notify.notify_moderators() == 0, "the backlog is not mailed"

    time_passes(timedelta(hours=1))
    held(article, body="Held after.")
    assert notify.notify_moderators() == 1
    [message] = smtp.mailbox.to("alice@example.org")
    assert "Held after." in text_of(message) and "Held before" not in text_of(message)


@pytest.mark.parametrize("fields, message", [
    ({"email": "not an address", "notify": "instant"}, "Please enter a valid email address, like name@example.org."),
    ({"email": "", "notify": "digest"}, "Enter the address to send notifications to, or choose Off."),
    ({"email": "a" * 320 + "@example.org", "notify": "instant"}, "That email address is too long."),
    ({"email": "alice@example.org", "notify": "hourly"}, "Not a valid choice"),
])
def test_bad_settings_are_refused_beside_the_field_and_what_was_typed_stays(mail_app, web, fields, message):
    factories.make_moderator("alice")
    sign_in(web)
    answer = web.post("/moderation/account", data={"csrf_token": csrf_token(_account(web)), **fields})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and message in page
    assert f'value="{fields["email"]}"' in page
    alice = _moderator("alice")
    db.session.refresh(alice)
    assert (alice.email, alice.notify) == (None, "off")


def test_the_account_page_says_when_the_service_cannot_send_email(make_app):
    app = make_app(MODERATION_SMTP_HOST=None, MODERATION_BASE_URL=None)
    with app.app_context():
        factories.make_moderator("alice")
        browser = app.test_client()
        sign_in(browser)
        page = _account(browser)
    assert "This service sends no email at the moment." in page
    assert "MODERATION_SMTP_HOST is not set" in page and "MODERATION_BASE_URL is not set" in page


def test_the_account_page_needs_a_sign_in(mail_app, web):
    answer = web.get("/moderation/account")
    assert answer.status_code == 302 and "/moderation/login" in answer.headers["Location"]
    assert web.post("/moderation/account", data={"notify": "instant"}).status_code == 302


# The one-click links.

@pytest.fixture
def mailed(mail_app, article, smtp):
    """alice got an email about one held comment; returns (comment id, {"Approve": url, "Mark as spam": url})."""
    smtp.start()
    subscriber("alice", "alice@example.org")
    comment = held(article, body="Decide on me from your inbox.", email="commenter-x@example.org")
    notify.notify_moderators()
    [message] = smtp.mailbox.to("alice@example.org")
    approve, spam = links_in(message)
    return comment.id, {"approve": approve, "spam": spam}


def _path(url):
    return url.removeprefix(BASE_URL)


def _state(comment_id):
    db.session.expire_all()
    return db.session.get(Comment, comment_id).state


def _press(web, url):
    page = web.get(_path(url))
    return web.post(_path(url), data={"csrf_token": csrf_token(page.get_data(as_text=True))})


def test_a_link_asks_first_and_the_button_approves_as_that_moderator(mailed, web):
    comment_id, links = mailed
    page = web.get(_path(links["approve"]))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Approve this comment?" in html and "Decide on me from your inbox." in html
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert "commenter-x@example.org" not in html
    assert _state(comment_id) == "held", "a GET changes nothing"

    done = web.post(_path(links["approve"]), data={"csrf_token": csrf_token(html)})
    assert done.status_code == 200 and f"Comment {comment_id} approved" in done.get_data(as_text=True)
    assert _state(comment_id) == "approved"
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.comment_id == comment_id)
                               .order_by(AuditEvent.id.desc())).first()
    assert (event.actor, event.moderator.username, event.to_state) == ("alice", "alice", "approved")
    assert "Decide on me from your inbox." in web.get("/threads/mailed-article").get_data(as_text=True)

    again = web.post(_path(links["spam"]), data={"csrf_token": csrf_token(html)})
    assert again.status_code == 409 and "Already decided" in again.get_data(as_text=True)
    assert _state(comment_id) == "approved"


def test_the_spam_link_marks_spam(mailed, web):
    comment_id, links = mailed
    assert "Mark this comment as spam?" in web.get(_path(links["spam"])).get_data(as_text=True)
    assert _press(web, links["spam"]).status_code == 200
    assert _state(comment_id) == "spam"


def test_a_post_without_its_csrf_token_changes_nothing(mailed, web):
    comment_id, links = mailed
    web.get(_path(links["approve"]))
    answer = web.post(_path(links["approve"]), data={})
    assert answer.status_code == 422 and "The page had expired" in answer.get_data(as_text=True)
    assert _state(comment_id) == "held"


def _signed(payload, key="testing-only-secret-key"):
    return URLSafeTimedSerializer(key, salt=notify.LINK_SALT).dumps(payload)


def _refusals():
    """Each way a link can be wrong, as (name, how to break it, expected status, expected title)."""
    def expired(comment_id, url, monkeypatch):
        alice = _moderator("alice")
        hours = current_app.config["MODERATION_EMAIL_LINK_HOURS"]
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - hours * 3600 - 60)
        token = notify.link_token(alice, comment_id, "approve")
        monkeypatch.undo()
        return f"/moderation/email/{token}"

    def tampered(comment_id, url, monkeypatch):
        payload, rest = _path(url).rsplit("/", 1)[1].split(".", 1)
        return f"/moderation/email/{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{rest}"

    def forged(comment_id, url, monkeypatch):
        alice = _moderator("alice")
        return "/moderation/email/" + _signed([alice.id, comment_id, "approve", notify._fingerprint(alice)], "guessed")

    def wrong_action(comment_id, url, monkeypatch):
        alice = _moderator("alice")
        return "/moderation/email/" + _signed([alice.id, comment_id, "reject", notify._fingerprint(alice)])

    def password_changed(comment_id, url, monkeypatch):
        change_password(_moderator("alice"), "a new passphrase")
        return _path(url)

    def address_changed(comment_id, url, monkeypatch):
        _moderator("alice").email = "alice@example.com"
        db.session.commit()
        return _path(url)

    def deactivated(comment_id, url, monkeypatch):
        _moderator("alice").active = False
        db.session.commit()
        return _path(url)

    def deleted(comment_id, url, monkeypatch):
        db.session.execute(sa.delete(Comment).where(Comment.id == comment_id))
        db.session.commit()
        return _path(url)

    def decided_elsewhere(comment_id, url, monkeypatch):
        db.session.get(Comment, comment_id).state = "rejected"
        db.session.commit()
        return _path(url)

    return [
        (expired, 410, "This link has expired"), (tampered, 404, "This link could not be verified"),
        (forged, 404, "This link could not be verified"), (wrong_action, 404, "This link could not be verified"),
        (password_changed, 403, "This link no longer works"), (address_changed, 403, "This link no longer works"),
        (deactivated, 403, "This link no longer works"), (deleted, 404, "That comment no longer exists"),
        (decided_elsewhere, 409, "Already decided"),
    ]


@pytest.mark.parametrize("breaks, status, title", _refusals(), ids=[r[0].__name__ for r in _refusals()])
def test_a_link_that_cannot_be_used_says_why_and_changes_nothing(mailed, web, monkeypatch, breaks, status, title):
    comment_id, links = mailed
    good_page = web.get(_path(links["approve"])).get_data(as_text=True)
    path = breaks(comment_id, links["approve"], monkeypatch)
    before = db.session.get(Comment, comment_id)
    state_before = before.state if before else None
    events_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))

    for answer in (web.get(path), web.post(path, data={"csrf_token": csrf_token(good_page)})):
        assert answer.status_code == status and title in answer.get_data(as_text=True)
        assert answer.headers["Cache-Control"] == "no-store"
    db.session.expire_all()
    after = db.session.get(Comment, comment_id)
    assert (after.state if after else None) == state_before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events_before


# A real worker and a real browser.

def _worker_env(database_url, broker_url, tmp_path, port):
    settings = mail_settings(port, MODERATION_NOTIFY_EVERY=1)
    return {"DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url,
            "MODERATION_INSTANCE_PATH": str(tmp_path / "instance"), **{k: str(v) for k, v in settings.items()}}


@pytest.fixture
def served(tmp_path, smtp):
    """The app on SQLite served over HTTP, and a worker whose scheduler runs the notifications every second."""
    smtp.start()
    database_url, broker_url = f"sqlite:///{tmp_path / 'site.sqlite3'}", f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    server_port = _free_port()
    base = f"http://127.0.0.1:{server_port}"
    app = build_app(database_url, CELERY_BROKER_URL=broker_url, **mail_settings(smtp.port, MODERATION_BASE_URL=base))
    worker = Worker({**_worker_env(database_url, broker_url, tmp_path, smtp.port), "MODERATION_BASE_URL": base},
                    beat=True)
    server = make_server("127.0.0.1", server_port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, base, worker
    server.shutdown()
    worker.stop()
    empty_tables(app)


@pytest.mark.pipeline
def test_the_scheduler_mails_a_held_comment_without_being_asked(served, smtp):
    app, base, worker = served
    with app.app_context():
        subscriber("alice", "alice@example.org")
        held(factories.make_thread("scheduled", "Scheduled article"), body="Mailed by the scheduler.")
    try:
        wait_for(lambda: smtp.mailbox.to("alice@example.org"), timeout=45)
    except AssertionError:
        raise AssertionError(worker.log) from None
    [message] = smtp.mailbox.to("alice@example.org")
    assert "Mailed by the scheduler." in text_of(message) and all(u.startswith(base) for u in links_in(message))
    worker.wait_until_finished({"moderation.notify_moderators": 3})
    assert len(smtp.mailbox.to("alice@example.org")) == 1, "later runs find nothing new"
    assert "alice@example.org" not in worker.log


@pytest.mark.browser
@pytest.mark.pipeline
def test_a_moderator_approves_from_the_email_in_chromium(served, smtp):
    need("chromium")
    from playwright.sync_api import sync_playwright

    app, base, worker = served
    with app.app_context():
        subscriber("alice", "alice@example.org")
        comment_id = held(factories.make_thread("inbox", "Approved from the inbox"), body="Approve me in Chromium.").id
    wait_for(lambda: smtp.mailbox.to("alice@example.org"), timeout=45)
    approve_url = links_in(smtp.mailbox.to("alice@example.org")[0])[0]

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page()
        page.goto(approve_url)
        assert page.get_by_role("heading", name="Approve this comment?").is_visible()
        assert page.get_by_text("Approve me in Chromium.").is_visible()
        page.get_by_role("button", name="Approve").click()
        page.get_by_role("heading", name=f"Comment {comment_id} approved").wait_for()
        page.get_by_role("link", name="See it on the article").click()
        page.get_by_text("Approve me in Chromium.").wait_for()
        assert "awaiting moderation" not in page.content()
        chromium.close()
    with app.app_context():
        assert db.session.get(Comment, comment_id).state == "approved"
