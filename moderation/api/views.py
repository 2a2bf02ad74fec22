"""The JSON API: approved comments for anyone, the queue for a signed-in moderator. Never an email."""
import hashlib
from urllib.parse import urljoin, urlsplit

from flask import Blueprint, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from spectree import Response
from werkzeug.datastructures import MultiDict

from ..cleaning import is_plain, plain_text
from ..comments import rendered
from ..comments import services as comments
from ..comments.forms import CommentForm, opened_stamp
from ..comments.reader import reader_hash
from ..extensions import limiter
from ..ids import MAX_ID, parse_id
from ..privacy.avatars import avatar_url
from ..review import services as review
from ..subscriptions import services as subscriptions
from . import authors, cors, tokens
from .schemas import (PAGE_DEFAULT, BulkDecided, BulkDecision, Counts, CountsQuery, Decided, Decision, FieldErrors,
                      FormToken, NewComment, OwnComment, Posted, Problem, PublicComment, Thread, ThreadPage)
from .schemas import TooSoon as TooSoonProblem
from .spec import spec, valid_query

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(cors.refuse_other_origins)


@bp.before_request
def json_object_or_nothing():
    """A body the models cannot even read is a 400 that says so, before any field is looked at."""
    if request.method != "POST":
        return None
    if not request.is_json:
        return jsonify(error=gettext("Send the comment as JSON, with Content-Type: application/json.")), 400
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # thousands of nested brackets: not a comment, and not worth a 500
        body = None
    if not isinstance(body, dict):
        return jsonify(error=gettext("The body is not a JSON object; send the comment's fields as one.")), 400
    return None


bp.after_request(cors.allow_listed_origins)
MAX_PAGE = 200
# A CDN (or the browser) may keep a public answer this long; the ETag makes asking again cheap.
PUBLIC_MAX_AGE = 30
THREAD_TITLE_MAX = 300
PAGE_ADDRESS_MAX = 2_000


def _post_limit():
    return current_app.config["MODERATION_POST_LIMIT"]


def public_comment(comment, thread, replies=()):
    return PublicComment(
        id=comment.id,
        parent_id=comment.parent_id,
        author_name=comment.author_name,
        author_url=comment.author_url,
        avatar=urljoin(request.host_url, avatar_url(comment)),
        body=comment.body,
        html=str(comment.html),
        created_at=comment.created_at.isoformat(),
        permalink=f"{thread.url.split('#', 1)[0]}#{comment.anchor}" if thread.url else None,
        awaiting_moderation=comment.state != "approved",
        staff=comment.staff_id is not None,
        replies=[public_comment(child, thread, grandchildren) for child, grandchildren in replies],
    )


def cacheable(response, personal=False, etag=None):
    """Public answers: the same for everyone, so a CDN may hold them; If-None-Match gets a 304.

    An answer that holds the author's own pending comments is theirs alone: no shared cache keeps it.
    `etag`, when the answer's is known already, saves reading the whole body again.
    """
    response.headers["Cache-Control"] = "private, no-store" if personal else f"public, max-age={PUBLIC_MAX_AGE}"
    response.vary.add(authors.HEADER)
    if etag:
        response.set_etag(etag)
    else:
        response.add_etag()
    return response.make_conditional(request)


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
@spec.validate(query=ThreadPage, resp=Response(HTTP_200=Thread, HTTP_304=None, HTTP_403=Problem, HTTP_422=FieldErrors,
                                               HTTP_503=Problem), tags=["public"], skip_validation=True)
def thread_comments(key):
    """A thread's approved comments, threaded, a page of top-level comments at a time.

    A key nobody has commented under yet answers an empty thread, so a new article shows an empty
    thread and the form.
    """
    page = valid_query(ThreadPage)
    thread = comments.get_thread(key)
    if thread is None:
        empty = Thread(thread=key, title=None, url=None, comments_open=True, replies_open=comments.replies_allowed(),
                       email_notifications=subscriptions.offered(), total=0, comments=[], next=None)
        return cacheable(jsonify(empty.model_dump()))
    own = authors.sent_hash()
    limit = page.limit or comments.comments_per_page() or PAGE_DEFAULT
    if own is not None and comments.has_awaiting(thread, own_reader_hash=own):
        body, etag = _thread_json(thread, limit, page.after, own)
        return cacheable(_json_response(body), personal=True, etag=etag)
    key_of_answer = rendered.thread_key(thread, "json", limit, page.after, thread.title, thread.url,
                                        comments.is_open(thread), comments.replies_allowed(), comments.thread_depth(),
                                        subscriptions.offered(), request.host_url)
    body, etag = rendered.kept(key_of_answer, lambda: _thread_json(thread, limit, page.after))
    return cacheable(_json_response(body), etag=etag)


