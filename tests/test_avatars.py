"""Identicons: the picture beside a comment, drawn by the app from a token, the same one release after release."""
import xml.etree.ElementTree as ET

import pytest

from moderation.privacy.avatars import identicon_svg
from tests import factories

SVG = "{http://www.w3.org/2000/svg}"
# The placeholder: a head and shoulders, in grey, for every comment that has no avatar of its own.
SILHOUETTE = (".....",
              ".###.",
              ".###.",
              "#...#",
              "#####")


def _drawing(svg):
    """The picture as rows of '#' and '.', its colour, and the frame it sits in."""
    root = ET.fromstring(svg)
    assert "".join(root.itertext()).strip() == "", "nothing but shapes"
    background, group = root.find(f"{SVG}rect"), root.find(f"{SVG}g")
    cells = {(int(r.get("x")), int(r.get("y"))) for r in group.findall(f"{SVG}rect")}
    assert all(r.get("width") == r.get("height") == "1" for r in group.findall(f"{SVG}rect"))
    rows = tuple("".join("#" if (x, y) in cells else "." for x in range(5)) for y in range(5))
    assert cells <= {(x, y) for x in range(5) for y in range(5)}, "every cell lies inside the 5x5 grid"
    frame = (root.get("viewBox"), root.get("width"), root.get("height"),
             background.get("x"), background.get("y"), background.get("width"), background.get("height"),
             background.get("fill"))
    return rows, group.get("fill"), frame


FRAME = ("-0.5 -0.5 6 6", "40", "40", "-0.5", "-0.5", "6", "6", "#f1f3f4")


def test_the_placeholder_is_a_grey_silhouette():
    assert _drawing(identicon_svg("anonymous")) == (SILHOUETTE, "#9aa0a6", FRAME)


@pytest.mark.parametrize("token, rows, colour", [
    ("0123456789abcdef", (".###.", "##.##", "#####", ".#.#.", "..#.."), "hsl(15 55% 50%)"),
    ("fedcba9876543210", ("#...#", "..#..", ".....", "#.#.#", "##.##"), "hsl(0 55% 50%)"),
    ("00000000000001ff", (".....",) * 5, "hsl(151 55% 50%)"),
])
def test_a_token_always_draws_the_same_picture(token, rows, colour):
    """A reader keeps their picture across upgrades: the drawing is a fixed function of the token."""
    assert _drawing(identicon_svg(token)) == (rows, colour, FRAME)


def test_every_picture_is_mirror_symmetric_and_tokens_tell_readers_apart():
    tokens = [f"{n * 2654435761 % 2**64:016x}" for n in range(1, 40)]
    drawings = [_drawing(identicon_svg(token))[:2] for token in tokens]
    for rows, _ in drawings:
        assert all(row == row[::-1] for row in rows)
    assert len(set(drawings)) == len(tokens)


def test_the_avatar_route_serves_the_picture_for_a_year(client):
    response = client.get("/avatars/0123456789abcdef.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.get_data(as_text=True) == identicon_svg("0123456789abcdef")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/avatars/anonymous.svg").get_data(as_text=True) == identicon_svg("anonymous")


@pytest.mark.parametrize("token", ["0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "anonymous0",
                                   "xanonymous", "0123456789abcdeg"])
def test_the_avatar_route_answers_404_to_anything_but_a_token(client, token):
    assert client.get(f"/avatars/{token}.svg").status_code == 404


def test_an_approved_comment_shows_its_own_picture_and_the_placeholder_otherwise(app, client, thread):
    approved = factories.make_comment(thread, "approved", email="pictured@example.org", body="With a picture.")
    factories.make_comment(thread, "approved", email="pictured@example.org", body="The same reader again.")
    factories.make_comment(thread, "approved", email="another@example.org", body="Someone else.")
    html = client.get(f"/threads/{thread.key}").get_data(as_text=True)
    tokens = [part.split(".svg", 1)[0] for part in html.split('src="/avatars/')[1:]]
    assert len(tokens) == 3 and tokens[0] == tokens[1] != tokens[2]
    assert "anonymous" not in tokens
    assert approved.id
