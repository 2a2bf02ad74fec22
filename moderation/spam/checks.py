"""The rule checks: each looks at one comment and may return a finding a moderator can read."""
import re
from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import Comment

URL_PATTERN = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)


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


def duplicate(comment, settings):
    earlier = db.session.scalar(
        sa.select(Comment.id).where(
            Comment.thread_id == comment.thread_id,
            Comment.author_email == comment.author_email,
            Comment.body == comment.body,
            Comment.id < comment.id,
        ).limit(1)
    )
    if earlier is not None:
        return Finding("spam", 1.0, f"duplicate of comment {earlier} by the same author on this article")
    return None


def too_fast(comment, settings):
    """A person reads the article and types; a script posts the form the moment it has it."""
    least = settings["min_form_seconds"]
    if comment.form_seconds is not None and comment.form_seconds < least:
        return Finding("hold", 0.5, f"form sent {comment.form_seconds:.1f} s after the page was opened (a person takes at least {least:g} s)")
    return None


CHECKS = (honeypot, blocked_words, duplicate, hold_words, link_limit, too_fast)


def run_checks(comment, settings):
    return [finding for check in CHECKS if (finding := check(comment, settings)) is not None]
