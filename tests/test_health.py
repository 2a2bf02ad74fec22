"""GET /healthz tells an operator whether the database and the broker answer."""


def test_healthz_is_ok_when_both_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "broker": "ok", "status": "ok"}


def test_healthz_is_503_and_names_the_broker_when_it_is_down(make_app):
    app = make_app(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["broker"] == "unreachable" and response.get_json()["database"] == "ok"
