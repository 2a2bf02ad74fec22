"""The moderators' pages: sign-in, the queue, one comment's history, and the decisions."""
import re

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db, limiter, login_manager
from ..ids import parse_id
from ..models import Comment
from ..privacy import services as privacy
from ..spam import settings as spam_settings
from . import services
from .forms import (ACTION_LABELS, AuditForm, BulkForm, DecisionForm, DecisionWithNoteForm, EditForm, EverythingForm, IdsForm,
                    LoginForm, NoteForm, PasswordForm, ReplyForm, SearchForm, SearchPostForm, SettingsForm)

bp = Blueprint("review", __name__, url_prefix="/moderation")
login_manager.login_view = "review.login"
login_manager.login_message = "Please sign in to moderate comments."
EXPIRED = "That page had expired, so nothing was changed. Please try again."
# A flashed message lives in the session cookie: a hand-made request with thousands of ids must not overflow it.
SKIPPED_LISTED = 20
# A blind index in a search address: 64 hex digits, nothing else.
HASHED = re.compile(r"[0-9a-f]{64}")
BATCH = re.compile(r"[0-9a-f]{32}")


# The console's header: (endpoint, label, administrators only); a feature not installed is left out.
NAV = (("review.audit", "Audit", False), ("team.index", "Team", True), ("discussion.settings", "Discussion", True),
       ("review.settings", "Spam settings", True), ("webhooks.index", "Webhooks", True),
       ("notify.account", "Account", False), ("review.password", "Password", False))


@bp.app_context_processor
def console_header():
    def console_nav():
        return [(endpoint, label) for endpoint, label, admin in NAV
                if endpoint in current_app.view_functions and (current_user.is_admin or not admin)]

    def waiting_label():
        waiting = services.waiting_count()
        return f"{services.COUNT_CAP:,}+" if waiting > services.COUNT_CAP else f"{waiting:,}"

    return {"console_nav": console_nav, "waiting_label": waiting_label}


@bp.app_template_filter("capped")
def capped(count):
    """An author's count as the panel shows it: "100+" once it reaches the cap it is counted to."""
    return f"{services.AUTHOR_COUNT_CAP:,}+" if count > services.AUTHOR_COUNT_CAP else f"{count:,}"


def _problem(form):
    if form.csrf_token.errors:
        return EXPIRED
    return " ".join(error for errors in form.errors.values() for error in errors)


@login_manager.user_loader
def load_moderator(session_token):
    return services.session_moderator(session_token)


