"""Moderators' decisions teach the model: examples, retraining, a new version in use, and the CLI."""
import json
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import Retry

from moderation import leases
from moderation.cli import cli
from moderation.extensions import db
from moderation.models import Comment, Lease, SpamModelVersion, TrainingExample, utcnow
from moderation.review import services as review
from moderation.spam.learning import RETRAIN_LEASE, retrain_lease_seconds
from moderation.spam.store import current_model
from tests import factories
from workers.tasks import check_comment, learn_from_decision

SAMPLE = str(Path(__file__).parent / "fixtures" / "spam_sample.csv")
NEW_SPAM = "Like this comment if you are watching in 2026 and like this comment"


def _run(app, *args):
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def learning_app(make_app):
    app = make_app(MODERATION_MIN_TRAINING_EXAMPLES=20)
    with app.app_context():
        assert _run(app, "spam", "train", "--csv", SAMPLE).exit_code == 0
        yield app


def _examples():
    return {e.comment_id: (e.is_spam, e.weight) for e in db.session.scalars(db.select(TrainingExample).where(TrainingExample.source == "moderator"))}


@pytest.mark.parametrize("action, label", [("approve", False), ("spam", True)])
def test_a_decision_becomes_a_weighted_example(learning_app, action, label):
    moderator = factories.make_moderator()
    comment = factories.make_comment(factories.make_thread(), "held")
    review.decide(comment.id, action, moderator)
    learn_from_decision(comment.id)
    assert _examples() == {comment.id: (label, 3.0)}


def test_not_spam_is_a_ham_example_and_reject_teaches_nothing(learning_app):
    moderator = factories.make_moderator()
    thread = factories.make_thread()
    wrongly_spam, off_topic = factories.make_comment(thread, "spam"), factories.make_comment(thread, "held")
    review.decide(wrongly_spam.id, "not-spam", moderator)
    review.decide(off_topic.id, "spam", moderator)
    for comment in (wrongly_spam, off_topic):
        learn_from_decision(comment.id)
    assert _examples() == {wrongly_spam.id: (False, 3.0), off_topic.id: (True, 3.0)}
    review.decide(off_topic.id, "reject", moderator)
    learn_from_decision(off_topic.id)
    assert _examples() == {wrongly_spam.id: (False, 3.0)}


def test_decisions_retrain_the_model_and_the_next_check_uses_the_new_version(learning_app):
    moderator = factories.make_moderator()
    thread = factories.make_thread()
    before = float(current_model().scores([NEW_SPAM])[0])
    first_version = current_model().info["version"]
    for n in range(6):
        comment = factories.make_comment(thread, "held", body=f"{NEW_SPAM} number {n}")
        review.decide(comment.id, "spam", moderator)
        learn_from_decision(comment.id)
    latest = db.session.scalar(db.select(db.func.max(SpamModelVersion.id)))
    assert latest > first_version
    assert current_model().info["version"] == latest
    after = float(current_model().scores([NEW_SPAM])[0])
    assert after > before + 0.2, (before, after)
    fresh = factories.make_comment(thread, "pending", body=NEW_SPAM, author_name="")
    check_comment(fresh.id)
    db.session.expire_all()
    checked = db.session.get(Comment, fresh.id)
    assert checked.spam_score == pytest.approx(after, abs=0.05), (checked.reasons, current_model().info)


def test_a_redelivered_learning_task_trains_nothing_new(learning_app):
    moderator = factories.make_moderator()
    comment = factories.make_comment(factories.make_thread(), "held")
    review.decide(comment.id, "approve", moderator)
    learn_from_decision(comment.id)
    versions = db.session.scalar(db.select(db.func.count()).select_from(SpamModelVersion))
    assert learn_from_decision(comment.id) is None
    assert db.session.scalar(db.select(db.func.count()).select_from(SpamModelVersion)) == versions


def _versions():
    return db.session.scalar(db.select(db.func.count()).select_from(SpamModelVersion))


def test_a_burst_of_decisions_retrains_once_with_every_example(learning_app):
    """Twenty comments cleared one after another, their follow-ups run afterwards in order: one new version."""
    moderator = factories.make_moderator()
    thread = factories.make_thread()
    comments = [factories.make_comment(thread, "held", body=f"{NEW_SPAM} burst {n}") for n in range(5)]
    before = _versions()
    for comment in comments:
        review.decide(comment.id, "spam", moderator)
    results = [learn_from_decision(comment.id) for comment in comments]
    assert results[:-1] == [None] * 4, "an older decision's follow-up must leave retraining to the newest one's"
    assert _versions() == before + 1
    newest = db.session.scalars(db.select(SpamModelVersion).order_by(SpamModelVersion.id.desc())).first()
    assert newest.examples == db.session.scalar(db.select(db.func.count()).select_from(TrainingExample))
    assert set(_examples()) == {comment.id for comment in comments}


