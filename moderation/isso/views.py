"""The endpoints Isso's own client calls, so a site running Isso points its embed here and keeps its markup."""
import math

from flask import Blueprint, abort, current_app, jsonify, make_response, redirect, request
from flask_babel import gettext

from ..api import cors
from ..comments import services as comments
from ..comments.reader import reader_hash
from ..errors import MESSAGES
from ..extensions import limiter
from ..ids import MAX_ID
from ..subscriptions import services as subscriptions
from ..text import render_body
from ..urls import external
from . import answers, client, cookies, forms, services
from .uris import key_for

bp = Blueprint("isso", __name__, url_prefix="/isso")
METHODS = "GET, POST, PUT, DELETE"
COUNT_MAX = 1_000
URI_MAX = 10_000
PREVIEW_MAX = 100_000
COMMENT = f"/id/<int(min=1, max={MAX_ID}):comment_id>"


def _post_limit():
    return current_app.config["MODERATION_POST_LIMIT"]


def _refused(message, status=400, **extra):
    return jsonify(error=message, **extra), status


def _stop(message, status=400):
    abort(make_response(_refused(message, status)))


@bp.before_request
def listed_sites_only():
    """Only pages of MODERATION_ALLOWED_ORIGINS, as for the API; Isso's client also edits and deletes. Its own
    files are the same for everybody and may be fetched from anywhere."""
    if request.endpoint in ("isso.script", "isso.stylesheet"):
        return None
    answer = cors.refuse_other_origins()
    if answer is None:
        return _json_only()
    if getattr(answer, "status_code", None) == 204:  # a listed site's preflight
        answer.headers["Access-Control-Allow-Methods"] = METHODS
        answer.headers["Access-Control-Allow-Headers"] = "Content-Type"
    return answer


def _json_only():
    """A write sent as a form or as text is refused, as Isso refuses it: no other page's form can post, edit or
    delete through a reader's cookies."""
    if request.method in ("POST", "PUT", "DELETE") and request.content_type and not request.is_json:
        return _refused(gettext("Send JSON, with Content-Type: application/json."), 415)
    return None


@bp.after_request
def answer_listed_sites(response):
    """Isso's client sends its cookies (`withCredentials`) and reads X-Set-Cookie and Date."""
    cors.allow_listed_origins(response)
    if response.headers.get("Access-Control-Allow-Origin", "*") != "*":
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = "X-Set-Cookie, Date, Retry-After"
    if request.endpoint not in ("isso.script", "isso.stylesheet"):  # the client's files are the same for all
        response.vary.add("Cookie")
    return response


def _error(error):
    """Isso's client shows no page: an error inside these views is a short JSON message like any refusal here."""
    return _refused(str(MESSAGES.get(error.code, error.description)), error.code)


for _code in (400, 403, 405, 413, 429):
    bp.register_error_handler(_code, _error)


def _json_body(kind=dict):
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # thousands of nested brackets: not a comment, and not worth a 500
        body = None
    if not isinstance(body, kind):
        _stop(gettext("The body is not a JSON object.") if kind is dict else gettext("The body is not a JSON list."))
    return body


def _usable(uri):
    """A uri Isso's client could have sent: a page's path, or the `data-isso-id` of its thread."""
    return isinstance(uri, str) and 0 < len(uri) <= URI_MAX


def _uri():
    uri = request.args.get("uri")
    if not _usable(uri):
        _stop(gettext("The query needs the thread's uri (?uri=/path/of/the/page/)."))
    return uri


@bp.get("/config")
def config():
    return jsonify(config=answers.public_config())


@bp.get("/")
def fetch():
    """A thread as Isso's client reads it: approved comments, and the reader's own awaiting moderation."""
    uri, paging = _uri(), _paging()
    thread = comments.get_thread(key_for(uri))
    own = cookies.reader_hash()
    tree = services.thread_tree(thread, own) if thread is not None else []
    response = jsonify(answers.thread_answer(tree, paging))
    personal = any(entry.comment is not None and entry.comment.state != "approved"
                   for root in tree for entry in (root, *root.replies))
    # Asked again every time (a reader's own post shows at once), answered 304 when nothing changed.
    response.headers["Cache-Control"] = "private, no-store" if personal else "no-cache"
    response.add_etag()
    return response.make_conditional(request)


def _paging():
    args = request.args
    try:
        numbers = {name: _number(args.get(name), name) for name in ("parent", "limit", "nested_limit", "offset")}
        after = _time(args.get("after"))
    except forms.BadField as bad:
        _stop(str(bad))
    sort = args.get("sort") or "oldest"
    if sort not in answers.SORTS:
        _stop(gettext("Invalid sort option. Must be one of: 'newest', 'oldest', 'upvotes'"))
    numbers["offset"] = numbers["offset"] or 0
    return answers.Paging(**numbers, after=after, sort=sort, plain=args.get("plain", "0") != "0")


def _number(value, name):
    if value in (None, "", "null", "inf"):
        return None
    if not value.isascii() or not value.isdigit() or int(value) > MAX_ID:
        raise forms.BadField(f"{name} should be a whole number from 0 to {MAX_ID}")
    return int(value)


def _time(value):
    try:
        after = float(value or 0)
    except ValueError:
        after = math.nan
    if not math.isfinite(after):
        raise forms.BadField("after should be a UNIX time")
    return after


