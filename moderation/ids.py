"""Row ids as they arrive in URLs, forms and query strings: ASCII digits within the database's integer range."""
import re

from werkzeug.routing import BaseConverter, ValidationError

MAX_ID = 2**31 - 1
DIGITS = re.compile(r"[0-9]{1,10}")


def parse_id(value):
    """The id, or None for anything else (empty, '²', '-1', '1e3', 99999999999999999999)."""
    text = str(value).strip() if value is not None else ""
    if not DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


class IdConverter(BaseConverter):
    """`<id:comment_id>`: a URL whose id no row can have is a 404, not a database error."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value):
        number = parse_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value):
        return str(int(value))
