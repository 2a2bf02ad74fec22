"""The webhooks page's forms: a webhook's settings, and a bare action (only its CSRF token)."""
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired
from wtforms.widgets import CheckboxInput, ListWidget

from ..cleaning import stripped
from .services import DESCRIPTION_MAX, EVENTS, URL_MAX

EVENT_LABELS = {
    "created": "Created: a comment was posted (before its spam check)",
    "held": "Held: a comment waits for a moderator",
    "approved": "Approved: a comment is published",
    "rejected": "Rejected",
    "spam": "Spam: by the spam check or a moderator",
}
SCOPES = [SelectChoice("public", "Public: what a page shows, never the author's email"),
          SelectChoice("emails", "Emails too: the author's email address is added to each comment")]


class Checkboxes(SelectMultipleField):
    """A multiple choice drawn as one checkbox per choice."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        # The service says what is wrong in a sentence; WTForms would quote the unknown value back.
        pass


class WebhookForm(FlaskForm):
    """A webhook's settings, as added or edited; the rules (what an address may be) are the service's."""

    url = StringField("Address (URL) that receives the POSTs", filters=[stripped], render_kw={"maxlength": URL_MAX})
    events = Checkboxes("Events", choices=[SelectChoice(event, EVENT_LABELS[event]) for event in EVENTS])
    scope = RadioField("What it may see", choices=SCOPES, default="public",
                       validators=[InputRequired("Choose what it may see.")])
    description = StringField("Description (for you: what receives it)", filters=[stripped],
                              render_kw={"maxlength": DESCRIPTION_MAX})

    @classmethod
    def of(cls, hook):
        return cls(data={"url": hook.url, "events": hook.events.split(), "scope": hook.scope,
                         "description": hook.description or ""})

    def values(self):
        return {"url": self.url.data, "events": self.events.data, "scope": self.scope.data,
                "description": self.description.data}


class ActionForm(FlaskForm):
    """Only the CSRF token: the webhook or delivery and the action are in the URL."""
