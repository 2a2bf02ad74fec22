"""The demo article that `make run` shows on a fresh install."""
import http.server
import secrets

import sqlalchemy as sa

from .audit import record
from .comments.services import create_thread, get_thread
from .extensions import db
from .models import Comment, Moderator
from .review.services import create_moderator

DEMO_KEY = "hello-world"
DEMO_COMMENTS = (
    ("Ada", "Thanks for writing this up. The part about threads was exactly what I needed."),
    ("Grace", "Agreed! One question: does it work with PostgreSQL too?\n\nI run everything there."),
)


def seed():
    """Idempotent: a second run changes nothing and says so."""
    lines = []
    if get_thread(DEMO_KEY) is None:
        thread = create_thread(DEMO_KEY, "Hello, world: comments are open", None)
        for name, body in DEMO_COMMENTS:
            comment = Comment(thread=thread, author_name=name, author_email=f"{name.lower()}@example.org",
                              body=body, state="approved", reasons=[])
            db.session.add(comment)
            db.session.flush()
            record(comment, None, "approved", actor="demo data")
        db.session.commit()
        lines.append(f"Demo article at /threads/{DEMO_KEY}")
    if db.session.scalar(sa.select(sa.func.count()).select_from(Moderator)) == 0:
        password = secrets.token_urlsafe(12)
        create_moderator("demo", password, is_admin=True)
        lines.append(f"Moderator 'demo' created with password {password} (sign in at /moderation/login).")
    return lines or ["Demo data already present."]


def page_server(port, page_for):
    """A tiny HTTP server on 127.0.0.1:port answering every GET with `page_for(path)` (HTML bytes): the demo
    article of "another site" that `make run` serves, and the host page of the widget's browser tests."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            page = page_for(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
