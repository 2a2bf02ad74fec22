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


def test_production_refuses_to_start_without_a_secret_key_or_a_data_key(tmp_path):
    with pytest.raises(config.ConfigError, match="SECRET_KEY is not set"):
        config.load({"MODERATION_ENV": "production", "MODERATION_DATA_KEY": config.new_data_key()}, tmp_path)
    with pytest.raises(config.ConfigError, match="MODERATION_DATA_KEY is not set"):
        config.load({"MODERATION_ENV": "production", "SECRET_KEY": "s" * 40}, tmp_path)
    settings = config.load({"MODERATION_ENV": "production", "SECRET_KEY": "s" * 40,
                            "MODERATION_DATA_KEY": config.new_data_key()}, tmp_path)
    assert settings["SESSION_COOKIE_SECURE"] and settings["MODERATION_HSTS"]
    assert not (tmp_path / "data_key").exists() and not (tmp_path / "secret_key").exists()


def test_development_keys_are_generated_once_into_a_private_instance_folder(tmp_path):
    instance = tmp_path / "instance"
    first = config.load({}, instance)
    assert config.load({}, instance)["MODERATION_DATA_KEYS"] == first["MODERATION_DATA_KEYS"]
    assert oct(instance.stat().st_mode & 0o777) == "0o700"
    assert oct((instance / "data_key").stat().st_mode & 0o777) == "0o600"
    assert oct((instance / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_a_malformed_data_key_is_named(tmp_path):
    with pytest.raises(config.ConfigError, match="MODERATION_DATA_KEY must hold keys of 32 random bytes"):
        config.load({"MODERATION_DATA_KEY": "too-short"}, tmp_path)
    keys = f"{config.new_data_key()},{config.new_data_key()}"
    assert len(config.load({"MODERATION_DATA_KEY": keys}, tmp_path)["MODERATION_DATA_KEYS"]) == 2


def test_rate_limit_counters_are_shared_through_redis_when_redis_is_the_broker(tmp_path):
    assert config.load({}, tmp_path)["RATELIMIT_STORAGE_URI"] == "memory://"
    redis = config.load({"CELERY_BROKER_URL": "redis://queue.internal:6379/0"}, tmp_path)
    assert redis["RATELIMIT_STORAGE_URI"] == "redis://queue.internal:6379/0"
    amqp = config.load({"CELERY_BROKER_URL": "amqp://guest@rabbit//", "RATELIMIT_STORAGE_URI": "redis://r:6379/1"}, tmp_path)
    assert amqp["RATELIMIT_STORAGE_URI"] == "redis://r:6379/1"


def test_the_instance_folder_is_the_operators_choice(tmp_path):
    assert config.instance_path({}) is None
    assert config.instance_path({"MODERATION_INSTANCE_PATH": str(tmp_path / "state")}) == str(tmp_path / "state")


@pytest.mark.parametrize("name, value, message", [
    ("MODERATION_AUTO_APPROVE", "always", "MODERATION_AUTO_APPROVE must be one of never, trusted, clean"),
    ("MODERATION_FLOOD_INTERVAL", "soon", "MODERATION_FLOOD_INTERVAL must be a number"),
    ("RATELIMIT_ENABLED", "maybe", "RATELIMIT_ENABLED must be true or false"),
    ("MODERATION_LOGIN_LIMIT", "lots", "MODERATION_LOGIN_LIMIT must be a rate"),
    ("MODERATION_RETAIN_DAYS", "-3", "MODERATION_RETAIN_DAYS must not be negative"),
])
def test_a_malformed_setting_is_named(tmp_path, name, value, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load({name: value}, tmp_path)


def test_switches_for_load_tests(tmp_path):
    settings = config.load({"MODERATION_FLOOD_INTERVAL": "0", "RATELIMIT_ENABLED": "false"}, tmp_path)
    assert settings["MODERATION_FLOOD_INTERVAL"] == 0 and settings["RATELIMIT_ENABLED"] is False


def test_every_number_the_readme_lists_is_read_from_the_environment(tmp_path):
    """A setting the README documents but config.py does not read would be silently ignored."""
    names = ("MODERATION_CHECK_ATTEMPTS", "MODERATION_SWEEP_AFTER", "MODERATION_SWEEP_EVERY",
             "MODERATION_WORKER_METRICS_PORT", "MODERATION_CHECK_TIME_LIMIT")
    settings = config.load({name: "47" for name in names}, tmp_path)
    assert {name: settings[name] for name in names} == {name: 47 for name in names}
    assert config.load({"MODERATION_LOG_FORMAT": "json", "MODERATION_METRICS_TOKEN": "t0ken"}, tmp_path)[
        "MODERATION_METRICS_TOKEN"] == "t0ken"
    with pytest.raises(config.ConfigError, match="MODERATION_LOG_FORMAT"):
        config.load({"MODERATION_LOG_FORMAT": "xml"}, tmp_path)
