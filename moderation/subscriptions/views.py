"""Commenters told by email of replies to their comments and of their approval: double opt-in, one-click unsubscribe.

The pages behind the links in those emails. Neither link acts on a GET (mail scanners open links to check them):
confirming is a button with its CSRF token; unsubscribing is a POST that needs nothing but the link (RFC 8058: a
mail client's own "Unsubscribe" sends it with no cookie), and the page a GET shows has that button.
"""
from flask import Blueprint, render_template, request

from ..privacy.addresses import masked_email
from . import services
from .forms import ConfirmForm

bp = Blueprint("subscriptions", __name__, url_prefix="/subscriptions")
# A link's token is its own authority: the page is never stored, and its address never sent on as a referrer.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.app_context_processor
def email_notifications():
    """`email_notifications()` in every template: whether the forms may offer email (a promise kept only then)."""
    return {"email_notifications": services.offered}


def _page(template, subscriber, status=200, **context):
    """A page about one subscriber: its address masked (a•••@example.org), never whole."""
    return render_template(template, masked=masked_email(subscriber.email), **context), status, PRIVATE


def _refused(refused):
    return render_template("subscriptions/refused.html", refused=refused), refused.status, PRIVATE


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token):
    """GET asks "Confirm?"; only the button's POST (with its CSRF token) confirms."""
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            return _page("subscriptions/confirmed.html", services.confirm(token))
        subscriber = services.read_confirmation(token)
    except services.LinkRefused as refused:
        return _refused(refused)
    if subscriber.confirmed_at and not subscriber.unsubscribed_at:
        return _page("subscriptions/confirmed.html", subscriber)
    expired = request.method == "POST"
    return _page("subscriptions/confirm.html", subscriber, 422 if expired else 200, form=form, expired=expired)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token):
    """GET shows the button; a POST (the button's, or a mail client's one-click) unsubscribes, nothing else needed."""
    try:
        if request.method == "POST":
            return _page("subscriptions/unsubscribed.html", services.unsubscribe(token))
        subscriber = services.read_unsubscription(token)
    except services.LinkRefused as refused:
        return _refused(refused)
    if subscriber.unsubscribed_at:
        return _page("subscriptions/unsubscribed.html", subscriber)
    return _page("subscriptions/unsubscribe.html", subscriber)
