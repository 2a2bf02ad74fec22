"""Isso names a thread by its page's path ("/blog/hello-world/"); ours are keys without "/". One mapping, used by
the drop-in endpoints and by `moderation import isso`, so that an imported thread is the one Isso's client asks for.
"""
import hashlib

from ..comments.services import THREAD_KEY_MAX

# A key keeps some room after a cut for the hash that keeps long paths apart.
HASH_LENGTH = 12


def key_for(uri):
    """The thread key of an Isso uri: "%" and "/" written as %25 and %2F, and any space or control character as its
    own %XX; everything else (letters of any script, "-", "~", "?") as it is. So two uris never share a key, and a
    moderator still reads the path in it. A key too long is cut and ends with a hash of the whole uri."""
    key = "".join(_escaped(character) for character in uri)
    if len(key) > THREAD_KEY_MAX:
        digest = hashlib.sha256(uri.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]
        key = f"{key[:THREAD_KEY_MAX - HASH_LENGTH - 1]}~{digest}"
    return key


def _escaped(character):
    if character in "%/" or character.isspace() or not character.isprintable():
        return "".join(f"%{byte:02X}" for byte in character.encode("utf-8", "surrogatepass"))
    return character
