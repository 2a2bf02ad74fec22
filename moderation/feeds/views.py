"""Atom feeds of approved comments, per thread and for the whole site."""
from flask import Blueprint, abort, current_app, request

from ..api import cors
from ..comments import services as comments
from . import atom

bp = Blueprint("feeds", __name__)
# A listed site's pages may read a feed (a "latest comments" box); any other page is simply not told it may.
bp.after_request(cors.allow_listed_origins)

CONTENT_TYPE = "application/atom+xml; charset=utf-8"
# As the public API's answers: a cache may keep a feed this long; the ETag makes asking again cheap.
FEED_MAX_AGE = 30


@bp.get("/threads/<key>/feed.atom")
def thread_feed(key):
    """The thread's newest approved comments; a reader asking again with the ETag it has is answered 304 from the
    thread row alone."""
    thread = comments.get_thread(key) or abort(404)
    etag = atom.thread_etag(thread)
    if request.if_none_match.contains_weak(etag):
        return _not_modified(etag)
    return _answer(atom.thread_feed(thread))


@bp.get("/feed.atom")
def site_feed():
    """The newest approved comments across every thread of the site."""
    return _answer(atom.site_feed())


def _answer(feed):
    response = current_app.response_class(feed.body, content_type=CONTENT_TYPE)
    response.set_etag(feed.etag)
    response.last_modified = feed.updated
    response.headers["Cache-Control"] = f"public, max-age={FEED_MAX_AGE}"
    return response.make_conditional(request)


def _not_modified(etag):
    response = current_app.response_class(status=304)
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={FEED_MAX_AGE}"
    return response
