"""Configuration classes, read from the environment once, when the app factory asks."""
import os
import secrets
from pathlib import Path

AUTO_APPROVE_CHOICES = ("never", "trusted", "clean")
# "sync" talks to Akismet; the test clients answer without the network (spam or not spam), for tests and demos.
AKISMET_CLIENTS = ("sync", "test-spam", "test-ham")
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def _flag(environ, name, default):
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in TRUE_WORDS:
        return True
    if raw.lower() in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}.")


def _number(environ, name, default, kind=int):
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}.") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative.")
    return value


def database_url(raw):
    """Use psycopg 3 for a plain postgresql:// URL, the driver this project installs."""
    for prefix in ("postgresql://", "postgres://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def _secret_key_file(instance_path):
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    """Defaults shared by every environment."""

    name = "base"
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    WTF_CSRF_TIME_LIMIT = 3600 * 4
    MODERATION_AUTO_APPROVE = "never"
    MODERATION_FLOOD_INTERVAL = 15
    MODERATION_SWEEP_AFTER = 120
    MODERATION_SWEEP_EVERY = 60
    MODERATION_CHECK_ATTEMPTS = 3
    MODERATION_QUEUE = "moderation"
    MODERATION_LINK_LIMIT = 2
    MODERATION_BLOCKED_WORDS = ()
    MODERATION_HOLD_WORDS = ()
    MODERATION_SPAM_THRESHOLD = 0.9
    MODERATION_CLEAN_THRESHOLD = 0.2
    MODERATION_MIN_FORM_SECONDS = 3.0
    MODERATION_FORM_MAX_AGE = 4 * 3600
    MODERATION_MIN_TRAINING_EXAMPLES = 200
    MODERATION_DECISION_WEIGHT = 3.0
    MODERATION_AKISMET_KEY = None
    MODERATION_AKISMET_URL = None
    MODERATION_AKISMET_CLIENT = "sync"
    MODERATION_AKISMET_TIMEOUT = 3.0
    MODERATION_PAGE_SIZE = 50
    MODERATION_PROXY_HOPS = 0
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    MODERATION_POST_LIMIT = "20 per minute"
    MODERATION_LOGIN_LIMIT = "10 per minute"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SAMESITE = "Lax"

    @classmethod
    def from_environ(cls, environ, instance_path):
        """Return the settings as a dict: class defaults, then the environment."""
        settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
        instance = Path(instance_path)
        settings["SQLALCHEMY_DATABASE_URI"] = database_url(
            environ.get("DATABASE_URL") or f"sqlite:///{instance / 'moderation.sqlite3'}"
        )
        settings["CELERY_BROKER_URL"] = (
            environ.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{instance / 'broker.sqlite3'}"
        )
        settings["SECRET_KEY"] = environ.get("SECRET_KEY") or cls.default_secret_key(instance)
        auto = environ.get("MODERATION_AUTO_APPROVE") or cls.MODERATION_AUTO_APPROVE
        if auto not in AUTO_APPROVE_CHOICES:
            raise ConfigError(
                f"MODERATION_AUTO_APPROVE must be one of {', '.join(AUTO_APPROVE_CHOICES)}, not {auto!r}."
            )
        settings["MODERATION_AUTO_APPROVE"] = auto
        for name in ("MODERATION_FLOOD_INTERVAL", "MODERATION_SWEEP_AFTER", "MODERATION_SWEEP_EVERY", "MODERATION_PROXY_HOPS"):
            settings[name] = _number(environ, name, settings[name])
        settings["RATELIMIT_ENABLED"] = _flag(environ, "RATELIMIT_ENABLED", cls.RATELIMIT_ENABLED)
        settings["RATELIMIT_STORAGE_URI"] = environ.get("RATELIMIT_STORAGE_URI") or cls.RATELIMIT_STORAGE_URI
        settings["MODERATION_QUEUE"] = environ.get("MODERATION_QUEUE") or cls.MODERATION_QUEUE
        for name in ("MODERATION_SPAM_THRESHOLD", "MODERATION_CLEAN_THRESHOLD", "MODERATION_MIN_FORM_SECONDS",
                     "MODERATION_AKISMET_TIMEOUT", "MODERATION_DECISION_WEIGHT"):
            settings[name] = _number(environ, name, settings[name], float)
        for name in ("MODERATION_LINK_LIMIT", "MODERATION_FORM_MAX_AGE", "MODERATION_MIN_TRAINING_EXAMPLES"):
            settings[name] = _number(environ, name, settings[name])
        for name in ("MODERATION_AKISMET_KEY", "MODERATION_AKISMET_URL"):
            settings[name] = environ.get(name) or None
        client = environ.get("MODERATION_AKISMET_CLIENT") or cls.MODERATION_AKISMET_CLIENT
        if client not in AKISMET_CLIENTS:
            raise ConfigError(f"MODERATION_AKISMET_CLIENT must be one of {', '.join(AKISMET_CLIENTS)}, not {client!r}.")
        settings["MODERATION_AKISMET_CLIENT"] = client
        if settings["MODERATION_AKISMET_KEY"] and not settings["MODERATION_AKISMET_URL"]:
            raise ConfigError("MODERATION_AKISMET_URL is not set: Akismet needs the address of the site its key belongs to.")
        for name in ("MODERATION_BLOCKED_WORDS", "MODERATION_HOLD_WORDS"):
            if environ.get(name):
                settings[name] = tuple(w.strip() for w in environ[name].split(",") if w.strip())
        return settings

    @classmethod
    def default_secret_key(cls, instance):
        return _secret_key_file(instance)


class DevelopmentConfig(Config):
    """One machine, SQLite, a secret key generated once into the instance folder."""

    name = "development"


class ProductionConfig(Config):
    """Refuses to start without the secrets it cannot invent."""

    name = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    @classmethod
    def default_secret_key(cls, instance):
        raise ConfigError(
            "SECRET_KEY is not set: production needs a long random SECRET_KEY in the environment."
        )


class TestingConfig(Config):
    """Used by the test suite: a fixed secret key and nothing written to the instance folder."""

    name = "testing"
    TESTING = True

    @classmethod
    def default_secret_key(cls, instance):
        return "testing-only-secret-key"


CONFIGS = {c.name: c for c in (DevelopmentConfig, ProductionConfig, TestingConfig)}


def load(environ=None, instance_path="instance"):
    """Pick the class named by MODERATION_ENV (development by default) and read it."""
    environ = os.environ if environ is None else environ
    env_name = environ.get("MODERATION_ENV") or "development"
    if env_name not in CONFIGS:
        raise ConfigError(f"MODERATION_ENV must be one of {', '.join(CONFIGS)}, not {env_name!r}.")
    return CONFIGS[env_name].from_environ(environ, instance_path)
