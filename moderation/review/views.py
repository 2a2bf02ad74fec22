"""The moderators' pages: sign-in, the queue, one comment's history, and the decisions."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db, limiter, login_manager
from ..ids import parse_id
from ..models import Comment
from ..privacy import services as privacy
from ..spam import settings as spam_settings
from . import services
from .forms import ACTION_LABELS, BulkForm, DecisionForm, LoginForm, PasswordForm, SettingsForm

bp = Blueprint("review", __name__, url_prefix="/moderation")
login_manager.login_view = "review.login"
login_manager.login_message = "Please sign in to moderate comments."
EXPIRED = "That page had expired, so nothing was changed. Please try again."
# A flashed message lives in the session cookie: a hand-made request with thousands of ids must not overflow it.
SKIPPED_LISTED = 20


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
    state = request.args.get("state", "held")
    if state not in services.QUEUE_STATES:
        abort(404)
    after = parse_id(request.args.get("after")) or 0
    comments, more = services.queue_page(state, request.args.get("thread"), after, current_app.config["MODERATION_PAGE_SIZE"])
    return render_template(
        "review/queue.html", comments=comments, more=more, state=state, states=services.QUEUE_STATES,
        counts=services.counts_by_state(), actions=services.ACTIONS, labels=ACTION_LABELS,
        form=DecisionForm(), bulk=BulkForm(),
    )


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


def _comment_page(comment_id, revealed):
    comment = db.session.get(Comment, comment_id) or abort(404)
    return render_template("review/comment.html", comment=comment, events=services.history(comment_id),
                           actions=services.ACTIONS, labels=ACTION_LABELS, form=DecisionForm(), revealed=revealed)


@bp.post("/comments/<id:comment_id>/<any(approve, reject, spam, 'not-spam'):action>")
@login_required
def decide(comment_id, action):
    if not DecisionForm().validate_on_submit():
        flash(EXPIRED)
    else:
        try:
            services.decide(comment_id, action, current_user)
            flash(f"Comment {comment_id} {services.PAST_TENSE[action]}.")
        except services.DecisionRefused as refused:
            flash(str(refused))
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/comments/bulk")
@login_required
def bulk():
    form = BulkForm()
    if not form.validate_on_submit():
        flash(_problem(form))
        return redirect(_safe_next(request.form.get("next")), code=303)
    done, skipped = services.decide_many([parse_id(i) for i in form.ids.data], form.action.data, current_user)
    message = f"{len(done)} comment{'s' if len(done) != 1 else ''} {services.PAST_TENSE[form.action.data]}."
    if skipped:
        listed = ", ".join(map(str, skipped[:SKIPPED_LISTED])) + (", …" if len(skipped) > SKIPPED_LISTED else "")
        message += f" {len(skipped)} skipped (already decided or not in a state for that action): {listed}."
    flash(message)
    return redirect(_safe_next(request.form.get("next")), code=303)


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
