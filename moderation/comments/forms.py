"""The "Leave a Reply" form: the shape of what a reader sends."""
from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

BODY_MAX = 10_000


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _with_scheme(value):
    """A reader who types "example.org" means a web address; add the scheme they left out."""
    value = _strip(value)
    if value and "://" not in value and ":" not in value.split("/")[0]:
        return "https://" + value
    return value


def web_address(form, field):
    parts = urlsplit(field.data or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or "." not in parts.hostname:
        raise ValidationError("Enter a web address starting with http:// or https://.")


def parent_number(form, field):
    if field.data and not str(field.data).isdigit():
        raise ValidationError("The comment you are replying to is not valid.")


class CommentForm(FlaskForm):
    author_name = StringField(
        "Name *",
        filters=[_strip],
        validators=[DataRequired("Please enter your name."), Length(max=100, message="Your name can be at most 100 characters.")],
    )
    author_email = EmailField(
        "Email *",
        filters=[_strip],
        validators=[
            DataRequired("Please enter your email address."),
            Length(max=320, message="That email address is too long."),
            Email("Please enter a valid email address, like name@example.org."),
        ],
    )
    author_url = URLField(
        "Website",
        filters=[_with_scheme],
        validators=[Optional(), Length(max=2000, message="That web address is too long."), web_address],
    )
    body = TextAreaField(
        "Comment *",
        validators=[
            DataRequired("Please type a comment."),
            Length(max=BODY_MAX, message=f"A comment can be at most {BODY_MAX:,} characters."),
        ],
    )
    parent_id = HiddenField(validators=[parent_number])
    remember = BooleanField("Save my name, email, and website in this browser for the next time I comment.")
    # Hidden from people by CSS; a bot that fills every field fills this one too.
    comment_check = StringField("Leave this field empty")

    @property
    def csrf_failed(self):
        return bool(self.meta.csrf and self.csrf_token.errors)
