"""The JSON API: approved comments for anyone, the queue for a signed-in moderator. Never an email."""
from flask import Blueprint, abort, current_app, jsonify, request, url_for
from flask_login import current_user

from ..comments import services as comments
from ..ids import parse_id
from ..review import services as review

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_PAGE = 200


def public_comment(comment):
    return {
        "id": comment.id,
        "parent_id": comment.parent_id,
        "author_name": comment.author_name,
        "author_url": comment.author_url,
        "body": comment.body,
        "created_at": comment.created_at.isoformat(),
    }


def queued_comment(comment):
    return {
        "id": comment.id,
        "thread": comment.thread.key,
        "parent_id": comment.parent_id,
        "state": comment.state,
        "author_name": comment.author_name,
        "body": comment.body,
        "score": comment.spam_score,
        "reasons": comment.reasons or [],
        "created_at": comment.created_at.isoformat(),
    }


@bp.get("/threads/<key>/comments")
def thread_comments(key):
    thread = comments.get_thread(key) or abort(404)
    approved = comments.visible_comments(thread)
    return jsonify(thread=thread.key, title=thread.title, comments=[public_comment(c) for c in approved])


@bp.get("/moderation/comments")
def moderation_comments():
    if not current_user.is_authenticated:
        abort(401)
    state = request.args.get("state", "held")
    if state not in review.QUEUE_STATES:
        return jsonify(error=f"state must be one of {', '.join(review.QUEUE_STATES)}"), 400
    thread = request.args.get("thread") or None
    limit = min(parse_id(request.args.get("limit")) or current_app.config["MODERATION_PAGE_SIZE"], MAX_PAGE)
    rows, more = review.queue_page(state, thread, parse_id(request.args.get("after")) or 0, limit)
    next_url = url_for(".moderation_comments", state=state, thread=thread, limit=limit, after=rows[-1].id, _external=True) if more else None
    return jsonify(comments=[queued_comment(c) for c in rows], next=next_url)
