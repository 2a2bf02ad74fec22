"""The moderators' forms: sign-in, one decision, a bulk decision."""
from datetime import datetime, timedelta, timezone

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, DecimalField, IntegerField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional, StopValidation,
                                ValidationError)

from ..cleaning import plain_text, stripped
from ..comments.forms import BODY_MAX, _with_scheme, web_address
from ..ids import parse_id
from .services import ACTIONS, AUDITED_ACTIONS, NOTE_MAX

ACTION_LABELS = {"approve": "Approve", "reject": "Reject", "spam": "Mark as spam", "not-spam": "Not spam",
                 "unapprove": "Unapprove", "trash": "Trash", "restore": "Restore"}
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


def _lines(value):
    return plain_text(value, keep_lines=True)


class NoteField(TextAreaField):
    """An optional "why" for a decision, kept in the audit trail."""

    def __init__(self, label="Note (why, optional)", **kwargs):
        super().__init__(label, filters=[_lines], validators=[
            Length(max=NOTE_MAX, message=f"A note can be at most {NOTE_MAX:,} characters.")], **kwargs)


class DecisionWithNoteForm(FlaskForm):
    note = NoteField()


class IdsForm(FlaskForm):
    ids = SelectMultipleField("Comments", coerce=str, validate_choice=False,
                              validators=[DataRequired("Tick at least one comment."), _ids_in_range])


class BulkForm(IdsForm):
    action = SelectField("Action", choices=[SelectChoice(a, ACTION_LABELS[a]) for a in ACTIONS],
                         validators=[DataRequired("Choose an action.")])
    note = NoteField()


class EverythingForm(FlaskForm):
    """A decision on everything from one author or one address; the count was shown before."""

    action = SelectField("Action", choices=[SelectChoice(a, ACTION_LABELS[a]) for a in ACTIONS],
                         validators=[DataRequired("Choose an action.")])
    note = NoteField()


class EditForm(FlaskForm):
    """A moderator's correction: the same limits as the reader's form."""

    author_name = StringField("Name", filters=[stripped], validators=[
        DataRequired("A comment needs an author's name."), Length(max=100, message="A name can be at most 100 characters.")])
    author_url = StringField("Website", filters=[_with_scheme], validators=[
        Optional(), Length(max=2000, message="That web address is too long."), web_address])
    body = TextAreaField("Comment", filters=[_lines], validators=[
        DataRequired("A comment cannot be empty: trash it instead."),
        Length(max=BODY_MAX, message=f"A comment can be at most {BODY_MAX:,} characters.")])
    note = NoteField()


class ReplyForm(FlaskForm):
    body = TextAreaField("Your reply", filters=[_lines], validators=[
        DataRequired("Type a reply."), Length(max=BODY_MAX, message=f"A reply can be at most {BODY_MAX:,} characters.")])
    approve_parent = BooleanField("Approve the comment too", default=True)


class NoteForm(FlaskForm):
    note = NoteField("Note")


def _days(label):
    return IntegerField(label, validators=[Optional(), NumberRange(1, 36500, "Between 1 and 36,500 days.")])


def _score(label):
    return DecimalField(label, places=2, validators=[Optional(), _finite, NumberRange(0, 1, "Between 0 and 1.")])


class SearchForm(FlaskForm):
    """The queue's search and filters (a GET form: nothing to protect, so no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField("Search", filters=[stripped], validators=[Length(max=200, message="At most 200 characters.")])
    reason = StringField("Reason", filters=[stripped], validators=[Length(max=100, message="At most 100 characters.")])
    score_min = _score("Score from")
    score_max = _score("to")
    newer_than_days = _days("Posted in the last (days)")
    older_than_days = _days("Older than (days)")


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


def _a_real_day(form, field):
    if field.data and not 1900 <= field.data.year <= 9000:
        raise ValidationError("Choose a date between 1900 and 9000.")


class AuditForm(FlaskForm):
    """The audit page's filters (a GET form)."""

    class Meta:
        csrf = False

    moderator = StringField("Moderator", filters=[stripped], validators=[Length(max=80)])
    action = SelectField("Action", choices=[SelectChoice("", "any")] + [SelectChoice(a, a) for a in AUDITED_ACTIONS],
                         default="")
    since = DateField("From", validators=[Optional(), _a_real_day])
    until = DateField("To (inclusive)", validators=[Optional(), _a_real_day])

    def criteria(self):
        if not self.validate():
            return {}
        day = timedelta(days=1)
        as_utc = lambda d: datetime.combine(d, datetime.min.time(), timezone.utc)  # noqa: E731
        return {"moderator_name": self.moderator.data or None, "action": self.action.data or None,
                "since": as_utc(self.since.data) if self.since.data else None,
                "until": as_utc(self.until.data) + day if self.until.data else None}


class SearchPostForm(SearchForm):
    """The queue's search as the page sends it: posted, so that an email or IP typed in it never lands in a URL."""

    class Meta:
        csrf = True
