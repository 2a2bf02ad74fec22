"""The first spam checks, run by the check_comment task called as a plain function with an id."""
import pytest

from moderation.extensions import db
from moderation.models import AuditEvent, Comment
from tests import factories
from workers.tasks import check_comment


def _checked(comment):
    check_comment(comment.id)
    db.session.expire_all()
    return db.session.get(Comment, comment.id)


def test_a_clean_comment_is_held_for_a_person_with_only_the_models_low_score(thread):
    comment = _checked(factories.make_comment(thread, "pending", body="Nice article, I learned a lot about threads."))
    assert comment.state == "held"
    assert len(comment.reasons) == 1 and comment.reasons[0].startswith("model: 0.")
    assert comment.spam_score < 0.2
    assert comment.checked_at is not None


def test_more_than_two_links_is_held_with_that_reason(make_app):
    # The model alone would call this spam; with its threshold out of reach, the rule decides.
    app = make_app(MODERATION_SPAM_THRESHOLD=1.01)
    with app.app_context():
        body = "See https://a.example.org and https://b.example.org and www.c.example.org"
        comment = _checked(factories.make_comment(factories.make_thread(), "pending", body=body))
        assert comment.state == "held"
        assert comment.reasons[0] == "3 links, the limit is 2"


@pytest.mark.parametrize("field, value, where", [
    ("body", "Visit my CASINO now", "content"),
    ("author_name", "casino king", "name"),
    ("email", "casino@example.org", "email"),
    ("author_url", "https://casino.example.org", "website"),
    ("user_agent", "CasinoBot/1.0", "user agent"),
])
def test_a_blocked_word_anywhere_is_spam(make_app, field, value, where):
    app = make_app(MODERATION_BLOCKED_WORDS=("casino",))
    with app.app_context():
        thread = factories.make_thread()
        comment = _checked(factories.make_comment(thread, "pending", **{field: value}))
        assert comment.state == "spam"
        assert comment.reasons[0] == f"blocked word 'casino' in the {where}"


def test_a_blocked_ip_is_spam(make_app):
    app = make_app(MODERATION_BLOCKED_WORDS=("203.0.113.",))
    with app.app_context():
        comment = _checked(factories.make_comment(factories.make_thread(), "pending", author_ip="203.0.113.9"))
        assert comment.state == "spam" and "in the IP" in comment.reasons[0]


def test_a_filled_honeypot_is_spam(thread):
    comment = _checked(factories.make_comment(thread, "pending", honeypot=True))
    assert comment.state == "spam" and comment.spam_score == 1.0
    assert comment.reasons[0] == "the hidden field that only robots see was filled in"


def test_the_same_text_from_the_same_author_on_the_same_thread_is_spam(thread):
    first = _checked(factories.make_comment(thread, "pending", body="Same words.", email="twice@example.org"))
    again = _checked(factories.make_comment(thread, "pending", body="Same words.", email="twice@example.org"))
    other_author = _checked(factories.make_comment(thread, "pending", body="Same words.", email="else@example.org"))
    assert first.state == "held" and other_author.state == "held"
    assert again.state == "spam" and again.reasons[0] == f"duplicate of comment {first.id} by the same author on this article"


def test_a_redelivered_check_changes_nothing(thread):
    comment = _checked(factories.make_comment(thread, "pending"))
    assert check_comment(comment.id) is None
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.comment_id == comment.id)).all()
    assert [(e.from_state, e.to_state, e.actor) for e in events] == [(None, "pending", "test"), ("pending", "held", "spam check")]


@pytest.mark.parametrize("mode, trusted, expected", [
    ("never", True, "held"), ("trusted", False, "held"), ("trusted", True, "approved"), ("clean", False, "approved"),
])
def test_auto_approve_follows_the_setting(make_app, mode, trusted, expected):
    app = make_app(MODERATION_AUTO_APPROVE=mode)
    with app.app_context():
        thread = factories.make_thread()
        if trusted:
            factories.make_comment(thread, "approved", email="known@example.org", reader_hash="b" * 64)
        comment = _checked(factories.make_comment(thread, "pending", email="known@example.org", reader_hash="b" * 64,
                                                  body="Thanks, this was a clear explanation."))
        assert comment.state == expected


