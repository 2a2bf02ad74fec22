"""What people type, made safe to store and show: no control characters, no bidi overrides, no lone surrogates."""
import re

# Control characters (Unicode's Cc, NUL included), lone surrogates, and the bidi embedding, override and
# isolate marks (typed into a name they make it read backwards: "moc.elpmaxe"). PostgreSQL refuses NUL
# in text, and none of these has a visible meaning in a comment.
INVISIBLE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069"
NOT_TYPED = re.compile(f"[{INVISIBLE}\t\n\r]")
NOT_TYPED_IN_TEXT = re.compile(f"[{INVISIBLE}]")


def plain_text(value, keep_lines=False):
    """The text without what a person cannot have meant to type; line breaks and tabs kept if asked."""
    if not isinstance(value, str):
        return value
    if keep_lines:
        return NOT_TYPED_IN_TEXT.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return NOT_TYPED.sub("", value)


def stripped(value):
    """A one-line field: plain text without surrounding spaces (a WTForms filter)."""
    value = plain_text(value)
    return value.strip() if isinstance(value, str) else value


def is_plain(value, longest):
    """Whether a key from a URL or a query string could name anything we store (no NUL, not too long)."""
    return isinstance(value, str) and 0 < len(value) <= longest and not NOT_TYPED.search(value)