def _thread_json(thread, limit, after, own=None):
    """(the JSON of a page of the thread, its ETag): approved comments, and the reader's own awaiting ones."""
    shown = comments.visible_comments(thread, own_reader_hash=own)
    roots = comments.comment_tree(shown)
    start = 0
    if after is not None:
        ids = [comment.id for comment, _ in roots]
        start = ids.index(after) + 1 if after in ids else sum(1 for i in ids if i <= after)
    chosen = roots[start:start + limit]
    more = start + limit < len(roots)
    answer = Thread(
        thread=thread.key, title=thread.title, url=thread.url, comments_open=comments.is_open(thread),
        replies_open=comments.replies_allowed(), email_notifications=subscriptions.offered(), total=len(shown),
        comments=[public_comment(comment, thread, replies) for comment, replies in chosen],
        next=url_for(".thread_comments", key=thread.key, limit=limit, after=chosen[-1][0].id, _external=True)
        if more else None,
    )
    body = jsonify(answer.model_dump()).get_data()
    return body, hashlib.blake2b(body, digest_size=16).hexdigest()


def _json_response(body):
    return current_app.response_class(body, mimetype="application/json")


@bp.get("/threads/<key>/form")
@spec.validate(resp=Response(HTTP_200=FormToken, HTTP_403=Problem), tags=["public"])
def comment_form(key):
    """A form token: ask for one when the reader starts typing, send it back with the comment.

    It notes when the form was handed out (a comment sent faster than a person types is held) and
    expires after MODERATION_FORM_MAX_AGE seconds.
    """
    answer = FormToken(token=opened_stamp(), max_age=current_app.config["MODERATION_FORM_MAX_AGE"])
    response = jsonify(answer.model_dump())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/threads/<key>/comments")
@limiter.limit(_post_limit, methods=["POST"])
@spec.validate(json=NewComment, resp=Response(HTTP_201=Posted, HTTP_400=Problem, HTTP_403=Problem, HTTP_404=Problem,
                                              HTTP_413=Problem, HTTP_422=FieldErrors, HTTP_429=TooSoonProblem,
                                              HTTP_503=Problem), tags=["public"])
def post_comment(key):
    """Post a comment, as the "Leave a Reply" form does: checked by the same rules, then queued for the spam
    check. It is `pending`: only its author (holding the author token) sees it until a moderator approves it."""
    sent = request.context.json
    form = CommentForm(formdata=MultiDict(_form_fields(sent)), meta={"csrf": False})
    if not form.validate():
        return _field_errors(form)
    thread = comments.get_thread(key) or _thread_from_listed_site(key, sent)
    if thread is None:
        return jsonify(error=gettext("No article has the key %(key)s; comments on a new article come from its own "
                                     "page, on a site listed in MODERATION_ALLOWED_ORIGINS.", key=repr(key))), 404
    key_of_reader = authors.key_or_new()
    fields = dict(author_name=form.author_name.data, author_email=form.author_email.data,
                  author_url=form.author_url.data, body=form.body.data, parent_id=sent.parent_id,
                  honeypot=form.comment_check.data, ip=request.remote_addr, user_agent=request.user_agent.string,
                  form_seconds=form.form_seconds, referrer=_page_address(sent.url) or request.referrer,
                  reader_hash=reader_hash(key_of_reader), notify_replies=sent.notify_replies,
                  notify_approval=sent.notify_approval)
    try:
        comment = comments.post_comment(thread, **fields)
    except comments.TooSoon as refused:
        wait = current_app.config["MODERATION_FLOOD_INTERVAL"]
        return jsonify(error=refused.message, retry_after=wait), 429, {"Retry-After": str(wait)}
    except comments.CommentRefused as refused:
        if refused.field:
            return jsonify(error=gettext("Some fields are not valid."), fields={refused.field: refused.message}), \
                refused.status
        return jsonify(error=refused.message), refused.status
    answer = Posted(comment=OwnComment(
        id=comment.id, parent_id=comment.parent_id, state=comment.state, author_name=comment.author_name,
        author_url=comment.author_url, body=comment.body, html=str(comment.html),
        created_at=comment.created_at.isoformat(),
    ), author_token=authors.token_for(key_of_reader))
    location = url_for(".thread_comments", key=key)
    return jsonify(answer.model_dump()), 201, {"Location": location, "Cache-Control": "no-store"}


# The JSON's fields as the form knows them; the form token is the form's "opened" stamp.
FORM_FIELDS = {"author_name": "author_name", "author_email": "author_email", "author_url": "author_url",
               "body": "body", "comment_check": "comment_check", "opened": "form_token"}


def _form_fields(sent):
    fields = {name: getattr(sent, attribute) or "" for name, attribute in FORM_FIELDS.items()}
    fields["parent_id"] = str(sent.parent_id or "")
    return fields


def _field_errors(form):
    fields = {FORM_FIELDS.get(name, name): str(errors[0]) for name, errors in form.errors.items()}
    return jsonify(error=gettext("Your comment was not posted yet: please correct the fields named."), fields=fields), 422


def _thread_from_listed_site(key, sent):
    """The first comment on a new article, from a page of a listed site, brings its thread (not yet committed)."""
    origin = request.headers.get("Origin")
    if not origin or origin not in current_app.config["MODERATION_ALLOWED_ORIGINS"]:
        return None
    url = _page_address(sent.url)
    url = url if url and url.startswith(origin + "/") else None
    title = " ".join((plain_text(sent.title or "") or "").split())[:THREAD_TITLE_MAX] or key
    try:
        return comments.new_thread(key, title, url)
    except ValueError:
        return None


