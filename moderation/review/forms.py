"""The moderators' forms: sign-in, one decision, a bulk decision."""
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, StopValidation, ValidationError

from ..cleaning import stripped
from ..ids import parse_id
from .services import ACTIONS

ACTION_LABELS = {"approve": "Approve", "reject": "Reject", "spam": "Mark as spam", "not-spam": "Not spam"}
PASSWORD_MAX = 1024


class LoginForm(FlaskForm):
    username = StringField("Username", filters=[stripped], validators=[DataRequired("Enter your username."), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=PASSWORD_MAX)])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired("Enter your current password."),
                                                            Length(max=PASSWORD_MAX)])
    new = PasswordField("New password", validators=[
        DataRequired("Enter a new password."),
        Length(min=8, max=PASSWORD_MAX, message="A password needs 8 to 1,024 characters.")])
    again = PasswordField("New password again", validators=[
        DataRequired("Type the new password again."), EqualTo("new", "The two new passwords differ.")])


def _ids_in_range(form, field):
    if any(parse_id(value) is None for value in field.data or ()):
        raise ValidationError("Those are not comments of this queue: reload the page and tick again.")


def _finite(form, field):
    """NaN and infinity parse as decimals; no threshold or number of seconds can be either."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation("Enter a number.")


class DecisionForm(FlaskForm):
    """Only the CSRF token: the comment and the action are in the URL."""


class BulkForm(FlaskForm):
    ids = SelectMultipleField("Comments", coerce=str, validate_choice=False,
                              validators=[DataRequired("Tick at least one comment."), _ids_in_range])
    action = SelectField("Action", choices=[SelectChoice(a, ACTION_LABELS[a]) for a in ACTIONS],
                         validators=[DataRequired("Choose an action.")])


def _words(text):
    return tuple(dict.fromkeys(w.strip() for w in (text or "").splitlines() if w.strip()))


class SettingsForm(FlaskForm):
    """The spam checks' settings an administrator may change."""

    link_limit = IntegerField("Most links a comment may have before it is held", validators=[
        InputRequired("Enter a number."), NumberRange(0, 100, "Between 0 and 100.")])
    hold_words = TextAreaField("Moderation words (one per line): hold the comment")
    blocked_words = TextAreaField("Blocked words (one per line): mark the comment spam")
    spam_threshold = DecimalField("Confident spam from this model score", places=2, validators=[
        InputRequired("Enter a score."), _finite, NumberRange(0, 1, "Between 0 and 1.")])
    clean_threshold = DecimalField("Clean below this model score", places=2, validators=[
        InputRequired("Enter a score."), _finite, NumberRange(0, 1, "Between 0 and 1.")])
    min_form_seconds = DecimalField("Fewest seconds a person takes to fill the form", places=1, validators=[
        InputRequired("Enter a number of seconds."), _finite, NumberRange(0, 600, "Between 0 and 600.")])

    def validate_spam_threshold(self, field):
        spam, clean = field.data, self.clean_threshold.data
        if None not in (spam, clean) and spam.is_finite() and clean.is_finite() and spam <= clean:
            raise ValidationError("The spam threshold must be above the clean threshold.")

    def values(self):
        return {
            "link_limit": self.link_limit.data, "hold_words": list(_words(self.hold_words.data)),
            "blocked_words": list(_words(self.blocked_words.data)), "spam_threshold": float(self.spam_threshold.data),
            "clean_threshold": float(self.clean_threshold.data), "min_form_seconds": float(self.min_form_seconds.data),
        }