def test_a_typed_email_alone_does_not_make_a_trusted_author(make_app):
    """Anyone can type an approved author's email; only that author's browser is trusted."""
    app = make_app(MODERATION_AUTO_APPROVE="trusted")
    with app.app_context():
        thread = factories.make_thread()
        factories.make_comment(thread, "approved", email="known@example.org", reader_hash="b" * 64)
        for stranger in ("c" * 64, None):
            comment = _checked(factories.make_comment(thread, "pending", email="known@example.org", reader_hash=stranger,
                                                      body=f"Pretending to be someone else ({stranger})."))
            assert comment.state == "held"


def test_the_models_reason_names_the_strongest_signals_it_saw(thread):
    comment = _checked(factories.make_comment(thread, "pending", body="PLEASE LIKE AND SUBSCRIBE MY CHANNEL!!!!"))
    assert comment.state == "spam"
    assert comment.reasons == ["model: 1.00 spam; strongest signals: repeated !!/??, 'subscribe', 'channel'"]
    assert comment.spam_score > 0.99


def test_the_model_weighs_the_authors_name_too(thread):
    body = "Buy cheap pills online now, best prices"
    plain = _checked(factories.make_comment(thread, "pending", body=body, author_name="Reader"))
    numbered = _checked(factories.make_comment(factories.make_thread(), "pending", body=body, author_name="pills4you2024"))
    assert numbered.spam_score > plain.spam_score


def test_a_rule_that_finds_spam_decides_even_when_no_score_can_reach_the_threshold(make_app):
    app = make_app(MODERATION_SPAM_THRESHOLD=1.01, MODERATION_BLOCKED_WORDS=("casino",))
    with app.app_context():
        thread = factories.make_thread()
        blocked = _checked(factories.make_comment(thread, "pending", body="Play at the casino."))
        first = _checked(factories.make_comment(thread, "pending", body="Same words.", email="twice@example.org"))
        again = _checked(factories.make_comment(thread, "pending", body="Same words.", email="twice@example.org"))
        assert (blocked.state, first.state, again.state) == ("spam", "held", "spam")
        assert again.spam_score == 1.0


def test_someone_elses_copy_is_held_and_scored_by_the_model_alone(thread):
    first = _checked(factories.make_comment(thread, "pending", body="Copied words.", email="original@example.org"))
    copy = _checked(factories.make_comment(thread, "pending", body="Copied words.", email="copier@example.org"))
    assert copy.state == "held"
    assert copy.reasons[0] == f"the same text as comment {first.id} on this article, by someone else"
    assert copy.spam_score == first.spam_score < 0.2


def test_the_same_text_on_another_article_is_no_duplicate(thread):
    _checked(factories.make_comment(thread, "pending", body="Words worth saying twice.", email="twice@example.org"))
    elsewhere = _checked(factories.make_comment(factories.make_thread(), "pending", body="Words worth saying twice.",
                                                email="twice@example.org"))
    assert elsewhere.state == "held" and len(elsewhere.reasons) == 1


def test_a_text_copied_more_than_fifty_times_is_held_even_from_its_own_author(thread):
    """Only the first 50 earlier copies are looked at for the author's own: beyond them, held either way."""
    for n in range(50):
        factories.make_comment(thread, "approved", body="Popular words.", email=f"fan-{n}@example.org")
    own = factories.make_comment(thread, "approved", body="Popular words.", email="late@example.org")
    again = _checked(factories.make_comment(thread, "pending", body="Popular words.", email="late@example.org"))
    assert again.state == "held" and "by someone else" in again.reasons[0]
    assert own.id


def test_a_rule_that_holds_wins_over_auto_approval(make_app):
    app = make_app(MODERATION_AUTO_APPROVE="clean", MODERATION_SPAM_THRESHOLD=1.01)
    with app.app_context():
        body = "See https://a.example.org and https://b.example.org and www.c.example.org"
        comment = _checked(factories.make_comment(factories.make_thread(), "pending", body=body))
        assert comment.state == "held" and comment.reasons[0] == "3 links, the limit is 2"


