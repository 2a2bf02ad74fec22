"""What Isso's client sends, read with the "Leave a Reply" form's own fields and rules."""
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from ..comments.forms import CommentForm

# Isso's field: ours.
FIELDS = {"author": "author_name", "email": "author_email", "website": "author_url", "text": "body"}
OURS = {ours: theirs for theirs, ours in FIELDS.items()}
OURS["parent_id"] = "parent"


class IssoCommentForm(CommentForm):
    """The form without the stamp of when it was opened: Isso's client sends none (nor the robots' field)."""

    opened = None


class IssoEditForm(FlaskForm):
    body = CommentForm.body


class BadField(ValueError):
    """A field of the wrong JSON type: the message names it, as Isso's server does."""


def comment_form(sent):
    """The form filled from Isso's JSON (strings or null, `parent` a number or null), not yet validated."""
    values = {}
    for theirs, ours in FIELDS.items():
        value = sent.get(theirs)
        if not isinstance(value, (str, type(None))):
            raise BadField(f"{theirs} must be a string or null")
        values[ours] = value or ""
    parent = sent.get("parent")
    if isinstance(parent, bool) or not isinstance(parent, (int, type(None))):
        raise BadField("parent must be an integer or null")
    values["parent_id"] = str(parent or "")
    return IssoCommentForm(formdata=MultiDict(values), meta={"csrf": False})


def edit_form(sent):
    text = sent.get("text")
    if not isinstance(text, str):
        raise BadField("text must be a string")
    return IssoEditForm(formdata=MultiDict({"body": text}), meta={"csrf": False})


def first_error(form):
    """(Isso's name of the first field refused, why)."""
    name, errors = next(iter(form.errors.items()))
    return OURS.get(name, name), str(errors[0])
