"""Every console route, walked from the URL map: strangers are sent to sign in, moderators served, admin pages kept for admins."""
import re
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from moderation import create_app
from moderation.extensions import db
from moderation.models import (AuditEvent, Comment, Moderator, ModeratorSession, PrivacyEvent, Setting, Webhook,
                               WebhookDelivery)
from moderation.review import services as review
from tests import factories
from tests.conftest import app_config, build_app, csrf_token, empty_tables, form_tokens, sign_in

# Routes only an administrator may use: the views in moderation/review/views.py that check `current_user.is_admin`.
# Kept by hand on purpose: a new administrator's route goes here, and the test then proves it refuses moderators.
ADMIN_ONLY = {
    "review.settings",
    "team.index", "team.create", "team.change_role", "team.deactivate", "team.reactivate", "team.reset_password",
    "team.script",
    "discussion.settings", "discussion.threads", "discussion.set_open",
    "webhooks.index", "webhooks.create", "webhooks.edit", "webhooks.set_active", "webhooks.delete", "webhooks.rotate",
    "webhooks.test", "webhooks.deliveries", "webhooks.retry",
}
# Routes that change something through the JSON API take a token (`Authorization: Bearer`), never a session cookie,
# so that no other site can make a signed-in browser use them; their own tests are in test_api_tokens.py.
TOKEN_ONLY = {"api.decide", "api.decide_bulk"}
# The walk must find at least these, so that it can never pass by walking nothing.
EXPECTED = {
    ("review.queue", "GET"), ("review.comment", "GET"), ("review.decide", "POST"), ("review.bulk", "POST"),
    ("review.settings", "GET"), ("review.settings", "POST"), ("review.logout", "POST"), ("api.moderation_comments", "GET"),
    ("review.search", "POST"), ("review.undo", "POST"), ("review.everything", "POST"), ("review.edit", "POST"),
    ("review.reply", "POST"), ("review.delete", "POST"), ("review.empty", "POST"), ("review.audit", "GET"),
    ("review.note", "POST"), ("team.index", "GET"), ("team.create", "POST"), ("discussion.settings", "POST"),
    ("discussion.set_open", "POST"), ("notify.account", "GET"), ("notify.account", "POST"),
}
NEW_PASSWORD = "a new and longer passphrase"
SETTINGS_FORM = {"link_limit": "7", "hold_words": "", "blocked_words": "", "spam_threshold": "0.9",
                 "clean_threshold": "0.2", "min_form_seconds": "3"}


@dataclass(frozen=True)
class Route:
    endpoint: str
    rule: str
    method: str
    arguments: frozenset

    @property
    def is_api(self):
        return self.rule.startswith("/api/")

    def __str__(self):
        return f"{self.method} {self.rule} ({self.endpoint})"


# Console addresses a person uses without a session: signing in, and the links sent by email (their signed token
# is the authority; their own tests are in test_team.py and test_notify.py).
SIGNED_LINKS = {"team.welcome", "notify.email_action"}


def is_console(rule):
    """The moderators' pages (but the sign-in page and the emailed links) and the moderators' JSON."""
    if rule.endpoint == "static" or rule.endpoint in SIGNED_LINKS | {"review.login"}:
        return False
    return rule.rule.startswith("/moderation") or rule.rule.startswith("/api/v1/moderation")


def console_routes():
    """Every console route and method, read from a throwaway app's URL map when the tests are collected."""
    app = create_app(app_config("sqlite://"))
    return sorted(
        (Route(rule.endpoint, rule.rule, method, frozenset(rule.arguments))
         for rule in app.url_map.iter_rules() if is_console(rule)
         for method in rule.methods - {"HEAD", "OPTIONS"}),
        key=str,
    )


ROUTES = console_routes()


def test_the_walk_finds_every_console_route_we_know():
    found = {(route.endpoint, route.method) for route in ROUTES}
    assert EXPECTED <= found, f"the URL map walk missed {sorted(EXPECTED - found)}; it found {sorted(found)}"
    assert ADMIN_ONLY <= {endpoint for endpoint, _ in found}, "an administrator's route in ADMIN_ONLY no longer exists"


# --- One request to a route --------------------------------------------------------------------------------------

