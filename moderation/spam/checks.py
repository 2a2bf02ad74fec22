"""The rule checks: each looks at one comment and may return a finding a moderator can read."""
import re
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Comment

URL_PATTERN = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
# Enough earlier copies to find the author's own among them; a text copied more often is held either way.
DUPLICATES_LOOKED_AT = 50


@dataclass(frozen=True)
class Finding:
    """What one check found: `verdict` is "spam" or "hold"; `reason` is shown to moderators."""

    verdict: str
    score: float
    reason: str


def count_links(comment):
    return len(URL_PATTERN.findall(comment.body)) + comment.body.lower().count("<a ")


def link_limit(comment, settings):
    links, limit = count_links(comment), settings["link_limit"]
    if links > limit:
        return Finding("hold", 0.5, f"{links} links, the limit is {limit}")
    return None


def _fields(comment):
    return {
        "content": comment.body,
        "name": comment.author_name,
        "email": comment.author_email,
        "website": comment.author_url or "",
        "IP": comment.author_ip or "",
        "user agent": comment.user_agent or "",
    }


def _word_in(words, comment):
    for where, text in _fields(comment).items():
        lowered = text.lower()
        for word in words:
            if word and word.lower() in lowered:
                return word, where
    return None


def blocked_words(comment, settings):
    found = _word_in(settings["blocked_words"], comment)
    return Finding("spam", 1.0, f"blocked word {found[0]!r} in the {found[1]}") if found else None


def hold_words(comment, settings):
    found = _word_in(settings["hold_words"], comment)
    return Finding("hold", 0.5, f"moderation word {found[0]!r} in the {found[1]}") if found else None


def honeypot(comment, settings):
    if comment.honeypot:
        return Finding("spam", 1.0, "the hidden field that only robots see was filled in")
    return None


def _same_author(row, comment):
    return any(mine is not None and mine == theirs for mine, theirs in (
        (comment.email_hash, row.email_hash), (comment.reader_hash, row.reader_hash), (comment.ip_hash, row.ip_hash)))


def duplicate(comment, settings):
    """Spam when the same author repeats a text on an article; held when someone else's text is copied.

    Either way the comment is not published and its author sees it awaiting moderation, so posting
    a copy of a public comment under a guessed email tells nothing about whose email it is.
    """
    earlier = db.session.execute(
        sa.select(Comment.id, Comment.email_hash, Comment.reader_hash, Comment.ip_hash).where(
            Comment.thread_id == comment.thread_id, Comment.body == comment.body, Comment.id < comment.id,
        ).order_by(Comment.id).limit(DUPLICATES_LOOKED_AT)
    ).all()
    if not earlier:
        return None
    mine = next((row.id for row in earlier if _same_author(row, comment)), None)
    if mine is not None:
        return Finding("spam", 1.0, f"duplicate of comment {mine} by the same author on this article")
    return Finding("hold", 0.5, f"the same text as comment {earlier[0].id} on this article, by someone else")


def email_flood(comment, settings):
    """The form's flood check counts addresses only (counting emails would tell who posted); this one counts emails."""
    interval = current_app.config["MODERATION_FLOOD_INTERVAL"]
    if not (interval and comment.email_hash):
        return None
    recent = db.session.scalar(sa.select(sa.func.count()).where(
        Comment.email_hash == comment.email_hash, Comment.id != comment.id,
        Comment.created_at.between(comment.created_at - timedelta(seconds=interval), comment.created_at)))
    if recent:
        return Finding("hold", 0.5, f"{recent + 1} comments from the same email address within {interval} s")
    return None


def too_fast(comment, settings):
    """A person reads the article and types; a script posts the form the moment it has it."""
    least = settings["min_form_seconds"]
    if comment.form_seconds is not None and comment.form_seconds < least:
        return Finding("hold", 0.5, f"form sent {comment.form_seconds:.1f} s after the page was opened (a person takes at least {least:g} s)")
    return None


CHECKS = (honeypot, blocked_words, duplicate, email_flood, hold_words, link_limit, too_fast)


def run_checks(comment, settings):
    return [finding for check in CHECKS if (finding := check(comment, settings)) is not None]
