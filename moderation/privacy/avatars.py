"""Avatars that leak nothing: identicons drawn from a keyed hash, Gravatar only when an operator turns it on."""
import hashlib

from flask import current_app, url_for

from .crypto import keyring, normal_email

GRID = 5
TOKEN_CHARS = 16
PLACEHOLDER = "anonymous"


def avatar_token(comment):
    """Stable per address, and useless without the data key: an avatar never confirms a guessed email.

    Only approved comments get theirs: an author's own comment awaiting moderation shows the
    placeholder, or posting under a guessed address would show whether its owner's avatar appears.
    """
    if comment.state != "approved" or not comment.email_hash:
        return PLACEHOLDER
    return keyring().index(comment.email_hash, "avatar")[:TOKEN_CHARS]


def avatar_url(comment):
    token = avatar_token(comment)
    if current_app.config["MODERATION_GRAVATAR"] and token != PLACEHOLDER and comment.author_email:
        digest = hashlib.sha256(normal_email(comment.author_email).encode()).hexdigest()
        return f"https://gravatar.com/avatar/{digest}?s=80&d=identicon"
    return url_for("avatars.avatar", token=token)


def identicon_svg(token):
    """A symmetric 5x5 pattern and a colour, both read from the token's bits."""
    if token == PLACEHOLDER:
        cells, colour = {(1, 1), (2, 1), (3, 1), (1, 2), (2, 2), (3, 2), (0, 4), (1, 4), (2, 4), (3, 4), (4, 4),
                         (0, 3), (4, 3)}, "#9aa0a6"
    else:
        bits = int(token, 16)
        colour = f"hsl({bits % 360} 55% 50%)"
        half = [(x, y) for x in range((GRID + 1) // 2) for y in range(GRID)]
        on = [cell for i, cell in enumerate(half) if bits >> (9 + i) & 1]
        cells = set(on) | {(GRID - 1 - x, y) for x, y in on}
    rects = "".join(f'<rect x="{x}" y="{y}" width="1" height="1"/>' for x, y in sorted(cells))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-0.5 -0.5 {GRID + 1} {GRID + 1}" '
            f'width="40" height="40"><rect x="-0.5" y="-0.5" width="{GRID + 1}" height="{GRID + 1}" fill="#f1f3f4"/>'
            f'<g fill="{colour}">{rects}</g></svg>')
