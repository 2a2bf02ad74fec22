"""The reader's pages: the list of threads and an article's comments with the "Leave a Reply" form."""
from types import SimpleNamespace

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale, get_timezone, gettext
from markupsafe import Markup
from sqlalchemy.exc import OperationalError

from .. import errors
from ..extensions import limiter
from ..ids import parse_id
from . import reader, rendered, services
from .forms import CommentForm, opened_stamp

bp = Blueprint("comments", __name__)


def _post_limit():
    return current_app.config["MODERATION_POST_LIMIT"]


@bp.get("/")
def index():
    return render_template("comments/index.html", threads=services.list_threads())


@bp.get("/threads/<key>")
def thread(key):
    thread = services.get_thread(key) or abort(404)
    saved = reader.prefilled(reader.saved_details())
    form = CommentForm(data={**saved, "remember": bool(saved)})
    return _page(thread, form)


@bp.post("/threads/<key>")
@limiter.limit(_post_limit, methods=["POST"])
def post(key):
    thread = services.get_thread(key) or abort(404)
    form = CommentForm()
    if not form.validate_on_submit():
        return _page(thread, form, status=422)
    try:
        comment = services.post_comment(
            thread, **_fields(form), ip=request.remote_addr, user_agent=request.user_agent.string,
            reader_hash=reader.reader_hash(reader.reader_key()),
        )
    except services.CommentRefused as refused:
        return _page(thread, form, status=refused.status, problem=refused)
    reader.remember_own_comment(comment.id)
    page = services.page_of(thread, comment.id, reader.own_comment_ids())
    response = redirect(url_for(".thread", key=key, page=page if page > 1 else None, _anchor=comment.anchor), code=303)
    return reader.keep_details(response, form)


@bp.errorhandler(413)
def too_large(error):
    """The form cannot be read back, but the browser still has it: say what to do with it."""
    message = gettext("That was more than can be sent at once (a comment can be at most 10,000 characters), so "
                      "nothing was posted. Go back: your text is still in the form, ready to be shortened.")
    return render_template("error.html", code=413, message=message), 413


@bp.errorhandler(429)
def too_many(error):
    """A rate limit must not cost the reader their text: the form comes back with it."""
    thread = services.get_thread(request.view_args.get("key", "")) if request.view_args else None
    if request.method != "POST" or thread is None:
        return render_template("error.html", code=429, message=str(error.description)), 429
    problem = services.TooSoon(gettext("You are posting comments too quickly. Please wait a minute; your text is kept "
                                       "below."))
    return _page(thread, CommentForm(), status=429, problem=problem)


@bp.errorhandler(OperationalError)
def database_unreachable(error):
    """The reader's text must survive a database outage: the form comes back filled in, with a 503."""
    response = errors.database_unreachable(error)
    if request.endpoint != "comments.post":
        return response
    # Nothing of the thread can be read now: the form stands alone under a heading that says what happened.
    thread = SimpleNamespace(key=request.view_args["key"], title=gettext("Your comment was not posted yet"), url=None,
                             comments_open=True)
    html = render_template("comments/thread.html", thread=thread, form=CommentForm(), comments_html="",
                           page=services.ThreadPage([], 1, 1), comments_open=True, replies=False,
                           problem=services.CommentRefused(str(errors.UNAVAILABLE)), opened_stamp=opened_stamp())
    return html, 503, {"Retry-After": str(errors.RETRY_AFTER_SECONDS), "Cache-Control": "private, no-store"}


def _fields(form):
    return {
        "author_name": form.author_name.data,
        "author_email": form.author_email.data,
        "author_url": form.author_url.data,
        "body": form.body.data,
        "parent_id": parse_id(form.parent_id.data),
        "honeypot": form.comment_check.data,
        "form_seconds": form.form_seconds,
        "referrer": request.referrer,
        "notify_replies": form.notify_replies.data,
        "notify_approval": form.notify_approval.data,
    }


def _page(thread, form, status=200, problem=None):
    if problem and problem.field:
        getattr(form, problem.field).errors = [problem.message]
    if form.parent_id.errors:
        form.parent_id.data = ""
    comments_open, replies = services.is_open(thread), services.replies_allowed()
    comments_html, page = _comments(thread, reader.own_comment_ids(), request.args.get("page", 1, type=int),
                                    comments_open, replies)
    html = render_template(
        "comments/thread.html", thread=thread, form=form, comments_html=Markup(comments_html), page=page,
        problem=problem, comments_open=comments_open, replies=replies, opened_stamp=opened_stamp(),
    )
    response = make_response(html, status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _comments(thread, own_ids, number, comments_open, replies):
    """(the HTML of the comments on page `number`, the page without its comments): made once per version of the
    thread for every reader, except for a reader whose own comments await moderation there, shown to them alone."""
    def make(own=()):
        page = services.thread_page(thread, own, number)
        html = render_template("comments/_comments.html", thread=thread, tree=page.tree, page=page,
                               comments_open=comments_open, replies=replies)
        return html, services.ThreadPage([], page.number, page.pages)

    if services.has_awaiting(thread, own_ids=own_ids):
        return make(own_ids)
    key = rendered.thread_key(thread, "page", number, comments_open, replies, services.comments_per_page(),
                              services.thread_depth(), str(get_locale()), str(get_timezone()), request.script_root)
    # What is kept is made for nobody in particular: a comment of this reader's that turned back to awaiting since
    # the question above must not be kept for everyone.
    return rendered.kept(key, make)
