"""The discussion settings form: the shape of each number, the policy, and each line of the lists."""
from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, StopValidation

from config import AUTO_APPROVE_CHOICES

from ..cleaning import plain_text
from ..spam.checks import email_key, network_key, normal_domain
from ..spam.settings import SEALED

POLICY_LABELS = {
    "never": "Never: every comment waits for a moderator",
    "trusted": "When no check found a problem and the author has an approved comment, sent from the same browser",
    "clean": "When no check found a problem",
}
# A page of a thousand messages helps nobody: the first ones show what is wrong.
PROBLEMS_SHOWN = 20


def _email(line):
    try:
        validate_email(line, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return email_key(line)


def _domain(line):
    text = line.removeprefix("*.").removeprefix("@").removeprefix(".")
    if any(mark in text for mark in "/:@ "):
        raise ValueError("write the domain alone, like example.net (no https://, path, port or name@).")
    domain = normal_domain(text)
    if domain is None:
        raise ValueError("not a domain; write it like example.net.")
    return domain


def _network(line):
    entry = network_key(line)
    if entry is None:
        raise ValueError("not an IP address or a network; write it like 192.0.2.7, 192.0.2.0/24 or 2001:db8::/48.")
    return entry


class Entries:
    """Each non-empty line must parse; one message per bad line, naming the line and what was typed.

    The parsed entries, normalised and without repeats, are left in `field.entries`.
    """

    def __init__(self, parse):
        self.parse = parse

    def __call__(self, form, field):
        entries, problems = [], []
        for number, line in enumerate((field.data or "").splitlines(), 1):
            if line.strip():
                try:
                    entries.append(self.parse(line.strip()))
                except ValueError as error:
                    problems.append(f"Line {number}, \u201c{line.strip()}\u201d: {error}")
        field.entries = tuple(dict.fromkeys(entries))
        if problems:
            more = len(problems) - PROBLEMS_SHOWN
            field.errors += problems[:PROBLEMS_SHOWN] + ([f"… and {more} more lines like these."] if more > 0 else [])
            raise StopValidation()


def _lines(value):
    return plain_text(value, keep_lines=True)


def _list(label, parse):
    return TextAreaField(label, filters=[_lines], validators=[Entries(parse)])


def _days(label):
    return IntegerField(label, validators=[InputRequired("Enter a number of days."),
                                           NumberRange(0, 36_500, "Between 0 and 36,500 days.")])


class DiscussionForm(FlaskForm):
    """Everything on the "Discussion settings" page."""

    close_after_days = _days("Close comments on threads older than this many days (0: never)")
    thread_depth = IntegerField("Deepest reply level (1: no replies)", validators=[
        InputRequired("Enter a number of levels."), NumberRange(1, 10, "Between 1 and 10.")])
    comments_per_page = IntegerField("Top-level comments per page (0: the whole thread on one page)", validators=[
        InputRequired("Enter a number of comments."), NumberRange(0, 200, "Between 0 and 200.")])
    auto_approve = SelectField("Approve a comment without a moderator", choices=[
        SelectChoice(choice, POLICY_LABELS[choice]) for choice in AUTO_APPROVE_CHOICES])
    trusted_emails = _list("Trusted emails", _email)
    trusted_domains = _list("Trusted domains (of the email)", _domain)
    trusted_ips = _list("Trusted IPs (an address or a network)", _network)
    blocked_emails = _list("Blocked emails", _email)
    blocked_domains = _list("Blocked domains (of the email or the website)", _domain)
    blocked_ips = _list("Blocked IPs (an address or a network)", _network)
    spam_retention_days = _days("Empty the spam of comments older than this many days (0: keep them)")
    trash_retention_days = _days("Empty the trash of comments older than this many days (0: keep them)")

    @classmethod
    def of(cls, values):
        """The form filled in with the settings in force, one list entry per line."""
        return cls(data={name: "\n".join(value) if name in SEALED else value for name, value in values.items()})

    def values(self):
        return {name: getattr(self, name).entries if name in SEALED else getattr(self, name).data
                for name in (*SEALED, "close_after_days", "thread_depth", "comments_per_page", "auto_approve",
                             "spam_retention_days", "trash_retention_days")}
