"""The webhooks pages, for administrators: the list, adding and editing one, its secret, test events and its log."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from . import delivery, services
from .forms import ActionForm, WebhookForm

bp = Blueprint("webhooks", __name__, url_prefix="/moderation/webhooks")
EXPIRED = "That page had expired, so nothing was changed. Please try again."


@bp.before_request
@login_required
def administrators_only():
    if not current_user.is_admin:
        abort(403)


@bp.after_request
def private(response):
    """A secret is shown on these pages: no cache keeps them, no Referer carries their addresses away."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _index(form, status=200):
    return render_template("webhooks/index.html", rows=services.webhooks(), form=form, action=ActionForm(),
                           expired=bool(form.csrf_token.errors)), status


@bp.get("")
def index():
    return _index(WebhookForm())


@bp.post("")
def create():
    form = WebhookForm()
    if form.validate_on_submit():
        try:
            secret, hook = services.create_webhook(**form.values(), moderator=current_user)
        except services.WebhookRefused as refused:
            _beside(form, refused)
        else:
            return render_template("webhooks/secret.html", hook=hook, secret=secret, new=True)
    return _index(form, 422)


@bp.route("/<id:hook_id>/edit", methods=["GET", "POST"])
def edit(hook_id):
    hook = _hook(hook_id)
    form = WebhookForm() if request.method == "POST" else WebhookForm.of(hook)
    if form.validate_on_submit():
        try:
            services.update_webhook(hook.id, **form.values())
        except services.WebhookRefused as refused:
            _beside(form, refused)
        else:
            flash(f"Webhook {hook.id} saved.")
            return redirect(url_for(".index"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("webhooks/edit.html", hook=hook, form=form, expired=bool(form.csrf_token.errors)), status


@bp.post("/<id:hook_id>/<any(activate, deactivate):action>")
def set_active(hook_id, action):
    if not ActionForm().validate_on_submit():
        return _back(EXPIRED)
    hook = _found(services.set_active, hook_id, action == "activate")
    return _back(f"Webhook {hook.id} {'activated' if hook.active else 'deactivated: it is sent nothing more'}.")


@bp.route("/<id:hook_id>/delete", methods=["GET", "POST"])
def delete(hook_id):
    """A page that asks first (the log goes too), then the deletion."""
    hook = _hook(hook_id)
    if request.method == "GET":
        return render_template("webhooks/delete.html", hook=hook, action=ActionForm())
    if not ActionForm().validate_on_submit():
        return _back(EXPIRED)
    url = _found(services.delete_webhook, hook.id)
    return _back(f"Webhook {hook_id} ({url}) deleted, with its log.")


@bp.post("/<id:hook_id>/rotate")
def rotate(hook_id):
    if not ActionForm().validate_on_submit():
        return _back(EXPIRED)
    secret, hook = _found(services.rotate_secret, hook_id)
    return render_template("webhooks/secret.html", hook=hook, secret=secret, new=False)


@bp.post("/<id:hook_id>/test")
def test(hook_id):
    if not ActionForm().validate_on_submit():
        return _back(EXPIRED)
    try:
        delivery = _found(services.send_test, hook_id)
    except services.WebhookRefused as refused:
        return _back(refused.message)
    flash(f"A test event (ping, delivery {delivery.id}) is on its way; its outcome shows here in a few seconds.")
    return redirect(url_for(".deliveries", hook_id=hook_id), code=303)


@bp.get("/<id:hook_id>/deliveries")
def deliveries(hook_id):
    hook = _hook(hook_id)
    pages = services.deliveries(hook.id, request.args.get("page", 1, type=int))
    return render_template("webhooks/deliveries.html", hook=hook, pages=pages, action=ActionForm(),
                           log_days=delivery.LOG_DAYS)


@bp.post("/deliveries/<id:delivery_id>/retry")
def retry(delivery_id):
    back = request.form.get("hook", type=int)
    target = url_for(".deliveries", hook_id=back) if back else url_for(".index")
    if not ActionForm().validate_on_submit():
        flash(EXPIRED)
        return redirect(target, code=303)
    try:
        delivery = _found(services.retry_delivery, delivery_id)
    except services.WebhookRefused as refused:
        flash(refused.message)
    else:
        flash(f"Delivery {delivery.id} is being tried again; its outcome shows here in a few seconds.")
    return redirect(target, code=303)


def _beside(form, refused):
    """Each of the service's messages beside the field it is about."""
    for field, message in refused.problems.items():
        form[field].errors.append(message)


def _hook(hook_id):
    return _found(services.get_webhook, hook_id)


def _found(action, *args):
    try:
        return action(*args)
    except services.NotFound:
        abort(404)


def _back(message):
    flash(message)
    return redirect(url_for(".index"), code=303)
