"""The "Leave a Reply" form: the shape of what a reader sends."""
import time
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from flask_babel import gettext, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from ..cleaning import plain_text, stripped
from ..ids import parse_id

BODY_MAX = 10_000


def _lines(value):
    return plain_text(value, keep_lines=True)


def _with_scheme(value):
    """A reader who types "example.org" means a web address; add the scheme they left out."""
    value = stripped(value)
    if value and "://" not in value and ":" not in value.split("/")[0]:
        return "https://" + value
    return value


def _host(address):
    """The host of an http(s) address, or None; urlsplit raises on `http://[::1` and on a port like `:x`."""
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018 - only to make a malformed port raise here
    except ValueError:
        return None
    return parts.hostname if parts.scheme in ("http", "https") else None


def web_address(form, field):
    host = _host(field.data or "")
    if not host or "." not in host:
        raise ValidationError(gettext("Enter a web address starting with http:// or https://."))


def _signer():
    return TimestampSigner(current_app.secret_key, salt="comment-form-opened")


def opened_stamp():
    """A signed note of when the form was handed out; the checks compare it with when it came back."""
    return _signer().sign(f"{time.time():.3f}").decode()


def form_opened(form, field):
    max_age = current_app.config["MODERATION_FORM_MAX_AGE"]
    try:
        opened = float(_signer().unsign(field.data or "", max_age=max_age))
    except SignatureExpired:
        raise ValidationError(gettext("This form was opened more than %(hours)s hours ago, so nothing was posted. "
                                      "Your comment is still below: please send it again.", hours=max_age // 3600)) from None
    except (BadSignature, ValueError):
        raise ValidationError(gettext("This form could not be verified, so nothing was posted. "
                                      "Your comment is still below: please send it again.")) from None
    form.form_seconds = max(time.time() - opened, 0.0)


def parent_number(form, field):
    if field.data and parse_id(field.data) is None:
        raise ValidationError(gettext("The comment you are replying to is not valid."))


class CommentForm(FlaskForm):
    author_name = StringField(
        _l("Name *"),
        filters=[stripped],
        validators=[DataRequired(_l("Please enter your name.")),
                    Length(max=100, message=_l("Your name can be at most 100 characters."))],
    )
    author_email = EmailField(
        _l("Email *"),
        filters=[stripped],
        validators=[
            DataRequired(_l("Please enter your email address.")),
            Length(max=320, message=_l("That email address is too long.")),
            Email(_l("Please enter a valid email address, like name@example.org.")),
        ],
    )
    author_url = URLField(
        _l("Website"),
        filters=[_with_scheme],
        validators=[Optional(), Length(max=2000, message=_l("That web address is too long.")), web_address],
    )
    body = TextAreaField(
        _l("Comment *"),
        filters=[_lines],
        validators=[
            DataRequired(_l("Please type a comment.")),
            Length(max=BODY_MAX, message=_l("A comment can be at most %(count)s characters.", count=f"{BODY_MAX:,}")),
        ],
    )
    parent_id = HiddenField(validators=[parent_number])
    opened = HiddenField(validators=[form_opened])
    remember = BooleanField(_l("Save my name, email, and website in this browser for the next time I comment."))
    # Offered only when the service can send email (subscriptions.services.offered); the first email asks to confirm.
    notify_replies = BooleanField(_l("Notify me of replies by email."))
    notify_approval = BooleanField(_l("Tell me by email when my comment is approved."))
    # Hidden from people by CSS; a bot that fills every field fills this one too.
    comment_check = StringField(_l("Leave this field empty"))

    form_seconds = None

    @property
    def csrf_failed(self):
        return bool(self.meta.csrf and self.csrf_token.errors)

    @property
    def expired_message(self):
        """Why the whole form must be sent again (its text is kept), or None."""
        if self.csrf_failed:
            return gettext("This form expired before it was sent, so nothing was posted. "
                           "Your comment is still below: please send it again.")
        return self.opened.errors[0] if self.opened.errors else None
