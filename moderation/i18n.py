"""The reader's language: the service's own reader pages, its form and the widget's API answers speak English,
German or French, chosen from the browser's Accept-Language (or `?lang=`). The moderators' console is English."""
from pathlib import Path

from flask import has_request_context, request
from flask_babel import Babel, get_locale

LANGUAGES = ("en", "de", "fr")
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
CONSOLE_PREFIXES = ("/moderation", "/api/v1/moderation")

babel = Babel()


def reader_locale():
    """Outside a request (a worker, a command) the default, English."""
    if not has_request_context() or request.path.startswith(CONSOLE_PREFIXES):
        return "en"
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES) or "en"


def init_app(app):
    babel.init_app(app, locale_selector=reader_locale, default_translation_directories=str(TRANSLATIONS),
                   default_timezone="UTC")
    app.add_template_global(lambda: str(get_locale() or "en"), "current_locale")
