"""Template helpers, chiefly how a commenter's plain text becomes safe HTML: escaped, in paragraphs, URLs linked."""
import re

import nh3
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Half of a UTF-16 pair, alone: a str may hold one (JSON can carry one), no encoding can write it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# One character class repeated once, with nothing after it: a failed match cannot backtrack, so this is linear.
URL = re.compile(r"\b(https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# Sentence punctuation right after a URL belongs to the sentence, not to the address.
TRAILING = ".,;:!?"
# The safety net behind our own escaping: only the tags render_body writes, only web links.
CLEAN = {
    "tags": {"p", "br", "a"},
    "attributes": {"a": {"href"}},  # nh3 writes rel itself from link_rel, and refuses "rel" listed here too.
    "url_schemes": {"http", "https"},
    "link_rel": "nofollow ugc",
}


def _url_length(url):
    """How much of a matched URL is the address: trailing punctuation and an unbalanced ")" are left out."""
    opened, closed = url.count("("), url.count(")")
    end = len(url)
    while end:
        last = url[end - 1]
        if last == ")" and closed > opened:
            closed -= 1
        elif last not in TRAILING:
            break
        end -= 1
    return end


def _anchor(url):
    href = "https://" + url if url[:4].lower() == "www." else url
    return f'<a href="{escape(href)}" rel="nofollow ugc">{escape(url)}</a>'


def linkify(text):
    """Escape every piece of the raw text and wrap its web addresses in our own links, in one pass."""
    pieces, done = [], 0
    for match in URL.finditer(text):
        length = _url_length(match.group())
        if length <= len(match.group(1)):
            continue  # only "http://" or "www." is left: nothing to link to
        start = match.start()
        pieces += [str(escape(text[done:start])), _anchor(text[start:start + length])]
        done = start + length
    pieces.append(str(escape(text[done:])))
    return "".join(pieces)


def render_body(text):
    """Escape everything the commenter wrote; the only tags are the ones we add, and nh3 checks them once more."""
    text = LONE_SURROGATE.sub("\ufffd", text.replace("\r\n", "\n").strip())
    paragraphs = ("<p>" + linkify(chunk).replace("\n", "<br>\n") + "</p>" for chunk in PARAGRAPH_BREAK.split(text))
    return Markup(nh3.clean("\n".join(paragraphs), **CLEAN))


def register(app):
    app.add_template_global(generate_csrf, "csrf_token")
