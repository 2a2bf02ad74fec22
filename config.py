"""Configuration classes, read from the environment once, when the app factory asks."""
import base64
import binascii
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many

AUTO_APPROVE_CHOICES = ("never", "trusted", "clean")
# "sync" talks to Akismet; the test clients answer without the network (spam or not spam), for tests and demos.
AKISMET_CLIENTS = ("sync", "test-spam", "test-ham")
LOG_FORMATS = ("text", "json")
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


def private_folder(path):
    """Create the instance folder readable by its owner only (it holds keys and, on SQLite, the data)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _generated_file(instance_path, name, make):
    """A secret generated once into the instance folder (development), private to its owner."""
    path = private_folder(instance_path) / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


def _secret_key_file(instance_path):
    return _generated_file(instance_path, "secret_key", lambda: secrets.token_urlsafe(48))


def new_data_key():
    """A fresh key for MODERATION_DATA_KEY: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _data_key_file(instance_path):
    return _generated_file(instance_path, "data_key", new_data_key)


def data_keys(raw, name="MODERATION_DATA_KEY"):
    """The keys in a MODERATION_DATA_KEY value: comma- or newline-separated, the first one encrypts."""
    keys = [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]
    if not keys:
        raise ConfigError(f"{name} is empty.")
    for key in keys:
        try:
            ok = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (ValueError, binascii.Error):
            ok = False
        if not ok:
            raise ConfigError(f"{name} must hold keys of 32 random bytes in URL-safe base64, "
                              "as `moderation keys generate` prints them.")
    return tuple(keys)


def _rate(environ, name, default):
    raw = environ.get(name) or default
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as '10 per minute', not {raw!r}.") from None
    return raw


def instance_path(environ=None):
    """Where the instance folder is: MODERATION_INSTANCE_PATH, or Flask's default when unset (None)."""
    environ = os.environ if environ is None else environ
    chosen = environ.get("MODERATION_INSTANCE_PATH")
    return str(Path(chosen).expanduser().resolve()) if chosen else None


