"""GET /healthz tells an operator whether the database and the broker answer."""
import pytest

from moderation import create_app
from moderation.extensions import db
from tests import factories
from tests.conftest import app_config, comment_fields, form_tokens, sign_in


def test_healthz_is_ok_when_both_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "broker": "ok", "status": "ok"}


def test_healthz_is_503_and_names_the_broker_when_it_is_down(make_app):
    app = make_app(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["broker"] == "unreachable" and response.get_json()["database"] == "ok"


@pytest.mark.parametrize("database_url", [
    "postgresql+psycopg://postgres@127.0.0.1:1/moderation",
    "sqlite:////nonexistent-folder/moderation.sqlite3",
], ids=["postgresql-down", "sqlite-unreadable"])
def test_healthz_is_503_and_names_the_database_when_it_is_down(database_url):
    """What a load balancer or an operator's monitor sees when the database does not answer: 503, the
    database named, the broker still reported, and no 500 page."""
    app = create_app(app_config(database_url))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"database": "unreachable", "broker": "ok", "status": "degraded"}
    with app.app_context():
        db.engine.dispose()


DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/moderation"


def _same_browser_on(down, client):
    """The browser that opened the pages on the healthy app, now talking to an app whose database is down."""
    other = down.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def test_the_reply_form_is_a_clear_503_with_the_text_kept_when_the_database_is_down(make_app):
    """A reader posting while the database is unreachable is told to try again, with what they typed in the form."""
    app = make_app()
    with app.app_context():
        factories.make_thread("down", "Down article")
    client = app.test_client()
    tokens = form_tokens(client.get("/threads/down").get_data(as_text=True))
    down = create_app(app_config(DOWN, SECRET_KEY=app.config["SECRET_KEY"]))
    reader = _same_browser_on(down, client)
    fields = comment_fields(author_name="Patient Reader", body="Typed while the database was down.")
    response = reader.post("/threads/down", data={**tokens, **fields})
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    page = response.get_data(as_text=True)
    assert "Typed while the database was down.</textarea>" in page, page[page.find("<textarea"):][:300]
    assert 'value="Patient Reader"' in page
    assert "cannot reach its database just now" in page and 'action="/threads/down#respond"' in page
    with down.app_context():
        db.engine.dispose()


def test_a_signed_in_moderator_gets_a_503_page_not_a_500_when_the_database_is_down(make_app):
    app = make_app()
    with app.app_context():
        factories.make_moderator("alice")
    client = app.test_client()
    assert sign_in(client).status_code == 303
    down = create_app(app_config(DOWN, SECRET_KEY=app.config["SECRET_KEY"]))
    moderator = _same_browser_on(down, client)
    for path in ("/moderation/", "/api/v1/moderation/comments", "/", "/threads/anything"):
        response = moderator.get(path)
        assert response.status_code == 503, (path, response.status_code)
        assert "cannot reach its database just now" in response.get_data(as_text=True)
    with down.app_context():
        db.engine.dispose()
