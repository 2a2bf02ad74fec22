"""Settings come from the environment once; production refuses to start without its secrets."""
import pytest

import config


def test_the_embedded_defaults_live_in_the_instance_folder(tmp_path):
    settings = config.load({}, tmp_path)
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'moderation.sqlite3'}"
    assert settings["CELERY_BROKER_URL"] == f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    assert (tmp_path / "secret_key").read_text().strip() == settings["SECRET_KEY"]
    assert config.load({}, tmp_path)["SECRET_KEY"] == settings["SECRET_KEY"], "generated once, then kept"
    assert (settings["MODERATION_AUTO_APPROVE"], settings["MODERATION_FLOOD_INTERVAL"], settings["MODERATION_SWEEP_AFTER"]) == ("never", 15, 120)


def test_a_plain_postgresql_url_uses_the_installed_driver(tmp_path):
    settings = config.load({"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/site"}, tmp_path)
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://postgres@127.0.0.1:5432/site"


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(config.ConfigError, match="SECRET_KEY is not set"):
        config.load({"MODERATION_ENV": "production"}, tmp_path)
    assert config.load({"MODERATION_ENV": "production", "SECRET_KEY": "s" * 40}, tmp_path)["SESSION_COOKIE_SECURE"]


@pytest.mark.parametrize("name, value, message", [
    ("MODERATION_AUTO_APPROVE", "always", "MODERATION_AUTO_APPROVE must be one of never, trusted, clean"),
    ("MODERATION_FLOOD_INTERVAL", "soon", "MODERATION_FLOOD_INTERVAL must be a number"),
    ("RATELIMIT_ENABLED", "maybe", "RATELIMIT_ENABLED must be true or false"),
])
def test_a_malformed_setting_is_named(tmp_path, name, value, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load({name: value}, tmp_path)


def test_switches_for_load_tests(tmp_path):
    settings = config.load({"MODERATION_FLOOD_INTERVAL": "0", "RATELIMIT_ENABLED": "false"}, tmp_path)
    assert settings["MODERATION_FLOOD_INTERVAL"] == 0 and settings["RATELIMIT_ENABLED"] is False
