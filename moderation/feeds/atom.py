"""The Atom documents (RFC 4287, replies marked with RFC 4685's thr:in-reply-to), written by a template.

Every address in them is absolute: under MODERATION_BASE_URL when it is set, else as this request reached us.
An entry's id is the comment's address on this service (`/threads/KEY#comment-ID`), which stays the same
whichever page shows it. Its alternate link is where readers read it: the article's own page when the thread
has one (its widget draws the comment under the same anchor, as the JSON API's permalink says), else this
service's thread page, on the page that shows it when a thread is shown a page at a time.
"""
import hashlib
import re
from datetime import datetime, timezone
from typing import NamedTuple
from urllib.parse import urlsplit

from flask import current_app, render_template, request

from ..comments import rendered
from ..comments import services as comments
from ..extensions import db
from . import services
from ..urls import external as _address

# What XML 1.0 cannot carry at all, not even escaped; our forms never store it, an old row or an import might.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# An empty feed still needs an `updated`; nothing is older than this.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ERASED = "<p>This comment was removed at its author's request.</p>"


class Feed(NamedTuple):
    """A written feed: its bytes (first, as rendered.kept measures them), its ETag and its newest change."""

    body: bytes
    etag: str
    updated: datetime


def thread_etag(thread):
    """The thread feed's ETag, known from the thread row alone: a reader asking again costs no comment query."""
    return _etag(_thread_key(thread))


def thread_feed(thread):
    """The thread's feed, written once per version of the thread and kept (comments/rendered.py)."""
    key = _thread_key(thread)
    return rendered.kept(key, lambda: _thread_feed(thread, _etag(key)))


def site_feed():
    """The site's feed, written once per set of newest comments and versions of their threads, and kept."""
    key = ("site atom", str(db.engine.url), current_app.name, services.site_fingerprint(), *_context())
    return rendered.kept(key, lambda: _site_feed(_etag(key)))


def _thread_key(thread):
    return rendered.thread_key(thread, "atom", thread.title, thread.url, *_context())


def _context():
    """What else a feed depends on: its length, how threads are paged, and the address it is written for."""
    return services.FEED_ENTRIES, comments.comments_per_page(), _base()


def _etag(key):
    return hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()


def _thread_feed(thread, etag):
    found = services.thread_comments(thread)
    pages = {thread.id: services.pages_of(thread)} if not thread.url else {}
    entries = [_entry(comment, pages) for comment in found]
    feed = {
        "id": _address("feeds.thread_feed", key=thread.key),
        "title": _xml(f"Comments on {thread.title}"),
        "self": _address("feeds.thread_feed", key=thread.key),
        "alternate": _article(thread),
        "author": _xml(_site()),
        "updated": _newest(entries, thread.created_at),
    }
    return _written(feed, entries, etag)


def _site_feed(etag):
    found = services.site_comments()
    threads = {comment.thread.id: comment.thread for comment in found}
    pages = {thread_id: services.pages_of(thread) for thread_id, thread in threads.items() if not thread.url}
    entries = [_entry(comment, pages) for comment in found]
    site = _site()
    feed = {
        "id": _address("feeds.site_feed"),
        "title": _xml(f"Latest comments on {site}"),
        "self": _address("feeds.site_feed"),
        "alternate": _address("comments.index"),
        "author": _xml(site),
        "updated": _newest(entries, EPOCH),
    }
    return _written(feed, entries, etag)


def _written(feed, entries, etag):
    body = render_template("feeds/atom.xml", feed={**feed, "updated": _stamp(feed["updated"])}, entries=entries)
    return Feed(body.encode("utf-8"), etag, feed["updated"])


def _entry(comment, pages):
    """One comment as an entry: never its author's email (Atom's author/email is left out on purpose)."""
    thread = comment.thread
    erased_text = comment.erased_at is not None and not comment.body
    entry = {
        "id": _comment_id(thread, comment.id),
        "title": _xml(f"Comment by {comment.author_name} on {thread.title}"),
        "author": _xml(comment.author_name),
        "author_uri": _xml(comment.author_url) if _is_web_address(comment.author_url) else None,
        "link": _comment_link(thread, comment.id, pages.get(thread.id, {})),
        "published": _stamp(comment.created_at),
        "changed": _changed(comment),
        "html": ERASED if erased_text else _xml(str(comment.html)),
        "staff": comment.staff_id is not None,
        "in_reply_to": None,
    }
    entry["updated"] = _stamp(entry["changed"])
    if comment.parent_id:
        entry["in_reply_to"] = {"ref": _comment_id(thread, comment.parent_id),
                                "href": _comment_link(thread, comment.parent_id, pages.get(thread.id, {}))}
    return entry


def _changed(comment):
    """When the entry last changed for a reader: written, approved (the moment readers could first see it),
    edited or erased. Approval counts so that a long-held comment moves the feed's Last-Modified forward."""
    return max(moment for moment in (comment.created_at, comment.decided_at, comment.edited_at, comment.erased_at)
               if moment is not None)


def _newest(entries, otherwise):
    return max((entry["changed"] for entry in entries), default=otherwise)


def _comment_id(thread, comment_id):
    return f"{_address('comments.thread', key=thread.key)}#comment-{comment_id}"


def _comment_link(thread, comment_id, pages):
    if thread.url:
        return _xml(f"{thread.url.split('#', 1)[0]}#comment-{comment_id}")
    page = pages.get(comment_id, 1)
    return f"{_address('comments.thread', key=thread.key, page=page if page > 1 else None)}#comment-{comment_id}"


def _article(thread):
    return _xml(thread.url) or _address("comments.thread", key=thread.key)


def _site():
    """Who publishes a feed (Atom wants an author for a feed with no entries yet): the service's host name."""
    return urlsplit(_base()).hostname or "this site"


def _base():
    """The service's public address: MODERATION_BASE_URL, else this request's root."""
    return current_app.config["MODERATION_BASE_URL"] or request.url_root.rstrip("/")


def _is_web_address(value):
    try:
        return bool(value) and urlsplit(value).scheme in ("http", "https")
    except ValueError:  # an imported website such as "http://[oops": shown on no link
        return False


def _stamp(moment):
    """RFC 3339 in UTC, to the second, as feed readers expect."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(text):
    return NOT_XML.sub("", text or "")
