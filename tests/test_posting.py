"""Posting a comment, as the service stores it: what is kept of each field, the gate per address, what a reader sees."""
import time

import pytest
import sqlalchemy as sa
from flask import current_app

from moderation.comments import services
from moderation.extensions import db
from moderation.models import AuditEvent, Comment, PostingGate
from moderation.privacy.crypto import ip_index
from moderation.queue import CHECK_COMMENT
from tests import factories


def _post(thread, ip="192.0.2.10", **fields):
    """The service as the form's view calls it, inside a reader's request (its refusals speak the reader's language)."""
    values = {"author_name": "Reader", "author_email": "reader@example.org", "author_url": "", "body": "A comment.",
              "parent_id": None, "honeypot": "", "user_agent": "Browser/1.0"}
    values.update(fields)
    with current_app.test_request_context(f"/threads/{thread.key}", method="POST"):
        return services.post_comment(thread, ip=ip, **values)


def test_a_posted_comment_is_stored_pending_with_each_field_as_kept(app, thread):
    comment = _post(thread, ip="::ffff:192.0.2.10", author_email="  Reader@Example.ORG ", author_url="",
                    honeypot="on", user_agent="U" * 600, referrer="https://r.example/" + "x" * 2100,
                    form_seconds=12.5, reader_hash="c" * 64)
    db.session.expire_all()
    stored = db.session.get(Comment, comment.id)
    assert (stored.state, stored.author_email, stored.author_url, stored.honeypot) == (
        "pending", "reader@example.org", None, True)
    assert (stored.author_ip, stored.ip_hash) == ("192.0.2.10", ip_index("192.0.2.10"))
    assert (len(stored.user_agent), len(stored.referrer), stored.form_seconds, stored.reader_hash) == (
        500, 2000, 12.5, "c" * 64)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.comment_id == comment.id))
    assert (event.from_state, event.to_state, event.actor, event.reason) == (None, "pending", "reader", "posted")


def test_an_empty_user_agent_and_referrer_are_not_stored(app, thread):
    comment = _post(thread, user_agent="", referrer=None, honeypot="")
    db.session.expire_all()
    stored = db.session.get(Comment, comment.id)
    assert (stored.user_agent, stored.referrer, stored.honeypot) == (None, None, False)


def test_a_closed_article_refuses_a_comment_with_a_403_and_a_sentence(app):
    closed = factories.make_thread(comments_open=False)
    with pytest.raises(services.CommentsClosed) as refused:
        _post(closed)
    assert (refused.value.status, refused.value.message, refused.value.field) == (
        403, "Comments are closed on this article.", None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 0


def test_a_reply_to_an_approved_comment_is_stored_under_it(app, thread):
    parent = factories.make_comment(thread, "approved")
    assert _post(thread, parent_id=parent.id).parent_id == parent.id
    with pytest.raises(services.CommentRefused) as refused:
        _post(thread, parent_id=factories.make_comment(thread, "held").id, ip="192.0.2.11")
    assert (refused.value.status, refused.value.field) == (422, "parent_id")


def test_one_address_and_its_ipv6_neighbours_may_post_once_per_interval(make_app):
    app = make_app(MODERATION_FLOOD_INTERVAL=1)
    with app.app_context():
        thread = factories.make_thread()
        _post(thread, ip="2001:db8:1:2::1")
        with pytest.raises(services.TooSoon) as refused:
            _post(thread, ip="2001:db8:1:2::99", author_email="other@example.org")
        assert refused.value.status == 429
        assert refused.value.message == ("You are posting comments too quickly. Please wait 1 seconds between "
                                         "comments; your text is kept below.")
        _post(thread, ip="2001:db8:1:3::1", author_email="neighbour@example.org")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PostingGate)) == 2
        time.sleep(1.05)
        _post(thread, ip="2001:db8:1:2::99", author_email="other@example.org")


def test_without_an_interval_nothing_is_gated(app, thread):
    for n in range(2):
        _post(thread, author_email=f"quick-{n}@example.org")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PostingGate)) == 0


def test_a_reader_sees_approved_comments_and_their_own_awaiting_ones_oldest_first(app, thread):
    approved = factories.make_comment(thread, "approved")
    own = [factories.make_comment(thread, state) for state in ("pending", "held", "spam", "rejected")]
    others = factories.make_comment(thread, "held")
    decided_spam = factories.make_comment(thread, "spam")
    decided_spam.decided_at = decided_spam.created_at
    db.session.commit()
    shown = services.visible_comments(thread, {c.id for c in own} | {decided_spam.id})
    assert [c.id for c in shown] == [approved.id, own[0].id, own[1].id, own[2].id]
    assert [c.id for c in services.visible_comments(thread)] == [approved.id]
    elsewhere = factories.make_comment(factories.make_thread(), "approved")
    assert elsewhere.id not in [c.id for c in services.visible_comments(thread, {elsewhere.id})]
    assert others.id


def test_a_reply_whose_parent_is_not_shown_is_shown_at_the_top(app, thread):
    root = factories.make_comment(thread, "approved")
    hidden = factories.make_comment(thread, "held")
    reply = factories.make_comment(thread, "approved", parent_id=root.id)
    orphan = factories.make_comment(thread, "approved", parent_id=hidden.id)
    tree = services.comment_tree(services.visible_comments(thread))
    assert [(c.id, [child.id for child, _ in children]) for c, children in tree] == [
        (root.id, [reply.id]), (orphan.id, [])]


@pytest.mark.parametrize("key", ["", "x" * 201, "nul\x00key"])
def test_a_key_no_article_can_have_is_not_looked_up(app, key):
    assert services.get_thread(key) is None


def test_the_check_is_queued_for_the_comment_just_posted(app, thread):
    with current_app.extensions["celery"].connection_for_write() as connection:
        queue = connection.SimpleQueue(current_app.config["MODERATION_QUEUE"])
        queue.clear()
        comment = _post(thread)
        message = queue.get(block=False)
        message.ack()
        assert (message.headers["task"], message.payload[0]) == (CHECK_COMMENT, [comment.id])
        queue.close()