class Config:
    """Defaults shared by every environment."""

    name = "base"
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # A failed statement's parameters (a commenter's email among them) never reach an error message or a log.
    SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": True}
    # A comment is at most 10,000 characters: even in a 4-byte script, percent-encoded by the browser, it fits.
    MAX_CONTENT_LENGTH = 160 * 1024
    WTF_CSRF_TIME_LIMIT = 3600 * 4
    # Every message a reader can see is the app's own, translated by Flask-Babel. Flask-WTF's translation of
    # WTForms' built-in messages (none of which a form here shows) read WTForms' catalogue from disk for every field
    # of every form built: a tenth of a comment's post.
    WTF_I18N_ENABLED = False
    MODERATION_AUTO_APPROVE = "never"
    MODERATION_FLOOD_INTERVAL = 15
    MODERATION_SWEEP_AFTER = 120
    MODERATION_SWEEP_EVERY = 60
    MODERATION_CHECK_ATTEMPTS = 3
    # Seconds a check may run before it is stopped and the comment held (the hard limit is 10 s later).
    MODERATION_CHECK_TIME_LIMIT = 30
    MODERATION_TRAIN_TIME_LIMIT = 600
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
    MODERATION_RETRAIN_DELAY = 10
    # Sites whose pages may embed the widget and use the public API from the browser (scheme://host[:port]).
    MODERATION_ALLOWED_ORIGINS = ()
    MODERATION_AKISMET_KEY = None
    MODERATION_AKISMET_URL = None
    MODERATION_AKISMET_CLIENT = "sync"
    MODERATION_AKISMET_TIMEOUT = 3.0
    MODERATION_PAGE_SIZE = 50
    MODERATION_PROXY_HOPS = 0
    MODERATION_RETAIN_DAYS = 30
    MODERATION_SESSION_DAYS = 7
    MODERATION_GRAVATAR = False
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    MODERATION_POST_LIMIT = "20 per minute"
    MODERATION_LOGIN_LIMIT = "10 per minute"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    # Strict-Transport-Security on every answer: production only (it pins browsers to HTTPS for a year).
    MODERATION_HSTS = False
    # Moderators' notifications by email: off until an SMTP host and the service's own address are set.
    MODERATION_SMTP_HOST = None
    MODERATION_SMTP_PORT = 25
    MODERATION_SMTP_USERNAME = None
    MODERATION_SMTP_PASSWORD = None
    MODERATION_SMTP_STARTTLS = False
    MODERATION_SMTP_SSL = False
    MODERATION_SMTP_TIMEOUT = 10.0
    MODERATION_MAIL_FROM = None
    MODERATION_BASE_URL = None
    MODERATION_NOTIFY_EVERY = 60
    MODERATION_DIGEST_HOURS = 24
    MODERATION_EMAIL_LINK_HOURS = 72
    # GET /metrics: open unless a token is set, then `Authorization: Bearer TOKEN` only.
    MODERATION_METRICS_TOKEN = None
    # A worker's own scrape address for the events its processes counted (0: none; the web's /metrics has them
    # when the worker runs beside it, as under `moderation serve`).
    MODERATION_WORKER_METRICS_PORT = 0
    MODERATION_WORKER_METRICS_HOST = "127.0.0.1"
    # "json": one JSON object per log line, with the comment's id as a field of its own (moderation/logs.py).
    MODERATION_LOG_FORMAT = "text"
    # Seconds an author may edit or delete a comment posted through Isso's client (Isso's own `max-age`).
    MODERATION_ISSO_EDIT_SECONDS = 900
    # Seconds that connecting to a webhook's receiver, sending the event and awaiting its answer may each take.
    MODERATION_WEBHOOK_TIMEOUT = 5.0

    @classmethod
    def from_environ(cls, environ, instance_path):
        """Return the settings as a dict: class defaults, then the environment."""
        settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
        instance = Path(instance_path)
        settings.update(_stores(environ, instance))
        settings["SECRET_KEY"] = environ.get("SECRET_KEY") or cls.default_secret_key(instance)
        settings["MODERATION_DATA_KEYS"] = data_keys(environ.get("MODERATION_DATA_KEY") or cls.default_data_key(instance))
        # `moderation keys rotate` may rewrite the development key file; keys from the environment are the operator's.
        settings["MODERATION_DATA_KEY_FILE"] = None if environ.get("MODERATION_DATA_KEY") else cls.data_key_file(instance)
        settings["MODERATION_AUTO_APPROVE"] = _choice(environ, "MODERATION_AUTO_APPROVE", AUTO_APPROVE_CHOICES,
                                                      cls.MODERATION_AUTO_APPROVE)
        settings["MODERATION_LOG_FORMAT"] = _choice(environ, "MODERATION_LOG_FORMAT", LOG_FORMATS,
                                                    cls.MODERATION_LOG_FORMAT)
        settings["MODERATION_AKISMET_CLIENT"] = _choice(environ, "MODERATION_AKISMET_CLIENT", AKISMET_CLIENTS,
                                                        cls.MODERATION_AKISMET_CLIENT)
        for name in INTEGERS:
            settings[name] = _number(environ, name, settings[name])
        for name in FLOATS:
            settings[name] = _number(environ, name, settings[name], float)
        for name in FLAGS:
            settings[name] = _flag(environ, name, settings[name])
        for name in ("MODERATION_POST_LIMIT", "MODERATION_LOGIN_LIMIT"):
            settings[name] = _rate(environ, name, settings[name])
        settings["MODERATION_QUEUE"] = environ.get("MODERATION_QUEUE") or cls.MODERATION_QUEUE
        for name in ("MODERATION_AKISMET_KEY", "MODERATION_AKISMET_URL", "MODERATION_METRICS_TOKEN"):
            settings[name] = environ.get(name) or None
        settings["MODERATION_WORKER_METRICS_HOST"] = (environ.get("MODERATION_WORKER_METRICS_HOST")
                                                      or cls.MODERATION_WORKER_METRICS_HOST)
        if settings["MODERATION_AKISMET_KEY"] and not settings["MODERATION_AKISMET_URL"]:
            raise ConfigError("MODERATION_AKISMET_URL is not set: Akismet needs the address of the site its key belongs to.")
        if "MODERATION_ALLOWED_ORIGINS" in environ:
            settings["MODERATION_ALLOWED_ORIGINS"] = allowed_origins(environ["MODERATION_ALLOWED_ORIGINS"])
        for name in ("MODERATION_BLOCKED_WORDS", "MODERATION_HOLD_WORDS"):
            if environ.get(name):
                settings[name] = tuple(w.strip() for w in environ[name].split(",") if w.strip())
        settings.update(_mail(environ, settings))
        return settings

    @classmethod
    def default_secret_key(cls, instance):
        return _secret_key_file(instance)

    @classmethod
    def default_data_key(cls, instance):
        return _data_key_file(instance)

    @classmethod
    def data_key_file(cls, instance):
        return str(instance / "data_key")


