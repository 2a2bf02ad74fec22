"""`moderation demo --comments N`: synthetic comments in bulk, as a moderator, a reader and the benchmarks meet them."""
from collections import Counter
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import undefer_group

from moderation.cli import cli
from moderation.demo import BIG_THREAD_KEY, COMMON_WORD, RARE_WORD
from moderation.extensions import db
from moderation.models import AuditEvent, Comment, Thread
from moderation.privacy.addresses import truncated_ip
from moderation.privacy.crypto import email_index, ip_index
from tests import factories
from tests.conftest import EMAILS_SEEN, sign_in

COMMENTS = 2000
EXAMPLE_DOMAINS = ("example.org", "example.com", "example.net")


def _demo(app, *args):
    return app.test_cli_runner().invoke(cli, ["demo", *args], catch_exceptions=False)


def _synthetic():
    query = sa.select(Comment).join(Thread).where(Thread.key.like("demo-thread-%")).options(undefer_group("personal"))
    comments = db.session.scalars(query.order_by(Comment.id)).all()
    EMAILS_SEEN.update(c.author_email for c in comments)
    return comments


def test_demo_comments_seeds_the_promised_states_over_many_articles(app):
    result = _demo(app, "--comments", str(COMMENTS))
    assert result.exit_code == 0, result.output
    comments = _synthetic()
    assert Counter(c.state for c in comments) == {"approved": 1600, "held": 200, "spam": 160, "rejected": 40}
    assert len({c.thread_id for c in comments}) == COMMENTS // 500
    assert f"Inserted {COMMENTS:,} synthetic comments" in result.output and "@" not in result.output
    events = db.session.execute(sa.select(AuditEvent.comment_id, AuditEvent.to_state)).all()
    assert {comment_id: state for comment_id, state in events if comment_id in {c.id for c in comments}} == \
        {c.id: c.state for c in comments}


def test_a_second_run_adds_nothing_and_says_so(app):
    _demo(app, "--comments", str(COMMENTS))
    second = _demo(app, "--comments", str(COMMENTS))
    assert "Synthetic comments already present" in second.output and "nothing added" in second.output
    assert len(_synthetic()) == COMMENTS


def test_every_email_decrypts_through_the_orm_matches_its_index_and_is_an_example_address(app):
    _demo(app, "--comments", str(COMMENTS))
    comments = _synthetic()
    assert all(email_index(c.author_email) == c.email_hash for c in comments)
    assert {c.author_email.rpartition("@")[2] for c in comments} == {"example.org", "example.com"}
    per_author = Counter(c.email_hash for c in comments)
    assert len(per_author) >= 20 and per_author.most_common(1)[0][1] >= 10 * min(per_author.values())
    urls = [c.author_url for c in comments if c.author_url] + [t.url for t in db.session.scalars(sa.select(Thread))
                                                               if t.url]
    assert urls and all(urlsplit(url).hostname.endswith(EXAMPLE_DOMAINS) for url in urls)


def test_addresses_are_kept_whole_only_while_a_moderator_may_still_look(app):
    _demo(app, "--comments", str(COMMENTS))
    comments = _synthetic()
    whole = [c for c in comments if c.state == "held" and c.purged_at is None]
    assert whole and all(ip_index(c.author_ip) == c.ip_hash for c in whole)
    decided = [c for c in comments if c.state != "held"]
    assert all(c.author_ip == truncated_ip(c.author_ip) for c in decided)
    assert all(c.user_agent is None for c in comments if c.purged_at) and any(c.user_agent for c in comments)


def test_the_queue_its_json_and_the_long_article_render(app):
    factories.make_moderator("alice")
    _demo(app, "--comments", str(COMMENTS))
    client = app.test_client()
    sign_in(client)
    queue = client.get("/moderation/?state=held")
    assert queue.status_code == 200
    html = queue.get_data(as_text=True)
    assert html.count('class="queue-row"') == app.config["MODERATION_PAGE_SIZE"] and "•••@example." in html
    listed = client.get("/api/v1/moderation/comments?state=held").get_json()
    assert {c["state"] for c in listed["comments"]} == {"held"} and listed["next"]
    article = client.get(f"/threads/{BIG_THREAD_KEY}").get_data(as_text=True)
    assert article.count('<li class="comment"') == 400 and '<ol class="children">' in article


def test_the_search_words_are_common_and_rare(app):
    _demo(app, "--comments", str(COMMENTS))
    held = [c.body.lower() for c in _synthetic() if c.state == "held"]
    assert sum(COMMON_WORD in body for body in held) >= len(held) // 5
    assert sum(RARE_WORD in c.body for c in _synthetic()) == COMMENTS // 1000