def _arguments(comment_id):
    """What the test puts in a route's variables: this case's comment, an action that applies to a held comment,
    the comment's first audit event, a moderator, and values no real batch or link has."""
    event_id = _one(sa.select(sa.func.min(AuditEvent.id)).where(AuditEvent.comment_id == comment_id))
    # Someone the team actions apply to: never the signed-in administrator, whom the rules protect from themselves.
    colleague = _one(sa.select(Moderator.id).where(Moderator.username == "colleague"))
    thread_id = _one(sa.select(Comment.thread_id).where(Comment.id == comment_id))
    return {"comment_id": comment_id, "action": "approve", "event_id": event_id, "by": "author", "state": "spam",
            "batch": "0" * 32, "moderator_id": colleague, "thread_id": thread_id, "token": "not-a-signed-token",
            "hook_id": _one(sa.select(sa.func.min(Webhook.id))),
            "delivery_id": _one(sa.select(sa.func.min(WebhookDelivery.id)))}


# A route's own word where the walk's usual value would not fit it.
ACTION_OF = {"discussion.set_open": "close", "webhooks.set_active": "deactivate"}


def _url(app, route, comment_id):
    """The route's address for this case's comment, with `_arguments` in its variables."""
    known = {**_arguments(comment_id), "action": ACTION_OF.get(route.endpoint, "approve")}
    unknown = route.arguments - set(known)
    assert not unknown, f"{route}: the test does not know what to put in {sorted(unknown)}; add it to `known`"
    values = {name: known[name] for name in route.arguments}
    return app.url_map.bind("localhost").build(route.endpoint, values, method=route.method)


def _form(route, case):
    """What a browser sends to the route: the CSRF token, and the fields of the route's own form."""
    fields = {
        ("review.bulk", "POST"): {"ids": [str(case.comment)], "action": "approve"},
        ("review.settings", "POST"): SETTINGS_FORM,
        ("review.password", "POST"): {"current": factories.PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD},
    }
    return {"csrf_token": case.token, **fields.get((route.endpoint, route.method), {})}


def _send(app, route, case):
    url = _url(app, route, case.comment)
    if route.method == "GET":
        return case.client.get(url)
    if route.endpoint in TOKEN_ONLY:
        return case.client.open(url, method=route.method, json={"action": "approve", "ids": [case.comment]})
    return case.client.open(url, method=route.method, data=_form(route, case))


def _database():
    """Every row of every table, read afresh: the proof that a refused request changed nothing."""
    rows = {table.name: sorted(map(repr, db.session.execute(table.select()).all())) for table in db.metadata.sorted_tables}
    db.session.commit()
    return rows


def _one(statement):
    value = db.session.scalar(statement)
    db.session.commit()
    return value


# --- What "allowed" means for each route: the work was done, not merely "not refused" ----------------------------

def _html(response):
    return response.get_data(as_text=True)


def _approved(route, response, case):
    return response.status_code == 303 and _one(sa.select(Comment.state).where(Comment.id == case.comment)) == "approved"


RAN = {
    ("review.queue", "GET"): lambda route, r, case: r.status_code == 200 and f'id="queue-{case.comment}"' in _html(r),
    ("review.comment", "GET"): lambda route, r, case: r.status_code == 200 and f"Comment {case.comment}" in _html(r),
    ("review.decide", "POST"): _approved,
    ("review.bulk", "POST"): _approved,
    ("review.reveal_email", "POST"): lambda route, r, case: r.status_code == 200 and _one(
        sa.select(sa.func.count()).select_from(PrivacyEvent).where(
            PrivacyEvent.comment_id == case.comment, PrivacyEvent.action == "reveal email",
            PrivacyEvent.actor == case.username)) == 1,
    ("review.settings", "GET"): lambda route, r, case: r.status_code == 200 and "Spam settings" in _html(r),
    ("review.settings", "POST"): lambda route, r, case: r.status_code == 303 and _one(
        sa.select(Setting.value).where(Setting.key == "link_limit")) == 7,
    ("review.password", "GET"): lambda route, r, case: r.status_code == 200 and "Change your password" in _html(r),
    ("review.password", "POST"): lambda route, r, case: r.status_code == 303 and review.authenticate(
        case.username, NEW_PASSWORD) is not None,
    ("review.logout", "POST"): lambda route, r, case: r.status_code == 303 and _goes_to_sign_in(r) and _one(
        sa.select(sa.func.count()).select_from(ModeratorSession)
        .where(ModeratorSession.moderator_id == case.moderator_id)) == case.sessions - 1
        and _goes_to_sign_in(case.client.get("/moderation/")),
    ("api.moderation_comments", "GET"): lambda route, r, case: r.status_code == 200 and case.comment in [
        c["id"] for c in r.get_json()["comments"]],
}


