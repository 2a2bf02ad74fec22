"""Webhook signatures as the Standard Webhooks specification has them (standardwebhooks.com).

Three headers: `webhook-id` (the delivery's id, the same on every try, so a receiver can drop a repeat),
`webhook-timestamp` (Unix seconds of this try, so it can refuse an old one) and `webhook-signature`
(`v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`). The secret is `whsec_` and 32 random bytes in
base64, the key being those bytes: the spec's libraries, in many languages, verify it as it is.
"""
import base64
import hashlib
import hmac
import secrets
import time

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret():
    """A fresh signing secret, shown once to the administrator and kept encrypted."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret, message_id, timestamp, body):
    """The `webhook-signature` value for `body` (bytes) sent as `message_id` at `timestamp` (Unix seconds)."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secret, message_id, body, now=None):
    """The three signature headers of one try, stamped with the time of that try."""
    timestamp = int(time.time() if now is None else now)
    return {"webhook-id": str(message_id), "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, message_id, timestamp, body)}