def test_a_bulk_decision_retrains_once(learning_app):
    moderator = factories.make_moderator()
    thread = factories.make_thread()
    ids = [factories.make_comment(thread, "held", body=f"{NEW_SPAM} bulk {n}").id for n in range(4)]
    before = _versions()
    done, skipped, _ = review.decide_many(ids, "spam", moderator)
    assert (done, skipped) == (ids, [])
    for comment_id in reversed(ids):  # follow-ups may arrive in any order: still one retraining
        learn_from_decision(comment_id)
    assert _versions() == before + 1


def test_the_example_is_kept_with_the_decision_even_if_its_follow_up_is_lost(learning_app):
    moderator = factories.make_moderator()
    comment = factories.make_comment(factories.make_thread(), "held")
    review.decide(comment.id, "spam", moderator)
    assert _examples() == {comment.id: (True, 3.0)}, "the example is stored in the decision's own commit"


def test_too_few_examples_keep_the_seed_model(make_app):
    app = make_app()
    with app.app_context():
        moderator = factories.make_moderator()
        comment = factories.make_comment(factories.make_thread(), "held")
        review.decide(comment.id, "spam", moderator)
        assert learn_from_decision(comment.id) is None
        assert current_model().info["version"] == "seed"


def test_spam_evaluate_prints_one_json_object(learning_app):
    result = json.loads(_run(learning_app, "spam", "evaluate", "--csv", SAMPLE).output)
    assert result["n"] == 60 and result["mcc"] > 0.9 and not result["online"]
    assert {"accuracy", "precision", "recall", "f1", "roc_auc", "spam_threshold_precision", "spam_threshold_recall"} <= set(result)
    online = json.loads(_run(learning_app, "spam", "evaluate", "--csv", SAMPLE, "--online", "--batch", "30").output)
    assert online["online"] and online["n"] == 60


def test_spam_retrain_rebuilds_from_every_example(learning_app):
    result = _run(learning_app, "spam", "retrain")
    assert result.exit_code == 0 and "trained on 60 examples (30 spam)" in result.output


def test_a_csv_without_the_columns_is_refused_with_a_sentence(learning_app, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,spam\nhello,1\n")
    result = learning_app.test_cli_runner().invoke(cli, ["spam", "train", "--csv", str(bad)])
    assert result.exit_code != 0 and "needs a 'CONTENT' column and a label column" in result.output


def test_one_retraining_at_a_time_across_machines(learning_app):
    """Another machine is retraining (it holds the lease): this decision's task waits and tries again rather than
    train a second model beside it, and retrains once the other is done, on every example."""
    moderator = factories.make_moderator()
    comment = factories.make_comment(factories.make_thread(), "held")
    review.decide(comment.id, "spam", moderator)
    elsewhere = leases.take(RETRAIN_LEASE, 600)
    assert elsewhere and leases.take(RETRAIN_LEASE, 600) is None, "a lease has one holder"
    before = _versions()
    with pytest.raises(Retry):
        learn_from_decision(comment.id)
    assert _versions() == before
    result = _run(learning_app, "spam", "retrain")
    assert result.exit_code != 0 and "another retraining is running" in result.output
    leases.give_back(RETRAIN_LEASE, elsewhere)
    assert learn_from_decision(comment.id) is not None
    assert _versions() == before + 1


def test_a_lease_whose_holder_died_frees_itself_when_its_time_is_up(learning_app):
    died = leases.take(RETRAIN_LEASE, 600)
    db.session.execute(db.update(Lease).values(held_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    taken = leases.take(RETRAIN_LEASE, 600)
    assert taken and taken != died
    leases.give_back(RETRAIN_LEASE, died)  # too late: no longer its to give back
    assert leases.take(RETRAIN_LEASE, 600) is None


def test_a_retraining_that_waited_for_the_lease_longer_than_it_can_last_gives_up(learning_app, caplog):
    """A holder that died frees the lease within its time; waiting longer than that, something else is wrong: the
    task stops retrying (the example stays stored for the next retraining) and says so."""
    moderator = factories.make_moderator()
    comment = factories.make_comment(factories.make_thread(), "held")
    review.decide(comment.id, "spam", moderator)
    held = leases.take(RETRAIN_LEASE, 600)
    with pytest.raises(Retry):
        learn_from_decision(comment.id, waited_for_lease=retrain_lease_seconds() - 1)
    assert learn_from_decision(comment.id, waited_for_lease=retrain_lease_seconds() + 1) is None
    assert "the lease stayed taken" in caplog.text
    leases.give_back(RETRAIN_LEASE, held)
