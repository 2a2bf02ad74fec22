"""The moderators' forms: sign-in, one decision, a bulk decision."""
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from .services import ACTIONS

ACTION_LABELS = {"approve": "Approve", "reject": "Reject", "spam": "Mark as spam", "not-spam": "Not spam"}


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired("Enter your username."), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])


class DecisionForm(FlaskForm):
    """Only the CSRF token: the comment and the action are in the URL."""


class BulkForm(FlaskForm):
    ids = SelectMultipleField("Comments", coerce=int, validate_choice=False,
                              validators=[DataRequired("Tick at least one comment.")])
    action = SelectField("Action", choices=[SelectChoice(a, ACTION_LABELS[a]) for a in ACTIONS],
                         validators=[DataRequired("Choose an action.")])
