"""The confirmation behind the link in a confirmation request: only the CSRF token (the subscriber is in the link)."""
from flask_wtf import FlaskForm


class ConfirmForm(FlaskForm):
    """Only the CSRF token: a mail scanner that follows the link confirms nothing."""