def _page_address(address):
    """The article's address as it may be shown to everyone: http(s), no query or fragment (a newsletter link's
    query can carry an address or a token), nothing a person cannot type; None otherwise."""
    try:
        parts = urlsplit(address or "")
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    page = f"{parts.scheme}://{parts.netloc.lower()}{parts.path or '/'}"
    return page if len(page) <= PAGE_ADDRESS_MAX and is_plain(page, PAGE_ADDRESS_MAX) and " " not in page else None


@bp.get("/counts")
@spec.validate(query=CountsQuery, resp=Response(HTTP_200=Counts, HTTP_304=None, HTTP_403=Problem, HTTP_422=FieldErrors,
                                                HTTP_503=Problem), tags=["public"])
def counts():
    """How many approved comments each thread has: `?thread=a&thread=b` answers both at once."""
    keys = request.context.query.thread
    return cacheable(jsonify(Counts(counts=comments.approved_counts(keys)).model_dump()))


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of the routes above, generated from their models."""
    return jsonify(spec.spec)


@bp.get("/docs")
def docs():
    """The same document as a page for people (no outside script: the page is drawn here)."""
    document = spec.spec
    schemas = document.get("components", {}).get("schemas", {})

    def resolve(schema):
        reference = (schema or {}).get("$ref", "")
        return schemas.get(reference.rsplit("/", 1)[-1], {}) if reference else (schema or {})

    return render_template("api_docs.html", document=document, resolve=resolve)


def _caller(needed):
    """Who is asking the moderators' API: a token's identity (Authorization: Bearer), or, for reading only, the
    moderator signed in on this site. Answers the refusal instead when neither may do what is asked."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        token = tokens.find_token(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            return None, _unauthorized("That token is not valid: it may have been revoked, or mistyped.")
        if not tokens.allows(token.scope, needed):
            return None, (jsonify(error=f"This token's scope is {token.scope!r}; this needs {needed!r}."), 403)
        return token.moderator, None
    # A signed-in browser may read; changes come with a token only, so no other site can make a browser decide.
    if needed == "read" and current_user.is_authenticated:
        return current_user, None
    return None, _unauthorized("Send a token as `Authorization: Bearer <token>` (`moderation tokens create`).")


# Who may change something through the API is settled before what they sent is read.
NEEDS = {"api.decide": "moderate", "api.decide_bulk": "moderate"}


@bp.before_request
def token_first():
    needed = NEEDS.get(request.endpoint)
    if needed is None:
        return None
    g.api_moderator, refusal = _caller(needed)
    return refusal


def _unauthorized(message):
    return jsonify(error=message), 401, {"WWW-Authenticate": 'Bearer realm="moderation"'}


# Werkzeug's own bounded int converter, so that the OpenAPI document states the bounds (an id no row can have is a 404).
@bp.post(f"/moderation/comments/<int(min=1, max={MAX_ID}):comment_id>")
@spec.validate(json=Decision, resp=Response(HTTP_200=Decided, HTTP_401=Problem, HTTP_403=Problem, HTTP_404=Problem,
                                             HTTP_409=Problem, HTTP_422=FieldErrors), tags=["moderation"],
               security=[{"bearer": []}])
def decide(comment_id):
    """Decide one comment: approve, reject, spam or not-spam; audited under the token's name."""
    sent = request.context.json
    try:
        comment = review.decide(comment_id, sent.action, g.api_moderator, reason=sent.reason)
    except review.DecisionRefused as refused:
        status = 404 if "no longer exists" in str(refused) else 409
        return jsonify(error=str(refused)), status
    return jsonify(Decided(comment=queued_comment(comment)).model_dump())


@bp.post("/moderation/comments/bulk")
@spec.validate(json=BulkDecision, resp=Response(HTTP_200=BulkDecided, HTTP_401=Problem, HTTP_403=Problem,
                                                 HTTP_422=FieldErrors), tags=["moderation"], security=[{"bearer": []}])
def decide_bulk():
    """The same decision on many comments in one transaction; those it does not apply to are listed as skipped."""
    sent = request.context.json
    done, skipped, _ = review.decide_many(sorted(set(sent.ids)), sent.action, g.api_moderator)
    return jsonify(BulkDecided(done=done, skipped=skipped).model_dump())


@bp.get("/moderation/comments")
def moderation_comments():
    _, refusal = _caller("read")
    if refusal:
        return refusal
    state = request.args.get("state", "held")
    if state not in review.QUEUE_STATES:
        return jsonify(error=f"state must be one of {', '.join(review.QUEUE_STATES)}"), 400
    thread = request.args.get("thread") or None
    limit = min(parse_id(request.args.get("limit")) or current_app.config["MODERATION_PAGE_SIZE"], MAX_PAGE)
    rows, more = review.queue_page(state, thread, parse_id(request.args.get("after")) or 0, limit)
    next_url = url_for(".moderation_comments", state=state, thread=thread, limit=limit, after=rows[-1].id, _external=True) if more else None
    return jsonify(comments=[queued_comment(c) for c in rows], next=next_url)
