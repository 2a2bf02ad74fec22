"""The moderators' console beyond approve and reject: search, the author beside each comment, whole-author actions,
unapprove, trash, delete, empty spam, edit then approve, replies as staff, undo, notes and the audit trail."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from moderation.extensions import db
from moderation.models import AuditEvent, Comment, TrainingExample, utcnow
from moderation.privacy.crypto import ip_index
from moderation.review import services as review
from tests import factories
from tests.conftest import csrf_token, sign_in


@pytest.fixture
def signed_in(client, moderator):
    assert sign_in(client).status_code == 303
    return client


def _token(client, page="/moderation/"):
    return csrf_token(client.get(page).get_data(as_text=True))


def _state(comment_id):
    db.session.expire_all()
    return db.session.scalar(sa.select(Comment.state).where(Comment.id == comment_id))


def _comment(thread, state="held", ip=None, **fields):
    comment = factories.make_comment(thread, state, **fields)
    if ip:
        comment.author_ip, comment.ip_hash = ip, ip_index(ip)
        db.session.commit()
    return comment


def _html(response):
    return response.get_data(as_text=True)


# --- Actions on one comment -----------------------------------------------------------------------------------------

def test_unapprove_takes_a_published_comment_off_the_page_and_back_to_the_queue(signed_in, thread, moderator):
    comment = _comment(thread, "approved", body="Published too soon.")
    assert "Published too soon." in _html(signed_in.get(f"/threads/{thread.key}"))
    answer = signed_in.post(f"/moderation/comments/{comment.id}/unapprove", data={"csrf_token": _token(signed_in)},
                            follow_redirects=True)
    assert "unapproved (back in the queue)" in _html(answer)
    assert _state(comment.id) == "held"
    assert "Published too soon." not in _html(signed_in.get(f"/threads/{thread.key}"))
    assert "Published too soon." in _html(signed_in.get("/moderation/?state=held"))


def test_trash_then_restore_goes_back_to_the_state_it_had(app, thread, moderator):
    comment = _comment(thread, "approved")
    review.decide(comment.id, "trash", moderator)
    assert _state(comment.id) == "trash"
    review.restore(comment.id, moderator)
    assert _state(comment.id) == "approved"
    with pytest.raises(review.DecisionRefused, match="not in the trash"):
        review.restore(comment.id, moderator)


def test_delete_for_good_keeps_the_history_the_lesson_and_the_replies(signed_in, thread, moderator):
    parent = _comment(thread, "approved", body="The parent.")
    spam = _comment(thread, "held", body="Cheap pills here.", parent_id=parent.id)
    reply = _comment(thread, "approved", body="A reply under the spam.", parent_id=spam.id)
    review.decide(spam.id, "spam", moderator)
    spam_id = spam.id
    token = _token(signed_in, "/moderation/?state=spam")
    refused = signed_in.post("/moderation/comments/delete", data={"csrf_token": token, "ids": [str(parent.id)]},
                             follow_redirects=True)
    assert "0 comments deleted for good. 1 skipped" in _html(refused) and _state(parent.id) == "approved"

    done = signed_in.post("/moderation/comments/delete", data={"csrf_token": token, "ids": [str(spam_id)]},
                          follow_redirects=True)
    assert "1 comment deleted for good." in _html(done)
    assert _state(spam_id) is None
    assert db.session.get(Comment, reply.id).parent_id == parent.id, "the reply moved up to the deleted one's parent"
    example = db.session.scalar(sa.select(TrainingExample).where(TrainingExample.text == "Cheap pills here."))
    assert example is not None and example.is_spam, "what the moderator taught was lost with the comment"
    audit = _html(signed_in.get("/moderation/audit?action=delete"))
    assert f"#{spam_id} (deleted)" in audit and "alice" in audit


def test_empty_spam_shows_the_count_first_and_deletes_only_spam(signed_in, thread):
    spams = [_comment(thread, "spam").id for _ in range(3)]
    held = _comment(thread, "held")
    page = signed_in.get("/moderation/empty/spam")
    assert "3 comments in the spam will be deleted for good" in _html(page)
    assert all(_state(c) == "spam" for c in spams), "showing the count deleted something"
    done = signed_in.post("/moderation/empty/spam", data={"csrf_token": csrf_token(_html(page))}, follow_redirects=True)
    assert "3 comments deleted for good from the spam." in _html(done)
    assert [_state(c) for c in spams] == [None, None, None] and _state(held.id) == "held"


def test_spam_and_trash_past_their_retention_are_emptied_by_the_scheduled_purge(app, thread, moderator):
    made = {name: _comment(thread, name.split()[1]) for name in ("old spam", "new spam", "old trash", "old held")}
    month_ago = utcnow() - timedelta(days=31)
    for name in ("old spam", "old trash", "old held"):
        made[name].created_at = month_ago
    db.session.commit()
    ids = {name: comment.id for name, comment in made.items()}
    assert review.empty_expired({"spam": 15, "trash": 30}) == 2
    assert [_state(i) for i in ids.values()] == [None, "spam", None, "held"]
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "delete")).all()
    assert {e.comment_id for e in events} == {ids["old spam"], ids["old trash"]}
    assert {e.actor for e in events} == {"retention"} and "older than its retention period" in events[0].reason


# --- Undo -----------------------------------------------------------------------------------------------------------

def test_undo_takes_back_a_decision_and_what_it_taught(signed_in, thread, moderator):
    comment = _comment(thread, "held", body="Spam to a careless eye.")
    token = _token(signed_in)
    answer = signed_in.post(f"/moderation/comments/{comment.id}/spam", data={"csrf_token": token},
                            headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.get_json()["message"] == f"Comment {comment.id} marked as spam."
    undo_url = answer.get_json()["undo"]
    assert db.session.scalar(sa.select(TrainingExample.is_spam).where(TrainingExample.comment_id == comment.id)) is True

    undone = signed_in.post(undo_url, data={"csrf_token": token}, follow_redirects=True)
    assert "Undone: 1 comment back as before." in _html(undone)
    assert _state(comment.id) == "held"
    assert db.session.scalar(sa.select(TrainingExample).where(TrainingExample.comment_id == comment.id)) is None
    again = signed_in.post(undo_url, data={"csrf_token": token}, follow_redirects=True)
    assert "nothing of yours to undo" in _html(again) and _state(comment.id) == "held"


def test_undo_of_a_bulk_decision_restores_every_comment_but_one_changed_since(app, thread, moderator):
    comments = [_comment(thread, "held") for _ in range(3)]
    done, skipped, batch = review.decide_many([c.id for c in comments], "approve", moderator)
    assert len(done) == 3 and not skipped
    bob = factories.make_moderator("bob")
    review.decide(comments[0].id, "spam", bob)
    with pytest.raises(review.DecisionRefused):
        review.undo(batch, bob)
    restored, skipped = review.undo(batch, moderator)
    assert sorted(restored) == sorted(c.id for c in comments[1:]) and skipped == [comments[0].id]
    assert [_state(c.id) for c in comments] == ["spam", "held", "held"]


def test_a_decision_older_than_the_undo_window_cannot_be_undone(app, thread, moderator):
    comment = _comment(thread, "held")
    batch = review.decide(comment.id, "reject", moderator).batch
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.batch == batch)
                       .values(created_at=utcnow() - review.UNDO_WINDOW - timedelta(seconds=1)))
    db.session.commit()
    with pytest.raises(review.DecisionRefused, match="more than 10 minutes old"):
        review.undo(batch, moderator)
    assert _state(comment.id) == "rejected"


# --- Edit, reply ----------------------------------------------------------------------------------------------------

def test_edit_then_approve_publishes_the_corrected_text_and_keeps_the_original(signed_in, thread):
    comment = _comment(thread, "held", body="Great post! Visit http://spam.example.com now", author_name="Reader")
    page = _html(signed_in.get(f"/moderation/comments/{comment.id}"))
    answer = signed_in.post(f"/moderation/comments/{comment.id}/edit", data={
        "csrf_token": csrf_token(page), "body": "Great post!", "author_name": "Reader", "author_url": "",
        "note": "link removed", "approve": "1"}, follow_redirects=True)
    assert "Saved and approved: comment" in _html(answer)
    db.session.expire_all()
    edited = db.session.get(Comment, comment.id)
    assert (edited.state, edited.body, edited.edited_at is not None) == ("approved", "Great post!", True)
    public = _html(signed_in.get(f"/threads/{thread.key}"))
    assert "Great post!" in public and "spam.example.com" not in public
    history = _html(signed_in.get(f"/moderation/comments/{comment.id}"))
    assert "Visit http://spam.example.com now" in history and "link removed" in history


def test_an_edit_that_fails_validation_keeps_everything_typed(signed_in, thread):
    comment = _comment(thread, "held", body="Original text.")
    page = _html(signed_in.get(f"/moderation/comments/{comment.id}"))
    answer = signed_in.post(f"/moderation/comments/{comment.id}/edit", data={
        "csrf_token": csrf_token(page), "body": "A corrected text that I typed.", "author_name": "",
        "author_url": "not an address", "approve": "1"})
    html = _html(answer)
    assert answer.status_code == 422
    assert "A comment needs an author&#39;s name." in html and "Enter a web address" in html
    assert "A corrected text that I typed." in html and "not an address" in html
    assert _state(comment.id) == "held" and db.session.get(Comment, comment.id).body == "Original text."


def test_undo_of_edit_then_approve_restores_the_text_and_the_state(app, thread, moderator):
    comment = _comment(thread, "held", body="Before.")
    batch = review.edit(comment.id, moderator, body="After.", author_name="Someone", author_url=None,
                        then_approve=True).batch
    review.undo(batch, moderator)
    db.session.expire_all()
    back = db.session.get(Comment, comment.id)
    assert (back.state, back.body, back.edited_at) == ("held", "Before.", None)


def test_a_moderators_reply_is_published_at_once_as_staff_and_approves_the_comment(signed_in, thread, moderator):
    question = _comment(thread, "held", body="How do I reset my router?")
    page = _html(signed_in.get(f"/moderation/comments/{question.id}"))
    answer = signed_in.post(f"/moderation/comments/{question.id}/reply", data={
        "csrf_token": csrf_token(page), "body": "Hold the button for ten seconds.", "approve_parent": "y"},
        follow_redirects=True)
    assert "Your reply is published as comment" in _html(answer)
    reply = db.session.scalar(sa.select(Comment).where(Comment.parent_id == question.id))
    assert (reply.state, reply.staff_id, reply.author_name, reply.spam_score) == ("approved", moderator.id, "alice", None)
    assert _state(question.id) == "approved"
    public = _html(signed_in.get(f"/threads/{thread.key}"))
    assert "How do I reset my router?" in public and "Hold the button for ten seconds." in public
    assert public.count('class="badge staff"') == 1, "the moderator's reply is not marked as staff"


def test_a_reply_to_a_comment_still_held_needs_it_approved_with_it(signed_in, thread):
    question = _comment(thread, "held")
    page = _html(signed_in.get(f"/moderation/comments/{question.id}"))
    answer = signed_in.post(f"/moderation/comments/{question.id}/reply", data={
        "csrf_token": csrf_token(page), "body": "My typed reply."})
    assert answer.status_code == 409 and "Approve it with the reply." in _html(answer)
    assert "My typed reply." in _html(answer), "the moderator's reply was lost"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment).where(Comment.parent_id == question.id)) == 0


# --- Everything from one author or one address ----------------------------------------------------------------------

def test_everything_from_one_author_shows_the_count_then_marks_it_all_spam_and_undoes(signed_in, thread):
    theirs = [_comment(thread, state, email="spammer@example.com") for state in ("held", "held", "approved")]
    theirs.append(_comment(thread, "rejected", email="SPAMMER@example.com "))
    other = _comment(thread, "held", email="someone-else@example.com")
    page = signed_in.get(f"/moderation/comments/{theirs[0].id}/everything-from/author?action=spam")
    assert "Mark as spam: 4 comments" in _html(page)
    assert all(_state(c.id) != "spam" for c in theirs), "counting changed something"
    done = signed_in.post(f"/moderation/comments/{theirs[0].id}/everything-from/author",
                          data={"csrf_token": csrf_token(_html(page)), "action": "spam"}, follow_redirects=True)
    assert "4 comments marked as spam." in _html(done)
    assert [_state(c.id) for c in theirs] == ["spam"] * 4 and _state(other.id) == "held"
    undo = csrf_token(_html(done))
    batch = db.session.scalar(sa.select(AuditEvent.batch).where(AuditEvent.comment_id == theirs[0].id,
                                                                AuditEvent.action == "spam"))
    signed_in.post(f"/moderation/undo/{batch}", data={"csrf_token": undo})
    assert [_state(c.id) for c in theirs] == ["held", "held", "approved", "rejected"]


def test_everything_from_one_address_matches_the_ip_not_the_email(app, thread, moderator):
    same = [_comment(thread, "held", ip="203.0.113.9") for _ in range(2)]
    other = _comment(thread, "held", ip="203.0.113.10")
    assert review.count_for_action(review.author_comments(same[0].id, "address"), "reject") == 2
    done, _, _ = review.decide_everything(same[0].id, "address", "reject", moderator)
    assert sorted(done) == sorted(c.id for c in same) and _state(other.id) == "held"


def test_a_comment_without_an_email_offers_no_whole_author_action(signed_in, thread, moderator):
    staff = review.reply(_comment(thread, "approved").id, moderator, "Staff words.")
    answer = signed_in.get(f"/moderation/comments/{staff.id}/everything-from/author", follow_redirects=True)
    assert "has no email to match others by" in _html(answer)


# --- Search and the author beside each comment ----------------------------------------------------------------------

def test_search_finds_by_text_name_website_email_and_ip(signed_in, thread):
    by_text = _comment(thread, "held", body="Cheap watches for sale.")
    by_name = _comment(thread, "held", author_name="Zelda Quux")
    by_site = _comment(thread, "held", author_url="https://shop.example.net/x")
    by_email = _comment(thread, "held", email="found.me@example.org")
    by_ip = _comment(thread, "held", ip="198.51.100.23")
    percent = _comment(thread, "held", body="Save 100% today")
    found = {
        "watches": by_text, "zelda": by_name, "shop.example.net": by_site, "Found.Me@example.org": by_email,
        "198.51.100.23": by_ip, "100%": percent,
    }
    everyone = (by_text, by_name, by_site, by_email, by_ip, percent)
    token = _token(signed_in)
    for q, comment in found.items():
        html = _html(signed_in.get("/moderation/", query_string={"q": q}))
        rows = [c.id for c in everyone if f'id="queue-{c.id}"' in html]
        assert rows == [comment.id], f"searching {q!r} found {rows}"
        typed = signed_in.post("/moderation/search", data={"csrf_token": token, "q": q, "state": "held"})
        assert typed.status_code == 303
        if comment in (by_email, by_ip):
            assert q.lower() not in typed.headers["Location"].lower(), "an address typed in the search went into a URL"
        html = _html(signed_in.get(typed.headers["Location"]))
        assert [c.id for c in everyone if f'id="queue-{c.id}"' in html] == [comment.id]
        if comment is by_email:
            assert "found.me@example.org" not in html.lower() and "from the email address you searched for" in html
    nothing = _html(signed_in.get("/moderation/", query_string={"q": "_"}))
    assert "No comment held matches that search." in nothing


def test_filters_by_reason_score_and_age_page_like_the_queue(signed_in, thread):
    linky = [_comment(thread, "held", reasons=["3 links, the limit is 2"], spam_score=0.4) for _ in range(3)]
    _comment(thread, "held", reasons=["blocked word 'x' in the content"], spam_score=0.9)
    old = _comment(thread, "held", spam_score=0.1)
    old.created_at = utcnow() - timedelta(days=40)
    db.session.commit()
    html = _html(signed_in.get("/moderation/", query_string={"reason": "link limit"}))
    assert [c.id for c in linky if f'id="queue-{c.id}"' in html] == [c.id for c in linky]
    assert html.count('class="queue-row"') == 3
    scored = _html(signed_in.get("/moderation/", query_string={"score_min": "0.3", "score_max": "0.5"}))
    assert scored.count('class="queue-row"') == 3
    aged = _html(signed_in.get("/moderation/", query_string={"older_than_days": "30"}))
    assert aged.count('class="queue-row"') == 1 and f'id="queue-{old.id}"' in aged
    page, more = review.queue_page("held", limit=2, search=review.Search(reason="link limit"))
    rest, more_after = review.queue_page("held", after_id=page[-1].id, limit=2, search=review.Search(reason="link limit"))
    assert (len(page), more, [c.id for c in rest], more_after) == (2, True, [linky[2].id], False)


def test_a_bad_filter_is_said_beside_it_and_the_queue_still_shows(signed_in, thread):
    held = _comment(thread, "held")
    answer = signed_in.get("/moderation/", query_string={"score_min": "lots", "older_than_days": "-3", "q": "x" * 300})
    html = _html(answer)
    assert answer.status_code == 422
    assert "Score from: Not a valid decimal value." in html and "Between 1 and 36,500 days." in html
    assert f'id="queue-{held.id}"' in html


def test_each_comment_shows_its_authors_record_and_other_comments_from_its_address(signed_in, thread):
    for state in ("approved", "approved", "rejected", "spam"):
        _comment(thread, state, email="regular@example.org", ip="192.0.2.1")
    held = _comment(thread, "held", email="regular@example.org", ip="192.0.2.1")
    html = _html(signed_in.get("/moderation/"))
    assert "2 approved · 1 rejected ·\n    1 spam · 1 held" in html
    assert "everything from this author (5)" in html and "4 other comments from this address" in html
    assert "regular@example.org" not in html and "r•••@example.org" in html
    assert f"/moderation/comments/{held.id}/everything-from/author" in html


def test_tab_counts_stop_at_the_cap_and_follow_the_moderators_own_decisions(signed_in, thread, monkeypatch):
    monkeypatch.setattr(review, "COUNT_CAP", 2)
    held = [_comment(thread, "held") for _ in range(3)]
    review.forget_counts()
    html = _html(signed_in.get("/moderation/"))
    assert 'Held (<span class="count">2+</span>)' in html and "2+ waiting" in html
    answer = signed_in.post(f"/moderation/comments/{held[0].id}/approve", data={"csrf_token": csrf_token(html)},
                            headers={"Accept": "application/json"})
    assert answer.get_json()["counts"]["held"] == 2
    assert 'Held (<span class="count">2</span>)' in _html(signed_in.get("/moderation/"))


# --- The audit trail ------------------------------------------------------------------------------------------------

def test_the_audit_page_filters_by_moderator_action_and_date_and_takes_notes(signed_in, thread, moderator):
    bob = factories.make_moderator("bob")
    mine, bobs = _comment(thread, "held"), _comment(thread, "held")
    review.decide(mine.id, "approve", moderator)
    review.decide(bobs.id, "reject", bob)
    by_bob = _html(signed_in.get("/moderation/audit?moderator=bob"))
    assert f"#{bobs.id}</a>" in by_bob and f"#{mine.id}</a>" not in by_bob
    approvals = _html(signed_in.get("/moderation/audit?action=approve"))
    assert f"#{mine.id}</a>" in approvals and f"#{bobs.id}</a>" not in approvals
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    assert "Nothing matches those filters." in _html(signed_in.get(f"/moderation/audit?since={tomorrow}"))

    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.comment_id == mine.id, AuditEvent.action == "approve"))
    token = csrf_token(approvals)
    saved = signed_in.post(f"/moderation/audit/{event.id}/note", data={"csrf_token": token, "note": "asked the author"},
                           follow_redirects=True)
    assert "Note saved" in _html(saved)
    assert "asked the author" in _html(signed_in.get("/moderation/audit"))
    bobs_event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.comment_id == bobs.id, AuditEvent.action == "reject"))
    refused = signed_in.post(f"/moderation/audit/{bobs_event.id}/note", data={"csrf_token": token, "note": "mine now"},
                             follow_redirects=True)
    assert "Only the moderator who decided" in _html(refused)
    db.session.expire_all()
    assert db.session.get(AuditEvent, bobs_event.id).note is None


def test_a_note_given_with_a_bulk_decision_is_in_the_history(signed_in, thread):
    comments = [_comment(thread, "held") for _ in range(2)]
    signed_in.post("/moderation/comments/bulk", data={"csrf_token": _token(signed_in), "action": "reject",
                                                       "ids": [str(c.id) for c in comments], "note": "off-topic run"})
    html = _html(signed_in.get(f"/moderation/comments/{comments[1].id}"))
    assert "off-topic run" in html and _state(comments[1].id) == "rejected"


def test_the_hourly_purge_empties_spam_past_the_retention_an_administrator_saved(app, thread):
    from moderation.spam import settings as spam_settings
    from workers.tasks import purge_expired

    spam_settings.save({"spam_retention_days": 2, "trash_retention_days": 0})
    made = {name: _comment(thread, name.split()[1]) for name in ("old spam", "new spam", "ancient trash")}
    made["old spam"].created_at = utcnow() - timedelta(days=3)
    made["ancient trash"].created_at = utcnow() - timedelta(days=3000)
    db.session.commit()
    ids = {name: comment.id for name, comment in made.items()}
    purge_expired()
    assert [_state(ids[name]) for name in ("old spam", "new spam", "ancient trash")] == [None, "spam", "trash"]


def test_the_public_api_marks_staff_replies_and_says_when_replies_are_off(api, thread, moderator):
    from moderation.spam import settings as spam_settings

    question = _comment(thread, "approved", body="A reader asks.")
    review.reply(question.id, moderator, "The site answers.")
    client = api.test_client()
    answer = client.get(f"/api/v1/threads/{thread.key}/comments").get_json()
    (asked,) = answer["comments"]
    assert (asked["staff"], asked["replies"][0]["staff"], answer["replies_open"]) == (False, True, True)
    spam_settings.save({"thread_depth": 1})
    assert client.get(f"/api/v1/threads/{thread.key}/comments").get_json()["replies_open"] is False


def test_the_search_box_filters_by_article(signed_in, thread):
    here = _comment(thread, "held", body="Same words.")
    elsewhere = _comment(factories.make_thread("other-article"), "held", body="Same words.")
    moved = signed_in.post("/moderation/search", data={"csrf_token": _token(signed_in), "q": "same words",
                                                        "thread": "other-article", "state": "held"})
    html = _html(signed_in.get(moved.headers["Location"]))
    assert f'id="queue-{elsewhere.id}"' in html and f'id="queue-{here.id}"' not in html
    assert 'name="thread" value="other-article"' in html


def test_a_prolific_authors_counts_stop_at_the_cap(signed_in, thread, monkeypatch):
    monkeypatch.setattr(review, "AUTHOR_COUNT_CAP", 3)
    for _ in range(5):
        _comment(thread, "approved", email="prolific@example.org", ip="192.0.2.7")
    _comment(thread, "held", email="prolific@example.org", ip="192.0.2.7")
    html = _html(signed_in.get("/moderation/"))
    assert "3+ approved · 0 rejected" in html and "everything from this author (3+)" in html
    assert "3+ other comments from this address" in html


def test_undoing_a_bulk_decision_brings_back_what_the_decision_before_it_taught(app, thread, moderator):
    approved, fresh = _comment(thread, "held", body="A fine comment."), _comment(thread, "held", body="Another one.")
    review.decide(approved.id, "approve", moderator)
    _, _, batch = review.decide_many([approved.id, fresh.id], "spam", moderator)
    label = lambda comment_id: db.session.scalar(  # noqa: E731
        sa.select(TrainingExample.is_spam).where(TrainingExample.comment_id == comment_id))
    assert (label(approved.id), label(fresh.id)) == (True, True)
    restored, skipped = review.undo(batch, moderator)
    assert sorted(restored) == sorted([approved.id, fresh.id]) and skipped == []
    assert (_state(approved.id), _state(fresh.id)) == ("approved", "held")
    assert (label(approved.id), label(fresh.id)) == (False, None), "the undone decision still teaches, or the one before it no longer does"


def test_erasing_a_person_takes_what_an_edit_replaced_out_of_the_history(signed_in, thread, moderator):
    from moderation.privacy.services import erase_person

    comment = _comment(thread, "held", body="My secret story.", author_name="Jane Roe", email="jane.roe@example.org",
                       author_url="https://jane.example.org")
    review.edit(comment.id, moderator, body="A story.", author_name="J.", author_url=None, then_approve=True)
    assert "My secret story." in _html(signed_in.get(f"/moderation/comments/{comment.id}"))
    erase_person("jane.roe@example.org", with_text=True)
    history = _html(signed_in.get(f"/moderation/comments/{comment.id}"))
    assert "My secret story." not in history and "Jane Roe" not in history and "jane.example.org" not in history
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.comment_id == comment.id, AuditEvent.detail.is_not(None))) == 0


def test_odd_addresses_and_values_are_answered_without_an_error(signed_in, thread, app):
    admin = factories.make_moderator("root", is_admin=True)
    assert admin.is_admin
    token = _token(signed_in)
    assert signed_in.get("/moderation/empty/trash").status_code == 200
    assert signed_in.get("/moderation/audit?until=9999-12-31").status_code == 422
    assert signed_in.post("/moderation/undo/a%00b", data={"csrf_token": token}).status_code == 303
    root = app.test_client()
    assert sign_in(root, "root").status_code == 303
    for query in ("page=99999999999999999999", "q=%00", "page=-5"):
        assert root.get(f"/moderation/discussion/threads?{query}").status_code == 200, query


def test_the_reason_filter_finds_words_with_accents(signed_in, thread):
    found = _comment(thread, "held", reasons=["moderation word 'café' in the content"])
    html = _html(signed_in.get("/moderation/", query_string={"reason": "café"}))
    assert f'id="queue-{found.id}"' in html


def test_undo_of_a_reply_takes_it_off_the_page_and_the_approval_back(app, thread, moderator):
    question = _comment(thread, "held", body="A question.")
    answer = review.reply(question.id, moderator, "An answer.", approve_parent=True)
    restored, skipped = review.undo(answer.batch, moderator)
    assert sorted(restored) == sorted([question.id, answer.id]) and not skipped
    assert (_state(question.id), _state(answer.id)) == ("held", "trash")


def test_undoing_the_second_of_two_edits_leaves_the_first_undoable(app, thread, moderator):
    comment = _comment(thread, "held", body="Original.")
    first = review.edit(comment.id, moderator, body="First.", author_name="R", author_url=None).batch
    second = review.edit(comment.id, moderator, body="Second.", author_name="R", author_url=None).batch
    review.undo(second, moderator)
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).body == "First." and db.session.get(Comment, comment.id).edited_at
    assert review.undo(first, moderator) == ([comment.id], [])
    db.session.expire_all()
    assert (db.session.get(Comment, comment.id).body, db.session.get(Comment, comment.id).edited_at) == ("Original.", None)


def test_save_and_approve_on_a_comment_approved_meanwhile_saves_nothing_and_keeps_the_typing(signed_in, thread):
    comment = _comment(thread, "held", body="Before.")
    page = _html(signed_in.get(f"/moderation/comments/{comment.id}"))
    review.decide(comment.id, "approve", factories.make_moderator("bob"))
    answer = signed_in.post(f"/moderation/comments/{comment.id}/edit", data={
        "csrf_token": csrf_token(page), "body": "My correction.", "author_name": "R", "author_url": "", "approve": "1"})
    html = _html(answer)
    assert answer.status_code == 409 and "My correction." in html and "it cannot be approved" in html
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).body == "Before."
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.comment_id == comment.id, AuditEvent.action == "edit")) == 0


def test_console_answers_say_how_long_the_server_took(signed_in, client, thread):
    timing = signed_in.get("/moderation/").headers["Server-Timing"]
    assert timing.startswith("app;dur=") and float(timing.split("dur=")[1]) > 0
    assert "Server-Timing" not in client.get(f"/threads/{thread.key}").headers
