"""Commenters told by email of replies and approvals, against a real SMTP server (aiosmtpd): double opt-in,
one-click unsubscribe (RFC 8058), each email once, retried while the mail server refuses for a while."""
import itertools
import logging
import re
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from celery.signals import task_retry
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from werkzeug.serving import make_server

from moderation import announcements
from moderation.demo import page_server
from moderation.extensions import db
from moderation.models import Comment, Mail, Subscriber, utcnow
from moderation.privacy.crypto import email_index
from moderation.review import services as review
from moderation.subscriptions import outbox
from moderation.subscriptions import services as subscriptions
from tests import factories
from tests.conftest import build_app, csrf_token, empty_tables, form_tokens
from tests.test_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.test_notify import BASE_URL, Mailbox, _free_port, mail_settings, text_of
from tests.test_widget import HOST_PAGE
from workers.mails import send_mail, sweep_mails
from workers.tasks import check_comment, purge_expired

CONFIRM_LINK = re.compile(r"https?://[^\s\"<>]+/subscriptions/confirm/[^\s\"<>]+")
UNSUBSCRIBE_LINK = re.compile(r"https?://[^\s\"<>]+/subscriptions/unsubscribe/[^\s\"<>]+")
ANN, BEN = "ann-subscriber@example.org", "ben-replier@example.org"
TEXTS = itertools.count(1)


class BusyMailbox(Mailbox):
    """The test's mail server: it can answer "try again later" (451, as greylisting does) a number of times."""

    def __init__(self):
        super().__init__()
        self.busy, self.raw = 0, []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.busy:
            self.busy -= 1
            return "451 4.7.1 Greylisted, please try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp():
    mailbox = BusyMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.mailbox = mailbox
    # The server's own debug log names every address; it stands in for the world's mail, not for us.
    server_log = logging.getLogger("mail.log")
    level = server_log.level
    server_log.setLevel(logging.WARNING)
    controller.start()
    yield controller
    controller.stop()
    server_log.setLevel(level)


@pytest.fixture
def mail_app(make_app, smtp):
    app = make_app(**mail_settings(smtp.port))
    with app.app_context():
        yield app


@pytest.fixture
def web(mail_app):
    return mail_app.test_client()


@pytest.fixture
def article(mail_app):
    return factories.make_thread("article", "An article worth a reply")


@pytest.fixture
def moderator(mail_app):
    return factories.make_moderator("alice")


def post(web, key="article", email=ANN, body=None, **fields):
    """A comment through the JSON API, as the widget sends it; its id. Each address writes its own text: the same
    text from another address is a duplicate, which the checks call spam."""
    body = body or f"A first comment: nice article, I learned a lot about threads ({next(TEXTS)})."
    token = web.get(f"/api/v1/threads/{key}/form").get_json()["token"]
    answer = web.post(f"/api/v1/threads/{key}/comments", json={
        "author_name": fields.pop("author_name", email.split("-")[0].title()), "author_email": email,
        "body": body, "form_token": token, **fields})
    assert answer.status_code == 201, answer.get_json()
    comment_id = answer.get_json()["comment"]["id"]
    check_comment(comment_id)  # as the worker does: the confirmation request waits for the checks' verdict
    return comment_id


def decide(moderator, comment_id, action="approve"):
    review.decide(comment_id, action, db.session.merge(moderator))


def announce_and_send():
    """What the worker does after a change: announce it, then run each email's task (plain calls, by id)."""
    announcements.announce()
    db.session.expire_all()
    for mail_id in db.session.scalars(sa.select(Mail.id).where(Mail.state == "pending").order_by(Mail.id)).all():
        send_mail(mail_id)
    db.session.expire_all()


def mails_to(smtp, address):
    return smtp.mailbox.to(address)


def confirmed(web, smtp, moderator, email=ANN, **asked):
    """`email` posts a comment asking for email (replies, unless said otherwise), confirms through the link, and
    the comment is approved; its id."""
    comment_id = post(web, email=email, **(asked or {"notify_replies": True}))
    announce_and_send()
    [request] = [m for m in mails_to(smtp, email) if CONFIRM_LINK.search(text_of(m))]
    press(web, CONFIRM_LINK.search(text_of(request)).group())
    decide(moderator, comment_id)
    announce_and_send()
    return comment_id


