"""The JSON Isso's client reads, made from our comments: its field names, its modes, its paging. Never an email.

Isso's client puts `author` and `website` into its HTML as they come (its server stores them escaped), so they
are escaped here; `text` is our own safe HTML of the comment.
"""
from dataclasses import dataclass
from html import escape
from urllib.parse import urljoin

from flask import current_app, request

from ..privacy.avatars import PLACEHOLDER, avatar_token, avatar_url
from ..privacy.crypto import keyring
from ..subscriptions import services as subscriptions

# Isso's modes: 1 published, 2 awaiting moderation (shown to its author only), 4 deleted but kept for its replies.
PUBLISHED, AWAITING, DELETED = 1, 2, 4
# What Isso's identicons draw for a comment whose avatar is not shown yet (see privacy/avatars.py).
BLANK_HASH = "0" * 16
SORTS = ("oldest", "newest", "upvotes")


@dataclass(frozen=True)
class Paging:
    """Isso's query: `limit` top-level comments from `offset`, `nested_limit` replies each, only those created
    after `after` (a UNIX time, the client of 0.13), under `parent` (one comment's replies), `sort`, `plain`."""

    parent: int | None = None
    limit: int | None = None
    nested_limit: int | None = None
    offset: int = 0
    after: float = 0.0
    sort: str = "oldest"
    plain: bool = False


def public_config():
    """What Isso's client takes from its server's configuration (`GET /config`, and `config` in every thread)."""
    gravatar = current_app.config["MODERATION_GRAVATAR"]
    config = {
        # A reply goes to an approved comment only, so not to one's own comment while it awaits moderation.
        "reply-to-self": False,
        # The form's rules: a name and an email, the email never shown.
        "require-author": True,
        "require-email": True,
        # Reply notifications when this service can send email (the first email asks the address to confirm).
        "reply-notifications": subscriptions.offered(),
        "gravatar": gravatar,
        "feed": feed_endpoint() is not None,
        # No likes here: the client then draws no voting arrows.
        "vote": False,
    }
    if gravatar:
        config["avatar"] = False
    return config


def feed_endpoint():
    """The endpoint of a thread's Atom feed (`/threads/<key>/feed.atom`), when this installation has it."""
    return next((rule.endpoint for rule in current_app.url_map.iter_rules()
                 if rule.rule == "/threads/<key>/feed.atom"), None)


def author_hash(comment):
    """Isso's `hash` (its identicon, and `data-isso-page-author-hashes`): the keyed avatar token, never the email's
    own hash; a moderator's reply has one per moderator, so a site can mark its staff as the page's author."""
    if comment.staff_id is not None:
        return keyring().index(f"staff {comment.staff_id}", "avatar")[:16]
    token = avatar_token(comment)
    return BLANK_HASH if token == PLACEHOLDER else token


def comment_answer(comment, mode, plain=False):
    answer = {
        "id": comment.id,
        "parent": comment.parent_id,
        "text": comment.body if plain else str(comment.html),
        "author": escape(comment.author_name),
        "website": escape(comment.author_url, quote=True) if comment.author_url else None,
        "mode": mode,
        "created": comment.created_at.timestamp(),
        "modified": comment.edited_at.timestamp() if comment.edited_at else None,
        "likes": 0,
        "dislikes": 0,
        "hash": author_hash(comment),
    }
    if current_app.config["MODERATION_GRAVATAR"]:
        answer["gravatar_image"] = urljoin(request.host_url, avatar_url(comment))
    return answer


def deleted_answer(entry_id, created_at, parent=None):
    return {"id": entry_id, "parent": parent, "text": "", "author": None, "website": None, "mode": DELETED,
            "created": created_at.timestamp(), "modified": None, "likes": 0, "dislikes": 0, "hash": BLANK_HASH}


def mode_of(comment):
    return PUBLISHED if comment.state == "approved" else AWAITING


def _entry_answer(entry, parent, plain):
    if entry.comment is None:
        return deleted_answer(entry.id, entry.created_at, parent)
    answer = comment_answer(entry.comment, mode_of(entry.comment), plain)
    answer["parent"] = parent  # the top-level comment: Isso's client nests one level
    return answer


def _window(entries, limit, offset, after, sort):
    """(the entries asked for, how many of those after `after` were left out)."""
    chosen = [entry for entry in entries if entry.created_at.timestamp() > after]
    if sort == "newest":
        chosen.reverse()
    page = chosen[offset:] if limit is None else chosen[offset:offset + limit]
    return page, max(len(chosen) - len(page) - offset, 0), len(chosen)


def thread_answer(tree, paging):
    """The answer to `GET /?uri=`: the page of top-level comments (or of one comment's replies) with their replies."""
    if paging.parent is not None:
        root = next((entry for entry in tree if entry.id == paging.parent), None)
        page, hidden, total = _window(root.replies if root else [], paging.limit, paging.offset, paging.after,
                                      paging.sort)
        replies = [_entry_answer(entry, paging.parent, paging.plain) for entry in page]
        return {"id": paging.parent, "total_replies": total, "hidden_replies": hidden, "replies": replies,
                "config": public_config()}
    page, hidden, _ = _window(tree, paging.limit, paging.offset, paging.after, paging.sort)
    # The whole thread's comments, as Isso 0.14 counts them for "N Comments" (a placeholder is not one).
    every = [entry for root in tree for entry in (root, *root.replies) if entry.comment is not None]
    total = sum(entry.created_at.timestamp() > paging.after for entry in every)
    return {"id": None, "total_replies": total, "hidden_replies": hidden,
            "replies": [_with_replies(entry, paging) for entry in page], "config": public_config()}


def _with_replies(entry, paging):
    answer = _entry_answer(entry, None, paging.plain)
    replies, hidden, total = _window(entry.replies, paging.nested_limit, 0, paging.after, paging.sort)
    answer.update(total_replies=total, hidden_replies=hidden,
                  replies=[_entry_answer(reply, entry.id, paging.plain) for reply in replies])
    return answer
