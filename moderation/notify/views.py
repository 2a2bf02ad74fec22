"""A moderator's notification settings, and the pages behind the one-click links in notification emails."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from . import services
from .forms import AccountForm, ConfirmForm

bp = Blueprint("notify", __name__, url_prefix="/moderation")
# A link's token is its own authority: the page is never stored, and its address is never sent on as a referrer.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """Where notifications go and when; and whether this service can send email at all."""
    hours = current_app.config["MODERATION_DIGEST_HOURS"]
    saved = {"email": current_user.email, "notify": current_user.notify} if request.method == "GET" else None
    form = AccountForm(digest_hours=hours, data=saved)
    if form.validate_on_submit():
        try:
            services.save_settings(current_user, form.email.data, form.notify.data)
        except services.SettingsRefused as refused:
            form.email.errors = [str(refused)]
        else:
            flash("Notification settings saved.")
            return redirect(url_for(".account"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("notify/account.html", form=form, problems=services.mail_problems()), status


@bp.route("/email/<token>", methods=["GET", "POST"])
def email_action(token):
    """GET asks "Approve this comment?"; only the button's POST (with its CSRF token) decides."""
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            link = services.follow_link(token)
            return render_template("notify/done.html", link=link), 200, PRIVATE
        link = services.read_link(token)
    except services.LinkRefused as refused:
        return render_template("notify/refused.html", refused=refused), refused.status, PRIVATE
    expired = request.method == "POST"
    page = render_template("notify/confirm.html", link=link, form=form, expired=expired)
    return page, 422 if expired else 200, PRIVATE
