"""The session cookie, minus one header: public API answers do not vary by cookie, so a CDN may share them."""
from flask import request
from flask.sessions import SecureCookieSessionInterface

# Answers that depend on the request's address and X-Author-Token only, never on a cookie.
PUBLIC_PREFIXES = ("/api/v1/threads/", "/api/v1/counts", "/embed.", "/avatars/")
# The Atom feeds, whose paths (/feed.atom, /threads/<key>/feed.atom) share no prefix with the pages.
PUBLIC_BLUEPRINTS = ("feeds",)


class SessionInterface(SecureCookieSessionInterface):
    def save_session(self, app, session, response):
        super().save_session(app, session, response)
        # Flask-Login looks into every session (for its remember cookie), which makes Flask add "Vary: Cookie".
        public = request.path.startswith(PUBLIC_PREFIXES) or request.blueprint in PUBLIC_BLUEPRINTS
        if public and not session.modified:
            kept = [value for value in response.vary if value.lower() != "cookie"]
            if kept:
                response.headers["Vary"] = ", ".join(kept)
            else:
                response.headers.pop("Vary", None)