def _served(route, response, case):
    """A route this test has no specific check for (a new one): served, neither refused nor sent to sign in."""
    return response.status_code < 500 and response.status_code not in (401, 403) and not _goes_to_sign_in(response)


def _goes_to_sign_in(response):
    return response.status_code in (302, 303) and urlsplit(response.headers["Location"]).path == "/moderation/login"


# --- The walk ----------------------------------------------------------------------------------------------------

def _case(app, thread, who=None):
    """A held comment of its own, and a browser: signed in as `who`, or a stranger's with the sign-in page's token."""
    comment = factories.make_comment(thread, "held", email="private@example.org")
    if _one(sa.select(Moderator.id).where(Moderator.username == "colleague")) is None:
        factories.make_moderator("colleague")
    if _one(sa.select(sa.func.count()).select_from(Webhook)) == 0:
        # A webhook with a failed delivery, for the webhooks' pages and their "Retry now".
        hook = Webhook(url="https://hooks.example.org/comments", events="held", secret="a secret")
        db.session.add(hook)
        db.session.flush()
        db.session.add(WebhookDelivery(webhook_id=hook.id, event="held", comment_id=comment.id, payload={},
                                       state="failed", attempts=6))
        db.session.commit()
    client = app.test_client()
    if who is None:
        token = csrf_token(client.get("/moderation/login").get_data(as_text=True))
        return SimpleNamespace(client=client, token=token, comment=comment.id)
    assert sign_in(client, who.username).status_code == 303, f"{who.username} could not sign in"
    token = csrf_token(client.get("/moderation/").get_data(as_text=True))
    sessions = _one(sa.select(sa.func.count()).select_from(ModeratorSession).where(ModeratorSession.moderator_id == who.id))
    return SimpleNamespace(client=client, token=token, comment=comment.id, username=who.username, moderator_id=who.id,
                           sessions=sessions)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_console_route_sends_strangers_to_sign_in_and_serves_each_role(app, route):
    thread = factories.make_thread("an-article")
    moderator = factories.make_moderator("alice")
    administrator = factories.make_moderator("root", is_admin=True)

    stranger = _case(app, thread)
    before = _database()
    response = _send(app, route, stranger)
    if route.is_api:
        assert response.status_code == 401, f"{route}: a stranger got {response.status_code}, not 401"
    else:
        assert _goes_to_sign_in(response), f"{route}: a stranger got {response.status_code} " \
                                           f"{response.headers.get('Location')}, not a redirect to /moderation/login"
    assert _database() == before, f"{route}: a stranger's request changed the database"

    for who in (moderator, administrator):
        case = _case(app, thread, who)
        before = _database()
        response = _send(app, route, case)
        assert response.status_code < 500, f"{route}: {who.username} got {response.status_code}"
        if route.endpoint in TOKEN_ONLY:
            assert response.status_code == 401, f"{route}: a signed-in browser got {response.status_code}, not 401"
            assert _database() == before, f"{route}: a browser's cookie changed something through the API"
        elif route.endpoint in ADMIN_ONLY and not who.is_admin:
            assert response.status_code == 403, f"{route}: a moderator who is not an administrator got {response.status_code}"
            assert _database() == before, f"{route}: a refused moderator's request changed the database"
        else:
            ran = RAN.get((route.endpoint, route.method), _served)
            assert ran(route, response, case), \
                f"{route}: {who.username} got {response.status_code} {response.headers.get('Location', '')}, " \
                "and the route's work was not done"


# --- Forged tokens: every route that changes something, walked from the URL map ----------------------------------

def changing_routes():
    """Every route and method that may change something (not GET), across the whole app, not only the console."""
    app = create_app(app_config("sqlite://"))
    return sorted(
        (Route(rule.endpoint, rule.rule, method, frozenset(rule.arguments))
         for rule in app.url_map.iter_rules()
         for method in rule.methods - {"GET", "HEAD", "OPTIONS"}),
        key=str,
    )


