"""The "Discussion settings" pages, for administrators: the settings, and the threads opened or closed one by one."""
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from ..cleaning import stripped
from . import services
from .forms import DiscussionForm

bp = Blueprint("discussion", __name__, url_prefix="/moderation/discussion")
EXPIRED = "That page had expired, so nothing was changed. Please try again."
FILTER_MAX = 200


@bp.before_request
@login_required
def administrators_only():
    if not current_user.is_admin:
        abort(403)


@bp.route("/", methods=["GET", "POST"])
def settings():
    form = DiscussionForm() if request.method == "POST" else DiscussionForm.of(services.current_settings())
    if form.validate_on_submit():
        try:
            changed = services.save_settings(form.values(), current_user)
        except services.SettingsRefused as refused:
            getattr(form, refused.field).errors.append(refused.message)
        else:
            flash(_saved(form, changed))
            return redirect(url_for(".settings"), code=303)
    status = 422 if request.method == "POST" else 200
    html = render_template("discussion/settings.html", form=form, expired=bool(form.csrf_token.errors),
                           policy_saved=services.auto_approve_saved(),
                           configured_policy=current_app.config["MODERATION_AUTO_APPROVE"])
    response = make_response(html, status)
    # The lists are personal data: no cache keeps this page.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _saved(form, changed):
    if not changed:
        return "Nothing changed."
    names = [form[name].label.text for name in changed]
    return f"Saved: {'; '.join(names)}. Workers use the change within 2 seconds."


# No list of threads has this many pages; a larger number is no page at all, not an overflow in the database.
PAGES_MAX = 1_000_000


@bp.get("/threads")
def threads():
    text = stripped(request.args.get("q", ""))[:FILTER_MAX]
    page = min(max(request.args.get("page", 1, type=int), 1), PAGES_MAX)
    rows, pages = services.thread_list(text, page)
    return render_template("discussion/threads.html", rows=rows, pages=pages, q=text, form=FlaskForm())


@bp.post("/threads/<id:thread_id>/<any(open, close):action>")
def set_open(thread_id, action):
    back = url_for(".threads", q=request.form.get("q") or None, page=request.form.get("page", type=int))
    if not FlaskForm().validate_on_submit():
        flash(EXPIRED)
        return redirect(back, code=303)
    try:
        thread = services.set_comments_open(thread_id, action == "open", current_user)
    except services.ThreadMissing as missing:
        flash(str(missing))
        return redirect(back, code=303)
    flash(_toggled(thread, action))
    return redirect(back, code=303)


def _toggled(thread, action):
    done = f"Comments {'opened' if action == 'open' else 'closed'} on \u201c{thread.title}\u201d ({thread.key})."
    if services.thread_state(thread) == "closed by age":
        done += (" It is older than the close-after-days setting, so readers still cannot comment until that "
                 "setting changes.")
    return done
