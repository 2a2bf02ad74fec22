"""schemathesis against the API's own OpenAPI document: generated requests, valid and not, never a 500, and every
answer as the document describes it."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from moderation.api import tokens
from tests import factories
from tests.conftest import SITE

EXAMPLES = 40
# A request the document allows may still be refused by a rule no JSON Schema can state: a signed form token, an
# email address that must have a domain, a reply to an approved comment. Those answer 422 (checked as documented).
BUSINESS_RULES = [positive_data_acceptance]


@pytest.fixture
def seeded_api(make_app):
    app = make_app(MODERATION_ALLOWED_ORIGINS=(SITE,))
    with app.app_context():
        thread = factories.make_thread("article", "An article")
        parent = factories.make_comment(thread, "approved")
        factories.make_comment(thread, "approved", parent_id=parent.id)
        for state in ("held", "spam"):
            factories.make_comment(thread, state)
        app.config["TEST_TOKEN"], _ = tokens.create_token("schemathesis", "moderate")
    return app


def test_every_operation_answers_as_documented(seeded_api):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", seeded_api)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{o.method.upper()} {o.path}" for o in operations} >= {
        "GET /api/v1/threads/{key}/comments", "POST /api/v1/threads/{key}/comments", "GET /api/v1/counts",
        "GET /api/v1/threads/{key}/form"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case):
            # With a token of the moderate scope, so that the moderators' operations are exercised, not only refused.
            case.call_and_validate(headers={"Authorization": f"Bearer {seeded_api.config['TEST_TOKEN']}"},
                                   excluded_checks=BUSINESS_RULES)

        answers_as_documented()
