"""Template helpers, chiefly how a commenter's plain text becomes safe HTML: escaped, in paragraphs, URLs linked."""
import re

import bleach
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def _nofollow(attrs, new=False):
    attrs[(None, "rel")] = "nofollow ugc"
    return attrs


_linker = bleach.linkifier.Linker(callbacks=[_nofollow], parse_email=False)


def render_body(text):
    """Escape everything the commenter wrote first, so that linkify only ever adds our own <a> tags."""
    text = text.replace("\r\n", "\n").strip()
    paragraphs = []
    for chunk in PARAGRAPH_BREAK.split(text):
        linked = _linker.linkify(str(escape(chunk)))
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return Markup("\n".join(paragraphs))


def register(app):
    app.add_template_filter(render_body, "comment_html")
    app.add_template_global(generate_csrf, "csrf_token")