CHANGING = changing_routes()
# What a browser posts to the routes outside the console, besides the token.
PUBLIC_FORMS = {
    ("comments.post", "POST"): {"author_name": "Reader", "author_email": "forged-post@example.org", "author_url": "",
                                "body": "Typed before the token was forged.", "parent_id": ""},
    ("review.login", "POST"): {"username": "root", "password": factories.PASSWORD},
}


def test_the_forged_token_walk_finds_every_form_we_know():
    found = {(route.endpoint, route.method) for route in CHANGING}
    assert {("comments.post", "POST"), ("review.login", "POST"), ("review.decide", "POST"), ("review.bulk", "POST"),
            ("review.settings", "POST"), ("review.password", "POST"), ("review.logout", "POST"),
            ("review.reveal_email", "POST")} <= found


def _forged_form(app, route, case, token):
    if (route.endpoint, route.method) == ("comments.post", "POST"):
        page = case.client.get(f"/threads/{case.thread_key}").get_data(as_text=True)
        fields = {**form_tokens(page), **PUBLIC_FORMS[(route.endpoint, route.method)]}
    else:
        fields = _form(route, case) | PUBLIC_FORMS.get((route.endpoint, route.method), {})
    if token is None:
        fields.pop("csrf_token", None)
    else:
        fields["csrf_token"] = token
    return fields


@pytest.fixture
def sqlite_app(sqlite_url):
    """The token checks come before any query, the same on every database: this walk runs on SQLite alone (on both
    it took a minute and a half of the suite), the console walk above on both."""
    app = build_app(sqlite_url)
    try:
        with app.app_context():
            yield app
    finally:
        empty_tables(app)


@pytest.mark.parametrize("token", ["forged", None], ids=["forged", "missing"])
@pytest.mark.parametrize("route", CHANGING, ids=str)
def test_a_form_with_a_forged_or_missing_token_changes_nothing(sqlite_app, route, token):
    """A page on another site cannot make a signed-in administrator's browser change anything: every form
    that changes something checks its token, and a refusal is said in words and leaves the database as it was."""
    app = sqlite_app
    thread = factories.make_thread("an-article")
    administrator = factories.make_moderator("root", is_admin=True)
    case = _case(app, thread, administrator)
    case.thread_key = "an-article"
    arguments = {**_arguments(case.comment), "key": case.thread_key, "action": ACTION_OF.get(route.endpoint, "approve")}
    url = app.url_map.bind("localhost").build(route.endpoint, {name: arguments[name] for name in route.arguments},
                                              method=route.method)
    if route.endpoint in TOKEN_ONLY:
        before = _database()
        response = case.client.open(url, method=route.method, json={"action": "approve", "ids": [case.comment]})
        assert response.status_code == 401 and _database() == before, f"{route}: a cookie decided through the API"
        return
    if route.endpoint.startswith("isso."):
        # Isso's client sends JSON, which no other site's page can send without asking first (CORS): a form it can
        # send is refused unread.
        before = _database()
        response = case.client.open(url, method=route.method, data=PUBLIC_FORMS[("comments.post", "POST")])
        assert response.status_code == 415 and _database() == before, f"{route}: {response.status_code}"
        return
    if route.endpoint.startswith("api."):
        # The JSON API takes no cookie, so no CSRF token: its form token is what a forger cannot have.
        fields = {**PUBLIC_FORMS[("comments.post", "POST")], **({"form_token": token} if token else {})}
        before = _database()
        response = case.client.open(url, method=route.method, json=fields)
        assert response.status_code == 422 and "form_token" in response.get_json()["fields"], response.get_json()
        assert _database() == before, f"{route}: a request with a {token or 'missing'} form token changed the database"
        cross_site_form = case.client.open(url, method=route.method, data={**fields, "form_token": "x"})
        assert cross_site_form.status_code == 400, "a form another site's page can send is refused unread"
        return
    data = _forged_form(app, route, case, token)
    before = _database()
    response = case.client.open(url, method=route.method, data=data, follow_redirects=True)
    assert response.status_code < 500, f"{route}: {response.status_code}"
    assert _database() == before, f"{route}: a request with a {token or 'missing'} token changed the database"
    page = response.get_data(as_text=True)
    assert re.search(r"expired|could not be verified", page), f"{route}: the refusal is not explained:\n{page[:2000]}"
    if route.endpoint == "comments.post":
        assert "Typed before the token was forged." in page, "the reader's text was lost with the token"