INTEGERS = ("MODERATION_FLOOD_INTERVAL", "MODERATION_SWEEP_AFTER", "MODERATION_SWEEP_EVERY", "MODERATION_PROXY_HOPS",
            "MODERATION_LINK_LIMIT", "MODERATION_FORM_MAX_AGE", "MODERATION_MIN_TRAINING_EXAMPLES",
            "MODERATION_RETAIN_DAYS", "MODERATION_SESSION_DAYS", "MODERATION_CHECK_TIME_LIMIT",
            "MODERATION_TRAIN_TIME_LIMIT", "MODERATION_RETRAIN_DELAY", "MODERATION_WORKER_METRICS_PORT",
            "MODERATION_CHECK_ATTEMPTS", "MODERATION_ISSO_EDIT_SECONDS")
FLOATS = ("MODERATION_SPAM_THRESHOLD", "MODERATION_CLEAN_THRESHOLD", "MODERATION_MIN_FORM_SECONDS",
          "MODERATION_AKISMET_TIMEOUT", "MODERATION_DECISION_WEIGHT", "MODERATION_SMTP_TIMEOUT",
          "MODERATION_WEBHOOK_TIMEOUT")
FLAGS = ("RATELIMIT_ENABLED", "MODERATION_GRAVATAR", "MODERATION_SMTP_STARTTLS", "MODERATION_SMTP_SSL")
MAIL_NUMBERS = ("MODERATION_SMTP_PORT", "MODERATION_NOTIFY_EVERY", "MODERATION_DIGEST_HOURS",
                "MODERATION_EMAIL_LINK_HOURS")
MAIL_TEXTS = ("MODERATION_SMTP_HOST", "MODERATION_SMTP_USERNAME", "MODERATION_SMTP_PASSWORD", "MODERATION_MAIL_FROM")


def _mail(environ, settings):
    """The SMTP server and the service's public address; every one optional (empty host = no email)."""
    mail = {name: _number(environ, name, settings[name]) for name in MAIL_NUMBERS}
    mail.update({name: (environ.get(name) or "").strip() or settings[name] for name in MAIL_TEXTS})
    # A password is taken as typed, spaces and all.
    mail["MODERATION_SMTP_PASSWORD"] = environ.get("MODERATION_SMTP_PASSWORD") or settings["MODERATION_SMTP_PASSWORD"]
    if mail["MODERATION_SMTP_PORT"] > 65535:
        raise ConfigError("MODERATION_SMTP_PORT must be a port number, 1 to 65535.")
    if settings["MODERATION_SMTP_STARTTLS"] and settings["MODERATION_SMTP_SSL"]:
        raise ConfigError("MODERATION_SMTP_STARTTLS and MODERATION_SMTP_SSL exclude each other: "
                          "STARTTLS upgrades a plain connection (port 587), SSL starts encrypted (port 465).")
    if mail["MODERATION_MAIL_FROM"] and "@" not in mail["MODERATION_MAIL_FROM"]:
        raise ConfigError(f"MODERATION_MAIL_FROM must be an email address, not {mail['MODERATION_MAIL_FROM']!r}.")
    mail["MODERATION_BASE_URL"] = base_url(environ.get("MODERATION_BASE_URL") or settings["MODERATION_BASE_URL"])
    return mail