def test_a_score_that_reaches_the_spam_threshold_exactly_is_spam(make_app):
    app = make_app(MODERATION_AKISMET_KEY="test-key", MODERATION_AKISMET_URL="https://blog.example.org",
                   MODERATION_AKISMET_CLIENT="test-spam", MODERATION_SPAM_THRESHOLD=1.0)
    with app.app_context():
        comment = _checked(factories.make_comment(factories.make_thread(), "pending", body="An ordinary remark."))
        assert comment.state == "spam" and comment.reasons[-1] == "Akismet: spam"


def test_a_score_that_reaches_the_clean_threshold_exactly_is_not_clean(make_app):
    body = "Thanks, this was a clear explanation."
    with make_app().app_context():
        score = _checked(factories.make_comment(factories.make_thread(), "pending", body=body)).spam_score
    assert 0 < score < 0.2
    for threshold, expected in ((score, "held"), (score + 1e-9, "approved")):
        app = make_app(MODERATION_AUTO_APPROVE="clean", MODERATION_CLEAN_THRESHOLD=threshold)
        with app.app_context():
            comment = _checked(factories.make_comment(factories.make_thread(), "pending", body=body))
            assert (comment.spam_score, comment.state) == (score, expected)


@pytest.mark.parametrize("earlier_state, earlier_email, earlier_browser", [
    ("approved", "known@example.org", None),  # an approved comment posted without a browser key
    ("approved", "other@example.org", "b" * 64),  # the same browser under another address
    ("held", "known@example.org", "b" * 64),  # the same author, not yet approved
])
def test_only_an_approved_comment_by_the_same_email_and_browser_makes_a_trusted_author(
        make_app, earlier_state, earlier_email, earlier_browser):
    app = make_app(MODERATION_AUTO_APPROVE="trusted")
    with app.app_context():
        thread = factories.make_thread()
        factories.make_comment(thread, earlier_state, email=earlier_email, reader_hash=earlier_browser)
        browser = earlier_browser if earlier_email == "other@example.org" or earlier_state == "held" else None
        comment = _checked(factories.make_comment(thread, "pending", email="known@example.org", reader_hash=browser,
                                                  body="Thanks, this was a clear explanation."))
        assert comment.state == "held"


def test_a_check_for_a_comment_that_is_gone_does_nothing(thread):
    comment = factories.make_comment(thread, "pending")
    db.session.delete(comment)
    db.session.commit()
    assert check_comment(comment.id) is None


def _link_reasons(comment):
    return [reason for reason in comment.reasons if " links, the limit is " in reason]


def test_html_anchors_count_as_links_whatever_their_case(thread):
    body = '<a href="https://a.example.org">one</a> and <A HREF="https://b.example.org">two</A>'
    assert _link_reasons(_checked(factories.make_comment(thread, "pending", body=body))) == ["4 links, the limit is 2"]


def test_as_many_links_as_the_limit_are_allowed(thread):
    body = "See https://a.example.org and https://b.example.org for more."
    assert _link_reasons(_checked(factories.make_comment(thread, "pending", body=body))) == []


def test_a_blocked_word_never_matches_a_field_left_empty(make_app):
    app = make_app(MODERATION_BLOCKED_WORDS=("xx",))
    with app.app_context():
        comment = _checked(factories.make_comment(factories.make_thread(), "pending", body="Nothing to see.",
                                                  author_url=None, author_ip=None, user_agent=None))
        assert comment.state == "held" and len(comment.reasons) == 1


def test_of_two_copies_by_others_the_reason_names_the_first(thread):
    first = factories.make_comment(thread, "approved", body="Said before.", email="one@example.org")
    factories.make_comment(thread, "approved", body="Said before.", email="two@example.org")
    copy = _checked(factories.make_comment(thread, "pending", body="Said before.", email="three@example.org"))
    assert copy.reasons[0] == f"the same text as comment {first.id} on this article, by someone else"