def path(url):
    return url.removeprefix(BASE_URL)


def press(web, url):
    page = web.get(path(url)).get_data(as_text=True)
    return web.post(path(url), data={"csrf_token": csrf_token(page)})


def subscriber(email=ANN):
    db.session.expire_all()
    return db.session.scalar(sa.select(Subscriber).where(Subscriber.email_hash == email_index(email)))


def test_the_first_email_asks_to_confirm_and_nothing_else_comes_before_it_is_confirmed(web, article, smtp, moderator,
                                                                                       no_email_in_any_log):
    comment_id = post(web, notify_replies=True)
    announce_and_send()
    [request] = mails_to(smtp, ANN)
    assert request["Subject"] == "Confirm your email address for comment notifications"
    assert request["List-Unsubscribe"] is None and request["List-Unsubscribe-Post"] is None, "not a list yet"
    assert request["Auto-Submitted"] == "auto-generated"
    text = text_of(request)
    assert "An article worth a reply" in text and "of replies to it" in text and "A first comment" not in text
    [link] = CONFIRM_LINK.findall(text)
    assert link.startswith(f"{BASE_URL}/subscriptions/confirm/") and ANN not in link
    assert CONFIRM_LINK.findall(request.get_body(("html",)).get_content()) == [link]

    decide(moderator, comment_id)
    ben = post(web, email=BEN, body="A reply before Ann confirmed.", parent_id=comment_id)
    decide(moderator, ben)
    announce_and_send()
    assert len(mails_to(smtp, ANN)) == 1, "an unconfirmed address gets nothing but the confirmation request"
    assert db.session.scalar(sa.select(Mail.state).where(Mail.comment_id == ben)) == "waiting"

    page = web.get(path(link))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Confirm your email address" in html and ANN not in html
    assert "a•••@example.org" in html and page.headers["Cache-Control"] == "no-store"
    assert subscriber().confirmed_at is None, "a GET (a mail scanner's) confirms nothing"
    assert web.post(path(link), data={}).status_code == 422, "a POST without its CSRF token confirms nothing"
    assert subscriber().confirmed_at is None
    done = web.post(path(link), data={"csrf_token": csrf_token(html)})
    assert done.status_code == 200 and "Your email address is confirmed" in done.get_data(as_text=True)
    assert "one click" in done.get_data(as_text=True) and ANN not in done.get_data(as_text=True)
    assert subscriber().confirmed_at is not None
    announce_and_send()
    [_, waited] = mails_to(smtp, ANN)
    assert "A reply before Ann confirmed." in text_of(waited), "what waited for the confirmation comes with it"

    later = post(web, email=BEN, body="Ben answers Ann, who now gets email.", parent_id=comment_id)
    decide(moderator, later)
    announce_and_send()
    [_, _, reply] = mails_to(smtp, ANN)
    assert reply["Subject"] == "New reply to your comment on “An article worth a reply”"
    [unsubscribe] = UNSUBSCRIBE_LINK.findall(text_of(reply))
    assert reply["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert reply["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"\r\nList-Unsubscribe: <{unsubscribe}>\r\n".encode() in smtp.mailbox.raw[-1], "whole, never encoded"
    text = text_of(reply)
    assert "Ben replied to your comment" in text and "Ben answers Ann, who now gets email." in text
    assert f"{BASE_URL}/threads/article#comment-{later}" in text
    assert BEN not in reply.as_string() and "A reply before Ann confirmed." not in text
    html = reply.get_body(("html",)).get_content()
    assert f"#comment-{later}" in html and unsubscribe in html
    assert len(mails_to(smtp, BEN)) == 0, "Ben asked for nothing"
    announce_and_send()
    assert len(mails_to(smtp, ANN)) == 3, "a second run sends nothing twice"
    assert ANN not in "\n".join(no_email_in_any_log.lines).lower()


def test_held_spam_and_own_replies_send_nothing_and_an_approval_undone_and_redone_sends_once(web, article, smtp,
                                                                                             moderator):
    ann = confirmed(web, smtp, moderator)
    held = post(web, email=BEN, body="A reply still held.", parent_id=ann)
    announce_and_send()
    spam = post(web, email=BEN, body="A spam reply.", parent_id=ann)
    decide(moderator, spam, "spam")
    announce_and_send()
    own = post(web, email=ANN, body="Ann adds to her own comment.", parent_id=ann)
    decide(moderator, own)
    announce_and_send()
    assert len(mails_to(smtp, ANN)) == 1, "only the confirmation request"

    decide(moderator, held)
    decide(moderator, held, "unapprove")
    decide(moderator, held)
    announce_and_send()
    [_, reply] = mails_to(smtp, ANN)
    assert "A reply still held." in text_of(reply)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mail).where(Mail.kind == "reply")) == 1