def _login_limit():
    return current_app.config["MODERATION_LOGIN_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("review/login.html", form=form), 422 if request.method == "POST" else 200
    moderator = services.authenticate(form.username.data, form.password.data)
    if moderator is None:
        form.password.errors = ["Wrong username or password."]
        return render_template("review/login.html", form=form), 401
    services.open_session(moderator)
    login_user(moderator)
    return redirect(_safe_next(request.args.get("next")), code=303)


def _safe_next(target):
    """Only a path on this site: not `//host`, no backslash (browsers read it as `/`), no control characters."""
    target = target or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and target.isprintable():
        return target
    return url_for(".queue")


@bp.post("/logout")
def logout():
    if not current_user.is_authenticated:
        return redirect(url_for(".login"), code=303)
    if not DecisionForm().validate_on_submit():
        # Said, not silent: a moderator who pressed "Sign out" on a stale page must not believe they are out.
        flash("That page had expired, so you are still signed in. Press \u201cSign out\u201d again to sign out.", "error")
        return redirect(url_for(".queue"), code=303)
    services.close_session(current_user.session_token)
    logout_user()
    return redirect(url_for(".login"), code=303)


@bp.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def password():
    """Change one's own password; every other sign-in of this moderator ends with it."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            services.change_own_password(current_user, form.current.data, form.new.data)
        except services.PasswordRefused as refused:
            form.current.errors = [str(refused)]
        else:
            login_user(current_user)
            flash("Password changed. Every other browser signed in as you has been signed out.")
            return redirect(url_for(".queue"), code=303)
    return render_template("review/password.html", form=form), 422 if request.method == "POST" else 200


@bp.get("/")
@login_required
def queue():
    search = SearchForm(request.args)
    return _queue_page(search, _search(search), 200 if not search.errors else 422)


@bp.post("/search")
@login_required
def search():
    """The search box: an email or an IP typed in it becomes its blind index in the address the page goes to."""
    form = SearchPostForm()
    if not form.validate_on_submit():
        return _queue_page(form, services.Search(), 422)
    wanted = {name: value for name, value in request.form.items(multi=False)
              if name in ("state", "thread", "reason", "score_min", "score_max", "older_than_days", "newer_than_days") and value}
    return redirect(url_for(".queue", **wanted, **services.hashed_query(form.q.data)), code=303)


def _queue_page(form, found, status):
    state = request.values.get("state", "held")
    if state not in (*services.QUEUE_STATES, "all"):
        abort(404)
    after = parse_id(request.args.get("after")) or 0
    comments, more = services.queue_page(state, request.values.get("thread"), after,
                                         current_app.config["MODERATION_PAGE_SIZE"], found)
    return render_template(
        "review/queue.html", comments=comments, more=more, state=state, states=services.QUEUE_STATES,
        counts=services.counts_by_state(), cap=services.COUNT_CAP, actions=services.ACTIONS_WITH_RESTORE,
        labels=ACTION_LABELS, form=DecisionForm(), bulk=BulkForm(), search=form, searching=bool(found),
        by_hash=found.email_hash or found.ip_hash, authors=services.author_summaries(comments),
    ), status


def _search(form):
    """The search the form asks for, or an empty one when it is not valid (its errors are shown beside it)."""
    if not form.validate():
        return services.Search()
    as_float = lambda value: None if value is None else float(value)  # noqa: E731
    return services.Search(q=form.q.data or "", reason=form.reason.data or "", score_min=as_float(form.score_min.data),
                           score_max=as_float(form.score_max.data), older_than_days=form.older_than_days.data,
                           newer_than_days=form.newer_than_days.data, email_hash=_hashed("author"),
                           ip_hash=_hashed("address"))


def _hashed(name):
    value = request.args.get(name, "")
    return value if HASHED.fullmatch(value) else ""


@bp.get("/comments/<id:comment_id>")
@login_required
def comment(comment_id):
    return _comment_page(comment_id, revealed=False)


@bp.post("/comments/<id:comment_id>/reveal-email")
@login_required
def reveal_email(comment_id):
    """The whole address, for this answer only, and recorded: who looked, at which comment, when."""
    if not DecisionForm().validate_on_submit():
        flash(EXPIRED)
        return redirect(url_for(".comment", comment_id=comment_id), code=303)
    privacy.reveal_email(comment_id, current_user)
    return _comment_page(comment_id, revealed=True)


def _comment_page(comment_id, revealed, edit_form=None, reply_form=None, status=200):
    comment = db.session.get(Comment, comment_id) or abort(404)
    return render_template("review/comment.html", comment=comment, events=services.history(comment_id),
                           actions=services.ACTIONS_WITH_RESTORE, labels=ACTION_LABELS, form=DecisionForm(),
                           revealed=revealed, authors=services.author_summaries([comment]),
                           edit=edit_form or EditForm(obj=comment), reply=reply_form or ReplyForm(),
                           note=DecisionWithNoteForm()), status


def _wants_json():
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _done(message, batch=None, status=200, **extra):
    """After an action: JSON for the queue's script (no reload), else a message and back to where the moderator was."""
    if batch:
        session["undo"] = batch
    services.forget_counts()
    if _wants_json():
        undo = url_for(".undo", batch=batch) if batch else None
        return jsonify(message=message, undo=undo, counts=services.counts_by_state(), cap=services.COUNT_CAP,
                       **extra), status
    flash(message, "undo" if batch else "message")
    return redirect(_safe_next(request.form.get("next")), code=303)


def _refused(message, status=409):
    if _wants_json():
        return jsonify(error=message), status
    flash(message, "error")
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/comments/<id:comment_id>/<any(approve, reject, spam, 'not-spam', unapprove, trash, restore):action>")
@login_required
def decide(comment_id, action):
    form = DecisionWithNoteForm()
    if not form.validate_on_submit():
        return _refused(_problem(form), 400)
    try:
        if action == "restore":
            done = services.restore(comment_id, current_user)
        else:
            done = services.decide(comment_id, action, current_user, note=form.note.data)
    except services.DecisionRefused as refused:
        return _refused(str(refused))
    return _done(f"Comment {comment_id} {services.PAST_TENSE[action]}.", done.batch, ids=[comment_id])


@bp.post("/comments/bulk")
@login_required
def bulk():
    form = BulkForm()
    if not form.validate_on_submit():
        return _refused(_problem(form), 400)
    done, skipped, batch = services.decide_many([parse_id(i) for i in form.ids.data], form.action.data, current_user,
                                                note=form.note.data)
    return _done(_counted(done, skipped, services.PAST_TENSE[form.action.data]), batch if done else None, ids=done)


def _counted(done, skipped, past):
    message = f"{len(done):,} comment{'s' if len(done) != 1 else ''} {past}."
    if skipped:
        listed = ", ".join(map(str, skipped[:SKIPPED_LISTED])) + (", …" if len(skipped) > SKIPPED_LISTED else "")
        message += f" {len(skipped):,} skipped (already decided or not in a state for that action): {listed}."
    return message


@bp.route("/comments/<id:comment_id>/everything-from/<any(author, address):by>", methods=["GET", "POST"])
@login_required
def everything(comment_id, by):
    """Every comment from this author (same email) or this address (same IP): the count first, then the decision."""
    comment = db.session.get(Comment, comment_id) or abort(404)
    form = EverythingForm(request.form if request.method == "POST" else request.args, meta={"csrf": request.method == "POST"})
    try:
        where = services.author_comments(comment_id, by)
    except services.DecisionRefused as refused:
        flash(str(refused), "error")
        return redirect(url_for(".comment", comment_id=comment_id), code=303)
    action = form.action.data if form.action.data in services.ACTIONS else "spam"
    if request.method == "POST" and form.validate():
        done, skipped, batch = services.decide_everything(comment_id, by, action, current_user, note=form.note.data)
        return _done(_counted(done, [], services.PAST_TENSE[action]), batch if done else None, ids=done)
    count = services.count_for_action(where, action)
    sample, _ = services.queue_page("all", search=services.Search(), limit=20, where=where)
    return render_template("review/everything.html", comment=comment, by=by, action=action, count=count, form=form,
                           sample=sample, labels=ACTION_LABELS, expired=bool(form.csrf_token.errors)
                           if request.method == "POST" else False), 422 if request.method == "POST" else 200


@bp.route("/comments/<id:comment_id>/edit", methods=["POST"])
@login_required
def edit(comment_id):
    form = EditForm()
    if not form.validate_on_submit():
        return _comment_page(comment_id, revealed=False, edit_form=form, status=422)
    try:
        done = services.edit(comment_id, current_user, body=form.body.data, author_name=form.author_name.data,
                             author_url=form.author_url.data, then_approve="approve" in request.form,
                             note=form.note.data)
    except services.DecisionRefused as refused:
        form.body.errors = [str(refused)]
        return _comment_page(comment_id, revealed=False, edit_form=form, status=409)
    saved = "Saved and approved" if "approve" in request.form else "Saved"
    return _done(f"{saved}: comment {comment_id}. The original is in its history.", done.batch)


@bp.post("/comments/<id:comment_id>/reply")
@login_required
def reply(comment_id):
    form = ReplyForm()
    if not form.validate_on_submit():
        return _comment_page(comment_id, revealed=False, reply_form=form, status=422)
    try:
        answer = services.reply(comment_id, current_user, form.body.data, approve_parent=form.approve_parent.data)
    except services.DecisionRefused as refused:
        form.body.errors = [str(refused)]
        return _comment_page(comment_id, revealed=False, reply_form=form, status=409)
    return _done(f"Your reply is published as comment {answer.id}.", answer.batch)


@bp.post("/comments/delete")
@login_required
def delete():
    """Delete for good, from the spam or the trash; it cannot be undone (the page asks before it sends)."""
    form = IdsForm()
    if not form.validate_on_submit():
        return _refused(_problem(form), 400)
    deleted, skipped = services.delete_for_good([parse_id(i) for i in form.ids.data], current_user)
    return _done(_counted(deleted, skipped, "deleted for good"), ids=deleted)


@bp.route("/empty/<any(spam, trash):state>", methods=["GET", "POST"])
@login_required
def empty(state):
    """Empty the spam or the trash: the count first, then a button."""
    form = DecisionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(EXPIRED, "error")
        else:
            deleted = services.empty(state, current_user)
            return _done(f"{deleted:,} comment{'s' if deleted != 1 else ''} deleted for good from the {state}.")
    count = services.count_in(state)
    return render_template("review/empty.html", state=state, count=count, form=form)


@bp.post("/undo/<batch>")
@login_required
def undo(batch):
    if not DecisionForm().validate_on_submit():
        return _refused(EXPIRED, 400)
    if not BATCH.fullmatch(batch):
        return _refused("There is nothing of yours to undo there.", 404)
    try:
        restored, skipped = services.undo(batch, current_user)
    except services.DecisionRefused as refused:
        return _refused(str(refused))
    session.pop("undo", None)
    message = f"Undone: {len(restored):,} comment{'s' if len(restored) != 1 else ''} back as before."
    if skipped:
        message += f" {len(skipped):,} changed since, by someone else, and were left as they are."
    return _done(message, ids=restored)


@bp.get("/audit")
@login_required
def audit():
    """Who decided what, when and why, across the site."""
    filters = AuditForm(request.args)
    events, more = services.audit_page(**filters.criteria(), before_id=parse_id(request.args.get("before")))
    return render_template("review/audit.html", events=events, more=more, filters=filters, note=NoteForm(),
                           moderators=services.moderator_names()), 200 if not filters.errors else 422


@bp.post("/audit/<id:event_id>/note")
@login_required
def note(event_id):
    form = NoteForm()
    if not form.validate_on_submit():
        return _refused(_problem(form), 400)
    try:
        services.add_note(event_id, current_user, form.note.data)
    except services.DecisionRefused as refused:
        return _refused(str(refused), 403)
    return _done(f"Note saved on event {event_id}.")


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    if not current_user.is_admin:
        abort(403)
    current = spam_settings.current()
    form = SettingsForm(data={**current, "hold_words": "\n".join(current["hold_words"]),
                              "blocked_words": "\n".join(current["blocked_words"])})
    if request.method == "POST":
        form = SettingsForm()
        if form.validate_on_submit():
            spam_settings.save(form.values())
            flash("Settings saved. The next comments are checked with them.")
            return redirect(url_for(".settings"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("review/settings.html", form=form, expired=bool(form.csrf_token.errors)), status