def test_several_comments_from_one_email_within_the_interval_are_held(make_app):
    from datetime import timedelta

    from moderation.models import utcnow

    app = make_app(MODERATION_FLOOD_INTERVAL=60)
    with app.app_context():
        thread = factories.make_thread()
        factories.make_comment(thread, "approved", email="busy@example.org", body="Two hours ago.",
                               created_at=utcnow() - timedelta(hours=2))
        factories.make_comment(thread, "approved", email="busy@example.org", body="A moment ago.")
        factories.make_comment(thread, "approved", email="someone.else@example.org", body="Someone else, just now.")
        lone = _checked(factories.make_comment(factories.make_thread(), "pending", email="alone@example.org",
                                               body="Thanks, this was a clear explanation."))
        busy = _checked(factories.make_comment(thread, "pending", email="busy@example.org",
                                               body="Thanks, this was a clear explanation."))
        assert lone.reasons == [lone.reasons[0]] and lone.reasons[0].startswith("model: ")
        assert busy.state == "held" and busy.reasons[0] == "2 comments from the same email address within 60 s"
        assert busy.spam_score == lone.spam_score < 0.2, "a flood holds the comment; it does not score it"


def test_a_moderation_word_holds_a_comment_that_would_be_approved_and_says_where(make_app):
    app = make_app(MODERATION_HOLD_WORDS=("refund",), MODERATION_AUTO_APPROVE="clean")
    with app.app_context():
        comment = _checked(factories.make_comment(factories.make_thread(), "pending", author_name="Refund Desk",
                                                  body="Thanks, this was a clear explanation."))
        assert comment.state == "held" and comment.reasons[0] == "moderation word 'refund' in the name"


def test_a_blocked_word_scores_the_comment_as_certain_spam(make_app):
    app = make_app(MODERATION_BLOCKED_WORDS=("casino",))
    with app.app_context():
        comment = _checked(factories.make_comment(factories.make_thread(), "pending", body="Casino bonus."))
        assert (comment.state, comment.spam_score) == ("spam", 1.0)


@pytest.mark.parametrize("mode, why", [("clean", "no check found a problem"), ("trusted", "a trusted author")])
def test_an_auto_approved_comment_says_why_and_counts_as_decided(make_app, mode, why):
    app = make_app(MODERATION_AUTO_APPROVE=mode)
    with app.app_context():
        thread = factories.make_thread()
        factories.make_comment(thread, "approved", email="known@example.org", reader_hash="b" * 64)
        comment = _checked(factories.make_comment(thread, "pending", email="known@example.org", reader_hash="b" * 64,
                                                  body="Thanks, this was a clear explanation."))
        assert comment.state == "approved" and comment.reasons[-1] == f"auto-approved: {why}"
        assert comment.decided_at is not None


def test_the_checkers_history_entry_lists_every_reason_and_a_held_comment_stays_undecided(make_app):
    app = make_app(MODERATION_HOLD_WORDS=("refund",))
    with app.app_context():
        comment = _checked(factories.make_comment(factories.make_thread(), "pending", body="About my refund."))
        event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.comment_id == comment.id)
                                   .order_by(AuditEvent.id.desc())).first()
        assert len(comment.reasons) == 2 and event.reason == "; ".join(comment.reasons)
        assert (event.actor, event.from_state, event.to_state) == ("spam check", "pending", "held")
        assert comment.decided_at is None and comment.checked_at is not None


def test_the_checker_logs_each_verdict_by_comment_id(thread):
    import logging

    lines = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())
    logger, level = logging.getLogger("moderation.spam.services"), logging.getLogger("moderation.spam.services").level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        comment = _checked(factories.make_comment(thread, "pending"))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert lines == [f"comment {comment.id} checked: 'held'"]


def test_a_form_sent_sooner_than_a_person_could_is_held_and_at_the_limit_it_is_not(thread):
    quick = _checked(factories.make_comment(thread, "pending", form_seconds=2.94, body="Quick."))
    steady = _checked(factories.make_comment(thread, "pending", form_seconds=3.0, body="Steady."))
    assert quick.reasons[0] == "form sent 2.9 s after the page was opened (a person takes at least 3 s)"
    assert not any(reason.startswith("form sent") for reason in steady.reasons)


def test_the_models_signals_include_what_the_name_gave_away(thread):
    comment = _checked(factories.make_comment(thread, "pending", author_name="pranks4you2024",
                                              body="Hey, check out my channel for funny pranks and subscribe"))
    assert comment.reasons == ["model: 1.00 spam; strongest signals: digits in the name, 'check out', 'check'"]
