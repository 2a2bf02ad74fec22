"""The team page (administrators only) and the welcome page a new moderator opens from their link."""
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import limiter
from . import services
from .forms import ActionForm, CreateForm, RoleForm, WelcomeForm

bp = Blueprint("team", __name__, url_prefix="/moderation/team")
COPY_SCRIPT = Path(__file__).resolve().parent / "static" / "team.js"
# The only route of this blueprint open without signing in: the link itself is the credential.
PUBLIC = {"team.welcome"}
EXPIRED = "That page had expired, so nothing was changed. Please try again."


@bp.before_request
def administrators_only():
    """Every team route but the welcome page: strangers go to sign in, moderators get 403."""
    if request.endpoint in PUBLIC:
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None


@bp.after_request
def private(response):
    """Links that set a password are on these pages: no cache keeps them, no Referer carries them away."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _page(form, status=200):
    return render_template("team/index.html", members=services.team(), form=form, action=ActionForm(),
                           me=current_user.id), status


def _link_page(moderator, token, invited):
    link = url_for(".welcome", token=token, _external=True)
    return render_template("team/link.html", moderator=moderator, link=link, invited=invited,
                           hours=services.WELCOME_HOURS)


@bp.get("")
def index():
    return _page(CreateForm())


@bp.post("")
def create():
    form = CreateForm()
    if form.validate_on_submit():
        try:
            moderator, token = services.add_moderator(form.username.data, form.role.data == "admin",
                                                      form.chosen_password())
        except services.TeamRefused as refused:
            getattr(form, refused.field or "username").errors.append(refused.message)
        else:
            if token:
                return _link_page(moderator, token, invited=True)
            flash(f"{moderator.username} added. They can sign in with the password you typed.")
            return redirect(url_for(".index"), code=303)
    return _page(form, 422)


def _act(change, moderator_id, done, *args):
    """Run one row action (CSRF checked), flash what it did or why not, and go back to the team page."""
    if not ActionForm().validate_on_submit():
        flash(EXPIRED)
        return redirect(url_for(".index"), code=303)
    try:
        moderator = change(current_user, moderator_id, *args)
    except services.NoSuchPerson:
        abort(404)
    except services.TeamRefused as refused:
        flash(refused.message)
    else:
        flash(done.format(name=moderator.username))
    # An administrator who made themselves a moderator may no longer see the team page.
    return redirect(url_for(".index" if current_user.is_admin else "review.queue"), code=303)


@bp.post("/<id:moderator_id>/role")
def change_role(moderator_id):
    form = RoleForm()
    if not form.validate_on_submit():
        flash(EXPIRED if form.csrf_token.errors else "Choose a role.")
        return redirect(url_for(".index"), code=303)
    make_admin = form.role.data == "admin"
    done = "{name} is now " + ("an administrator." if make_admin else "a moderator.")
    return _act(services.change_role, moderator_id, done, make_admin)


@bp.post("/<id:moderator_id>/deactivate")
def deactivate(moderator_id):
    return _act(services.deactivate, moderator_id, "{name} deactivated and signed out everywhere.")


@bp.post("/<id:moderator_id>/reactivate")
def reactivate(moderator_id):
    return _act(services.reactivate, moderator_id, "{name} reactivated: they can sign in again.")


@bp.post("/<id:moderator_id>/reset-password")
def reset_password(moderator_id):
    if not ActionForm().validate_on_submit():
        flash(EXPIRED)
        return redirect(url_for(".index"), code=303)
    try:
        moderator, token = services.reset_password(current_user, moderator_id)
    except services.NoSuchPerson:
        abort(404)
    except services.TeamRefused as refused:
        flash(refused.message)
        return redirect(url_for(".index"), code=303)
    return _link_page(moderator, token, invited=False)


@bp.get("/copy.js")
def script():
    """The copy button's script: a file, since the Content-Security-Policy forbids inline script."""
    return Response(COPY_SCRIPT.read_text(encoding="utf-8"), mimetype="text/javascript")


def _login_limit():
    return current_app.config["MODERATION_LOGIN_LIMIT"]


@bp.route("/welcome/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def welcome(token):
    """A new (or reset) moderator chooses a password from the link an administrator sent; no sign-in needed."""
    try:
        moderator = services.welcome_moderator(token)
    except services.LinkRefused as refused:
        return render_template("team/link_refused.html", message=str(refused)), 410
    form = WelcomeForm()
    if form.validate_on_submit():
        try:
            services.accept_welcome(token, form.new.data)
        except services.LinkRefused as refused:
            return render_template("team/link_refused.html", message=str(refused)), 410
        except services.TeamRefused as refused:
            form.new.errors.append(refused.message)
        else:
            flash("Your password is set. Sign in with it.")
            return redirect(url_for("review.login"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("team/welcome.html", form=form, moderator=moderator), status
