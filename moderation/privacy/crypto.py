"""Personal data at rest: authenticated encryption, keyed blind indexes, and the keys behind both."""
import base64
import hashlib
import hmac
import json
import os

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy.sql import ClauseElement, operators

from .addresses import normal_ip

FORMAT = "v1"
NONCE_BYTES = 12


class DataKeyError(RuntimeError):
    """Stored data cannot be decrypted with the keys in MODERATION_DATA_KEY."""


def _derive(key, purpose):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"moderation " + purpose).derive(key)


def _encode(text):
    # Lone surrogates cannot come from a form, but a str can hold them: keep them rather than crash.
    return text.encode("utf-8", "surrogatepass")


class Keyring:
    """The data keys: the first encrypts and keys the blind indexes; the others still decrypt, during a rotation.

    Each key yields two keys of its own (HKDF): one for AES-256-GCM, one for HMAC-SHA-256 blind
    indexes, so a leaked index key reveals nothing that decrypts. A ciphertext names the key it was
    sealed with, and the name of the column it belongs to is authenticated with it (a value copied
    into another column does not decrypt).
    """

    def __init__(self, encoded_keys):
        raw = [base64.urlsafe_b64decode(key.encode()) for key in encoded_keys]
        self._ciphers = {}
        for key in raw:
            sealing = _derive(key, b"encryption")
            self._ciphers.setdefault(hashlib.sha256(sealing).hexdigest()[:8], AESGCM(sealing))
        self.current_id = next(iter(self._ciphers))
        self._index_key = _derive(raw[0], b"blind index")

    def encrypt(self, text, purpose):
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current_id].encrypt(nonce, _encode(text), purpose.encode())
        return f"{FORMAT}:{self.current_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token, purpose):
        version, key_id, body = (token.split(":", 2) + ["", ""])[:3]
        cipher = self._ciphers.get(key_id)
        if version != FORMAT or cipher is None:
            raise DataKeyError(f"a stored {purpose} was encrypted with a key that MODERATION_DATA_KEY does not hold")
        data = base64.urlsafe_b64decode(body.encode())
        try:
            return cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], purpose.encode()).decode("utf-8", "surrogatepass")
        except InvalidTag:
            raise DataKeyError(f"a stored {purpose} does not authenticate: it was altered or copied from elsewhere") from None

    def index(self, value, purpose):
        """A keyed hash for equality lookups: the same value gives the same index; the index gives nothing back."""
        return hmac.new(self._index_key, purpose.encode() + b"\0" + _encode(value), hashlib.sha256).hexdigest()


def init_app(app):
    app.extensions["privacy"] = Keyring(app.config["MODERATION_DATA_KEYS"])


def keyring():
    return current_app.extensions["privacy"]


def normal_email(email):
    return email.strip().lower()


def email_index(email):
    """The blind index every lookup by email uses (flood, duplicate, trusted, search, privacy requests)."""
    return keyring().index(normal_email(email), "email") if email else None


class _NotComparable(sa.types.TypeDecorator.Comparator):
    """Each encryption of a value differs, so SQL equality on ciphertext would silently match nothing."""

    def operate(self, op, *other, **kwargs):
        # The ORM compares columns with columns internally; only a comparison with a value is refused.
        if op in (operators.is_, operators.is_not) or all(isinstance(o, ClauseElement) for o in other):
            return super().operate(op, *other, **kwargs)
        raise TypeError("an encrypted column cannot be compared with a value in SQL: compare its blind index")


class Encrypted(sa.types.TypeDecorator):
    """Text sealed with the current data key on the way in, opened on the way out."""

    impl = sa.Text
    cache_ok = True
    comparator_factory = _NotComparable

    def __init__(self, purpose):
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value, dialect):
        return None if value is None else keyring().encrypt(self.dump(value), self.purpose)

    def process_result_value(self, value, dialect):
        return None if value is None else self.load(keyring().decrypt(value, self.purpose))

    def dump(self, value):
        return str(value)

    def load(self, text):
        return text


class EncryptedJSON(Encrypted):
    """A JSON document sealed like Encrypted text."""

    def dump(self, value):
        return json.dumps(value, separators=(",", ":"))

    def load(self, text):
        return json.loads(text)


def ip_index(ip):
    """The blind index of an address as normalised (IPv4-mapped IPv6 as IPv4), for search and bans."""
    ip = normal_ip(ip)
    return keyring().index(ip, "ip") if ip else None