def base_url(raw):
    """The service's address as readers and moderators reach it (`https://comments.example.org`), without a
    trailing slash; None when unset."""
    text = (raw or "").strip().rstrip("/")
    if not text:
        return None
    parsed = urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.fragment:
        raise ConfigError(f"MODERATION_BASE_URL must be an http:// or https:// address such as "
                          f"https://comments.example.org, not {text!r}.")
    return text


def _stores(environ, instance):
    """Database, broker and rate-limit counters: embedded files by default, shared servers in production."""
    broker = environ.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{instance / 'broker.sqlite3'}"
    # Counters must be shared by every web process: Redis when the broker is Redis; one process's memory otherwise.
    shared = broker if broker.startswith(("redis://", "rediss://")) else "memory://"
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(environ.get("DATABASE_URL") or f"sqlite:///{instance / 'moderation.sqlite3'}"),
        "CELERY_BROKER_URL": broker,
        "RATELIMIT_STORAGE_URI": environ.get("RATELIMIT_STORAGE_URI") or shared,
    }


def allowed_origins(raw):
    """`https://blog.example.org, http://localhost:5001` as the origins a browser sends: scheme, host, port."""
    origins = []
    for part in raw.replace("\n", ",").split(","):
        text = part.strip().rstrip("/")
        if not text:
            continue
        origin = _origin(text)
        if origin is None:
            raise ConfigError(f"MODERATION_ALLOWED_ORIGINS: {part.strip()!r} is not an origin; write it as "
                              "scheme://host or scheme://host:port, e.g. https://blog.example.org.")
        origins.append(origin)
    return tuple(origins)


DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(text):
    """The origin exactly as a browser writes it in `Origin`: lower case, the host in ASCII (IDNA), no default port."""
    try:
        parsed = urlsplit(text)
        port = parsed.port
        host = parsed.hostname.encode("idna").decode("ascii") if parsed.hostname else None
    except (ValueError, UnicodeError):
        return None
    if parsed.scheme not in ("http", "https") or not host or parsed.path or parsed.query or parsed.fragment \
            or parsed.username or parsed.password:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{parsed.scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[parsed.scheme] else "")


def _choice(environ, name, choices, default):
    value = environ.get(name) or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


class DevelopmentConfig(Config):
    """One machine, SQLite, a secret key and a data key generated once into the instance folder."""

    name = "development"
    # `make run` serves a demo article of "another site" here (moderation serve --demo-site 5001).
    MODERATION_ALLOWED_ORIGINS = ("http://localhost:5001",)


class ProductionConfig(Config):
    """Refuses to start without the secrets it cannot invent."""

    name = "production"
    SESSION_COOKIE_SECURE = True
    MODERATION_HSTS = True

    @classmethod
    def default_secret_key(cls, instance):
        raise ConfigError(
            "SECRET_KEY is not set: production needs a long random SECRET_KEY in the environment."
        )

    @classmethod
    def default_data_key(cls, instance):
        raise ConfigError(
            "MODERATION_DATA_KEY is not set: production needs the key that encrypts personal data "
            "(`moderation keys generate` prints a new one; keep it as safe as the database's backups)."
        )


class TestingConfig(Config):
    """Used by the test suite: fixed keys and nothing written to the instance folder."""

    name = "testing"
    TESTING = True
    TEST_DATA_KEY = base64.urlsafe_b64encode(b"testing-only-data-key-32-bytes!!").decode()

    @classmethod
    def default_secret_key(cls, instance):
        return "testing-only-secret-key"

    @classmethod
    def default_data_key(cls, instance):
        return cls.TEST_DATA_KEY

    @classmethod
    def data_key_file(cls, instance):
        return None


CONFIGS = {c.name: c for c in (DevelopmentConfig, ProductionConfig, TestingConfig)}


def load(environ=None, instance_path="instance"):
    """Pick the class named by MODERATION_ENV (development by default) and read it."""
    environ = os.environ if environ is None else environ
    env_name = environ.get("MODERATION_ENV") or "development"
    if env_name not in CONFIGS:
        raise ConfigError(f"MODERATION_ENV must be one of {', '.join(CONFIGS)}, not {env_name!r}.")
    return CONFIGS[env_name].from_environ(environ, instance_path)
