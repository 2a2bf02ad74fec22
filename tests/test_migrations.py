"""The migrations build the schema the models describe, on both backends, and step back down."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from moderation import create_app
from moderation.extensions import db
from tests.conftest import app_config


def _differences():
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_the_migrated_schema_is_the_one_the_models_describe(app):
    assert _differences() == []


def test_the_latest_migration_steps_down_and_up_again(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path / 'steps.sqlite3'}"))
    with app.app_context():
        upgrade()
        downgrade(revision="0004_api_tokens")
        upgrade()
        assert _differences() == []
