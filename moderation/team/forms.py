"""The team page's forms: a new moderator, a role, a bare action, and the welcome link's new password."""
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, ValidationError

from ..cleaning import NOT_TYPED

USERNAME_MAX = 80
PASSWORD_MIN, PASSWORD_MAX = 8, 1024
PASSWORD_LENGTH = "A password needs 8 to 1,024 characters."
ROLES = [SelectChoice("moderator", "Moderator"), SelectChoice("admin", "Administrator")]
HOW = [SelectChoice("invite", "Invite: make a link the person opens to choose their own password"),
       SelectChoice("password", "Type a password for them now")]


def _trimmed(value):
    return value.strip() if isinstance(value, str) else value


def _typeable(form, field):
    if field.data and NOT_TYPED.search(field.data):
        raise ValidationError("A username cannot contain control characters, tabs, line breaks or direction marks.")


class CreateForm(FlaskForm):
    """A new moderator: a username, a role, and either a password typed twice or an invitation link."""

    username = StringField("Username", filters=[_trimmed], validators=[
        DataRequired("Enter a username."),
        Length(max=USERNAME_MAX, message=f"A username can be at most {USERNAME_MAX} characters."), _typeable])
    role = SelectField("Role", choices=ROLES, default="moderator")
    how = RadioField("How they get a password", choices=HOW, default="invite",
                     validators=[InputRequired("Choose how they get a password.")])
    password = PasswordField("Password")
    again = PasswordField("Password again")

    def _typing(self):
        return self.how.data == "password"

    def validate_password(self, field):
        if self._typing() and not PASSWORD_MIN <= len(field.data or "") <= PASSWORD_MAX:
            raise ValidationError(PASSWORD_LENGTH)

    def validate_again(self, field):
        if self._typing() and field.data != self.password.data:
            raise ValidationError("The two passwords differ.")

    def chosen_password(self):
        """The typed password, or None for an invitation."""
        return self.password.data if self._typing() else None


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLES, validators=[DataRequired("Choose a role.")])


class ActionForm(FlaskForm):
    """Only the CSRF token: the person and the action are in the URL."""


class WelcomeForm(FlaskForm):
    new = PasswordField("New password", validators=[
        DataRequired("Enter a new password."), Length(min=PASSWORD_MIN, max=PASSWORD_MAX, message=PASSWORD_LENGTH)])
    again = PasswordField("New password again", validators=[
        DataRequired("Type the new password again."), EqualTo("new", "The two passwords differ.")])
