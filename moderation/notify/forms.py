"""The notification settings form, and the confirmation behind a link from an email."""
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional

from ..cleaning import stripped



def notify_choices(digest_hours):
    every = "a day" if digest_hours == 24 else f"every {digest_hours} hours"
    return [
        SelectChoice("off", "Off: no email"),
        SelectChoice("instant", "Instant: an email soon after comments are held (one email lists them all)"),
        SelectChoice("digest", f"Digest: at most one email {every}, with how many comments wait and the oldest"),
    ]


class AccountForm(FlaskForm):
    # The same checks as the commenter's address on the "Leave a Reply" form.
    email = EmailField("Email address for notifications", filters=[stripped], validators=[
        Optional(), Length(max=320, message="That email address is too long."),
        Email("Please enter a valid email address, like name@example.org.")])
    notify = RadioField("Send me an email", choices=notify_choices(24), default="off",
                        validators=[InputRequired("Choose when to get an email.")])

    def __init__(self, *args, digest_hours=24, **kwargs):
        super().__init__(*args, **kwargs)
        self.notify.choices = notify_choices(digest_hours)


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the moderator, the comment and the action are in the signed link."""