def test_a_moderators_reply_is_told_and_only_the_direct_replys_author_hears(web, article, smtp, moderator):
    ann = confirmed(web, smtp, moderator)
    ben = confirmed(web, smtp, moderator, email=BEN)
    review.reply(ann, db.session.merge(moderator), "Thanks, Ann: we fixed it.")
    announce_and_send()
    [_, staff] = mails_to(smtp, ANN)
    assert "alice replied to your comment" in text_of(staff) and "we fixed it" in text_of(staff)
    cara = post(web, email="cara-third@example.org", body="Cara answers Ben.", parent_id=ben)
    decide(moderator, cara)
    announce_and_send()
    assert len(mails_to(smtp, ANN)) == 2, "a reply to someone else's comment is not Ann's news"
    assert "Cara answers Ben." in text_of(mails_to(smtp, BEN)[-1])


def test_one_click_unsubscribes_with_a_bare_post_and_a_get_changes_nothing(make_app, web, article, smtp, moderator):
    ann = confirmed(web, smtp, moderator)
    first = post(web, email=BEN, body="First reply.", parent_id=ann)
    decide(moderator, first)
    announce_and_send()
    [_, reply] = mails_to(smtp, ANN)
    url = reply["List-Unsubscribe"].strip("<>")

    stranger = make_app(**mail_settings(smtp.port)).test_client(use_cookies=False)
    page = stranger.get(path(url))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Unsubscribe" in html and ANN not in html and "a•••@example.org" in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert subscriber().unsubscribed_at is None, "a GET (a mail scanner's) unsubscribes nobody"
    waiting = post(web, email=BEN, body="Owed before the click, sent after it.", parent_id=ann)
    decide(moderator, waiting)
    announcements.announce()

    done = stranger.post(path(url), data="List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    assert ANN not in done.get_data(as_text=True)
    assert subscriber().unsubscribed_at is not None
    assert stranger.post(path(url), data="List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded").status_code == 200, "twice is fine"
    later = post(web, email=BEN, body="Nobody hears this one.", parent_id=ann)
    decide(moderator, later)
    announce_and_send()
    assert len(mails_to(smtp, ANN)) == 2, "nothing after the click, not even what was owed before it"
    assert db.session.scalar(sa.select(Mail.state).where(Mail.comment_id == waiting)) == "dropped"
    # The next day (a confirmation request goes to an address once a day at most):
    db.session.execute(sa.update(Subscriber).values(confirmation_sent_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    again = post(web, email=ANN, body="Ann changed her mind and asks again.", notify_replies=True)
    announce_and_send()
    [request] = [m for m in mails_to(smtp, ANN)[2:] if CONFIRM_LINK.search(text_of(m))]
    assert len(mails_to(smtp, ANN)) == 3, "asking again after unsubscribing is asked to confirm, and nothing else"
    press(web, CONFIRM_LINK.search(text_of(request)).group())
    assert subscriber().unsubscribed_at is None
    decide(moderator, again)
    answer = post(web, email=BEN, body="Welcome back, Ann.", parent_id=again)
    decide(moderator, answer)
    announce_and_send()
    assert "Welcome back, Ann." in text_of(mails_to(smtp, ANN)[-1])


def test_the_approval_email_and_the_confirmation_request_at_most_once_a_day(web, article, smtp, moderator):
    first = post(web, body="Tell me when this is out.", notify_approval=True)
    post(web, body="And this one too.", notify_approval=True, notify_replies=True)
    announce_and_send()
    [request] = mails_to(smtp, ANN)
    assert "when it is approved" in text_of(request) and "of replies" not in text_of(request)
    db.session.execute(sa.update(Subscriber).values(confirmation_sent_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    post(web, body="A day later.", notify_replies=True)
    announce_and_send()
    assert len(mails_to(smtp, ANN)) == 2, "a day later, a new request"
    press(web, CONFIRM_LINK.search(text_of(mails_to(smtp, ANN)[-1])).group())

    decide(moderator, first)
    announce_and_send()
    approved = mails_to(smtp, ANN)[-1]
    assert approved["Subject"] == "Your comment on “An article worth a reply” is published"
    assert "Tell me when this is out." in text_of(approved) and f"#comment-{first}" in text_of(approved)
    assert approved["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_comment_approved_before_its_author_confirmed_is_told_once_they_confirm(web, article, smtp, moderator):
    first = post(web, body="Approved while my confirmation waits.", notify_approval=True)
    decide(moderator, first)
    announce_and_send()
    [request] = mails_to(smtp, ANN)
    assert db.session.scalar(sa.select(Mail.state).where(Mail.kind == "approved")) == "waiting"
    press(web, CONFIRM_LINK.search(text_of(request)).group())
    announce_and_send()
    [_, approved] = mails_to(smtp, ANN)
    assert "Approved while my confirmation waits." in text_of(approved)


def test_what_was_sent_and_who_unsubscribed_are_forgotten_after_a_month(web, article, smtp, moderator):
    ann = confirmed(web, smtp, moderator)
    reply = post(web, email=BEN, body="A reply from long ago.", parent_id=ann)
    decide(moderator, reply)
    announce_and_send()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mail).where(Mail.state == "sent")) == 2
    subscriptions.unsubscribe(subscriptions.unsubscribe_token(subscriber()))
    purge_expired()
    assert subscriber() is not None and db.session.scalar(sa.select(sa.func.count()).select_from(Mail)) == 2
    month_ago = utcnow() - timedelta(days=subscriptions.KEEP_DAYS + 1)
    db.session.execute(sa.update(Mail).values(created_at=month_ago))
    db.session.execute(sa.update(Subscriber).values(unsubscribed_at=month_ago))
    db.session.commit()
    purge_expired()
    assert subscriber() is None and db.session.scalar(sa.select(sa.func.count()).select_from(Mail)) == 0


def test_a_refusing_mail_server_is_tried_again_with_backoff_and_a_refused_address_fails_with_why(web, article, smtp,
                                                                                                 moderator):
    retries = []

    def scheduled(request=None, reason=None, **kwargs):
        retries.append(reason.when)

    post(web, notify_replies=True)
    announcements.announce()
    mail_id = db.session.scalar(sa.select(Mail.id))
    smtp.mailbox.busy = 2
    task_retry.connect(scheduled, weak=False)
    try:
        send_mail.apply(args=[mail_id])  # in this process Celery runs each retry at once, reporting its delay
    finally:
        task_retry.disconnect(scheduled)
    assert retries == [60, 120]
    assert len(mails_to(smtp, ANN)) == 1
    db.session.expire_all()
    row = db.session.get(Mail, mail_id)
    assert (row.state, row.attempts, row.sent_at is not None) == ("sent", 3, True)

    smtp.mailbox.refuse.add("gone-reader@example.org")
    post(web, email="gone-reader@example.org", notify_replies=True)
    announcements.announce()
    refused = db.session.scalar(sa.select(Mail.id).where(Mail.state == "pending"))
    send_mail.apply(args=[refused])
    db.session.expire_all()
    row = db.session.get(Mail, refused)
    assert (row.state, row.attempts) == ("failed", 1), "a 550 is final: not retried"
    assert row.error == "the mail server refused the recipient (550)"

    smtp.mailbox.refuse.clear()
    post(web, email="busy-reader@example.org", notify_replies=True)
    announcements.announce()
    busy = db.session.scalar(sa.select(Mail.id).where(Mail.state == "pending"))
    smtp.mailbox.busy = 100
    send_mail.apply(args=[busy])
    db.session.expire_all()
    row = db.session.get(Mail, busy)
    assert (row.state, row.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert row.error == f"the mail server refused the recipient (451); gave up after {outbox.MAX_ATTEMPTS} tries"
    smtp.mailbox.busy = 0


def test_a_lost_send_is_swept_once_and_a_duplicate_task_sends_nothing(web, article, smtp):
    post(web, notify_replies=True)
    announcements.announce()
    mail_id = db.session.scalar(sa.select(Mail.id))
    assert sweep_mails() == 0, "not lost yet: its task is on its way"
    db.session.execute(sa.update(Mail).values(due_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    assert sweep_mails() == 1 and sweep_mails() == 0, "claimed by the first sweep"
    send_mail(mail_id)
    send_mail(mail_id)
    assert len(mails_to(smtp, ANN)) == 1

    post(web, email="other-reader@example.org", notify_replies=True)
    announcements.announce()
    other = db.session.scalar(sa.select(Mail.id).where(Mail.state == "pending"))
    claimed = utcnow() + timedelta(minutes=1)
    db.session.execute(sa.update(Mail).where(Mail.id == other).values(attempts=1, due_at=claimed))
    db.session.commit()
    assert send_mail(other) == "busy", "another task holds it"
    assert mails_to(smtp, "other-reader@example.org") == []


def test_links_that_cannot_be_used_say_why_and_change_nothing(web, article, smtp, mail_app, monkeypatch):
    post(web, notify_replies=True)
    announce_and_send()
    link = CONFIRM_LINK.search(text_of(mails_to(smtp, ANN)[0])).group()
    payload = URLSafeTimedSerializer(mail_app.secret_key, salt=subscriptions.CONFIRM_SALT).loads(link.rsplit("/", 1)[1])
    tampered = web.get(path(link)[:-3] + ("xyz" if not link.endswith("xyz") else "abc"))
    assert tampered.status_code == 404 and "could not be verified" in tampered.get_data(as_text=True)
    forged = URLSafeTimedSerializer("a-guessed-key", salt=subscriptions.CONFIRM_SALT).dumps(payload)
    assert web.get(f"/subscriptions/confirm/{forged}").status_code == 404
    monkeypatch.setattr(TimestampSigner, "get_timestamp",
                        lambda self: int(time.time()) - (subscriptions.CONFIRM_DAYS * 86400 + 60))
    expired = subscriptions.confirm_token(subscriber())
    monkeypatch.undo()
    answer = web.get(f"/subscriptions/confirm/{expired}")
    assert answer.status_code == 410 and "expired" in answer.get_data(as_text=True)
    assert web.post(f"/subscriptions/confirm/{expired}", data={}).status_code == 410
    assert web.post("/subscriptions/unsubscribe/forged-token").status_code == 404
    # Signed with the right key, but naming an id no database can hold (a token made by someone who has the key):
    for huge in (2**63, 10**30, True):
        signed = URLSafeTimedSerializer(mail_app.secret_key, salt=subscriptions.CONFIRM_SALT).dumps([huge, payload[1]])
        assert web.get(f"/subscriptions/confirm/{signed}").status_code == 404
    assert subscriber().confirmed_at is None and subscriber().unsubscribed_at is None


def test_without_a_mail_server_nothing_is_offered_and_nothing_is_owed(make_app, smtp):
    app = make_app(**mail_settings(smtp.port, MODERATION_SMTP_HOST=None))
    with app.app_context():
        factories.make_thread("article", "An article")
        web = app.test_client()
        page = web.get("/threads/article").get_data(as_text=True)
        assert "notify_replies" not in page and "Notify me of replies" not in page
        assert web.get("/api/v1/threads/article/comments").get_json()["email_notifications"] is False
        assert web.get("/api/v1/threads/unknown/comments").get_json()["email_notifications"] is False
        post(web, notify_replies=True, notify_approval=True)
        announce_and_send()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Mail)) == 0
    assert smtp.mailbox.received == []


def test_with_a_mail_server_the_form_offers_both_boxes_and_keeps_the_choice(web, article, post_form_to):
    page = web.get("/threads/article").get_data(as_text=True)
    assert 'name="notify_replies"' in page and "Notify me of replies by email." in page
    assert 'name="notify_approval"' in page and "Tell me by email when my comment is approved." in page
    assert web.get("/api/v1/threads/article/comments").get_json()["email_notifications"] is True
    answer = post_form_to(web, notify_replies="y")
    assert answer.status_code == 303
    comment = db.session.scalar(sa.select(Comment))
    assert (comment.notify_replies, comment.notify_approval) == (True, False)


@pytest.fixture
def post_form_to():
    def post_form(web, key="article", **fields):
        tokens = form_tokens(web.get(f"/threads/{key}").get_data(as_text=True))
        return web.post(f"/threads/{key}", data={**tokens, "author_name": "Ann", "author_email": ANN,
                                                 "author_url": "", "body": "Through the form.", "parent_id": "",
                                                 **fields})
    return post_form


def test_the_api_refuses_a_flag_that_is_not_true_or_false(web, article):
    token = web.get("/api/v1/threads/article/form").get_json()["token"]
    answer = web.post("/api/v1/threads/article/comments", json={
        "author_name": "Ann", "author_email": ANN, "body": "Hello.", "form_token": token, "notify_replies": "often"})
    assert answer.status_code == 422 and "notify_replies" in answer.get_json()["fields"]


@pytest.fixture
def widget_site(tmp_path, smtp):
    """The service (mail configured, no worker: the test runs the tasks) and a host site embedding the widget."""
    host_port = _free_port()
    host = f"http://localhost:{host_port}"
    app = build_app(f"sqlite:///{tmp_path / 'widget.sqlite3'}", MODERATION_ALLOWED_ORIGINS=(host,),
                    **mail_settings(smtp.port))
    service = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    page = HOST_PAGE.format(key="widget-article", service=f"http://127.0.0.1:{service.server_port}", lang="en")
    host_server = page_server(host_port, lambda path: page.encode())
    threading.Thread(target=host_server.serve_forever, daemon=True).start()
    yield app, host
    host_server.shutdown()
    host_server.server_close()
    service.shutdown()
    empty_tables(app)


@pytest.mark.browser
def test_the_widget_offers_email_and_its_choice_reaches_the_comment_in_chromium(widget_site, browser,  # noqa: F811
                                                                                 smtp):
    app, host = widget_site
    page = browser.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{host}/article")
    replies = page.get_by_label("Notify me of replies by email.")
    replies.wait_for()
    assert page.get_by_label("Tell me by email when my comment is approved.").is_visible()
    page.get_by_label("Comment *").fill("Tell me when someone answers.")
    page.get_by_label("Name *").fill("Widget Reader")
    page.get_by_label("Email *").fill("widget-subscriber@example.org")
    replies.check()
    page.get_by_role("button", name="Post Comment").click()
    page.get_by_text("the first email asks you to confirm your address").wait_for()
    with app.app_context():
        comment = db.session.scalar(sa.select(Comment).where(Comment.body == "Tell me when someone answers."))
        assert (comment.notify_replies, comment.notify_approval) == (True, False)
        check_comment(comment.id)
        announce_and_send()
    [request] = smtp.mailbox.to("widget-subscriber@example.org")
    assert CONFIRM_LINK.search(text_of(request))


def test_an_address_that_never_confirmed_is_forgotten_once_its_link_expired(web, article, smtp):
    post(web, notify_replies=True)
    post(web, email=BEN, notify_replies=True)
    announce_and_send()
    press(web, CONFIRM_LINK.search(text_of(mails_to(smtp, BEN)[0])).group())
    long_ago = utcnow() - timedelta(days=subscriptions.CONFIRM_DAYS + 1)
    db.session.execute(sa.update(Subscriber).values(created_at=long_ago, confirmation_sent_at=long_ago))
    db.session.commit()
    purge_expired()  # the scheduled retention task
    assert subscriber(ANN) is None and subscriber(BEN) is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mail)) == 1, "Ann's request went with her"