@bp.post("/new")
@limiter.limit(_post_limit, methods=["POST"])
def new():
    """A comment from Isso's form: checked by the form's rules, posted by the same service as every comment."""
    uri, sent = _uri(), _json_body()
    try:
        form = forms.comment_form(sent)
    except forms.BadField as bad:
        return _refused(str(bad))
    if not form.validate():
        field, message = forms.first_error(form)
        return _refused(message, fields={field: message})
    key = key_for(uri)
    thread = comments.get_thread(key) or services.thread_for_first_post(key, uri, request.headers.get("Origin"),
                                                                        sent.get("title"))
    if thread is None:
        return _refused(gettext("This page has no thread yet; its first comment must come from a page of a site "
                                "listed in MODERATION_ALLOWED_ORIGINS."), 404)
    # Isso's "Subscribe to email notification of replies", shown when the configuration says email is offered.
    return _posted(thread, form, notify_replies=sent.get("notification") in (1, True) and subscriptions.offered())


def _posted(thread, form, notify_replies):
    key = cookies.reader_key_or_new()
    try:
        comment = comments.post_comment(
            thread, author_name=form.author_name.data, author_email=form.author_email.data,
            author_url=form.author_url.data, body=form.body.data, parent_id=int(form.parent_id.data or 0) or None,
            honeypot="", ip=request.remote_addr, user_agent=request.user_agent.string,
            referrer=thread.url or request.referrer, reader_hash=reader_hash(key), notify_replies=notify_replies)
    except comments.TooSoon as refused:
        wait = current_app.config["MODERATION_FLOOD_INTERVAL"]
        return _refused(refused.message, 429, retry_after=wait) + ({"Retry-After": str(wait)},)
    except comments.CommentRefused as refused:
        fields = {forms.OURS.get(refused.field, refused.field): refused.message} if refused.field else None
        return _refused(refused.message, 400 if refused.status == 422 else refused.status,
                        **({"fields": fields} if fields else {}))
    # 202: accepted, awaiting its check or a moderator (Isso's mode 2), shown to its author alone.
    response = make_response(jsonify(answers.comment_answer(comment, answers.mode_of(comment))), 202)
    response.headers["Cache-Control"] = "no-store"
    cookies.keep_reader(response, key)
    return cookies.give_edit_rights(response, comment)


@bp.get(COMMENT)
def view(comment_id):
    """One's own comment, to edit it (`plain=1`: the text as typed); Isso answers it to its author only."""
    comment = _own(comment_id)
    plain = request.args.get("plain", "0") != "0"
    response = jsonify(answers.comment_answer(comment, answers.mode_of(comment), plain))
    response.headers["Cache-Control"] = "no-store"
    return response


def _own(comment_id):
    """The comment, if this browser holds its edit cookie and its window is open; 403 or 404 otherwise."""
    comment = services.get_comment(comment_id)
    if comment is None:
        _stop(gettext("There is no such comment."), 404)
    if not cookies.may_edit(comment):
        _stop(gettext("A comment can be changed only from the browser it was written in, in the %(minutes)s "
                      "minutes after it was posted.", minutes=max(cookies.edit_seconds() // 60, 1)), 403)
    return comment


def _changeable(comment_id):
    """The comment, locked for the change, if no moderator has ruled it out."""
    try:
        return services.changeable_comment(comment_id)
    except services.NotChangeable as refused:
        _stop(str(refused), 403)
    except LookupError:
        _stop(gettext("There is no such comment."), 404)


@bp.put(COMMENT)
@limiter.limit(_post_limit, methods=["PUT"])
def edit(comment_id):
    """The author's new text, in their window; a changed text is checked again (see services.edit_own_comment)."""
    _own(comment_id)
    try:
        form = forms.edit_form(_json_body())
    except forms.BadField as bad:
        return _refused(str(bad))
    if not form.validate():
        field, message = forms.first_error(form)
        return _refused(message, fields={field: message})
    comment = services.edit_own_comment(_changeable(comment_id), form.body.data)
    response = jsonify(answers.comment_answer(comment, answers.mode_of(comment)))
    response.headers["Cache-Control"] = "no-store"
    return cookies.give_edit_rights(response, comment)


@bp.delete(COMMENT)
def delete(comment_id):
    """Isso's answer: null, or the comment as "[deleted]" when its replies keep it in the thread."""
    _own(comment_id)
    comment = _changeable(comment_id)
    created_at = comment.created_at
    kept = services.delete_own_comment(comment)
    response = jsonify(answers.deleted_answer(comment_id, created_at) if kept else None)
    return cookies.take_edit_rights(response, comment_id)


@bp.post(f"{COMMENT}/like")
@bp.post(f"{COMMENT}/dislike")
def vote(comment_id):
    """No votes here (the configuration turns the client's arrows off); a page whose client still draws them gets
    an answer it can show."""
    return jsonify(likes=0, dislikes=0)


@bp.post("/count")
def count():
    """Approved comments per uri, in the order asked (Isso's `POST /count` with a JSON list of uris)."""
    uris = _json_body(list)
    if len(uris) > COUNT_MAX or not all(_usable(uri) for uri in uris):
        return _refused(gettext("Send a JSON list of at most %(count)s uris.", count=COUNT_MAX))
    keys = [key_for(uri) for uri in uris]
    found = comments.approved_counts(keys)
    return jsonify([found[key] for key in keys])


@bp.post("/preview")
@limiter.limit(_post_limit, methods=["POST"])
def preview():
    text = _json_body().get("text")
    if not isinstance(text, str) or len(text) > PREVIEW_MAX:
        return _refused(gettext("Send the text to preview as {\"text\": \"...\"}."))
    return jsonify(text=str(render_body(text)))


@bp.get("/feed")
def feed():
    """Isso's feed link: the thread's own Atom feed, when this installation has feeds."""
    endpoint = answers.feed_endpoint()
    if endpoint is None:
        return _refused(gettext("There are no feeds here."), 404)
    return redirect(external(endpoint, key=key_for(_uri())))


@bp.get("/js/<path:name>")
def script(name):
    return client.served(f"js/{name}")


@bp.get("/css/<path:name>")
def stylesheet(name):
    return client.served(f"css/{name}")
