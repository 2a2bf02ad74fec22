"""The data keys across releases and rotations: what one release sealed or indexed, the next still opens and finds."""
import base64

import pytest
import sqlalchemy as sa

from moderation.extensions import db
from moderation.models import Comment
from moderation.privacy.avatars import avatar_token
from moderation.privacy.crypto import DataKeyError, Keyring, email_index, ip_index
from tests import factories

KEY = base64.urlsafe_b64encode(b"release-compatibility-key-A-32by").decode()
NEXT_KEY = base64.urlsafe_b64encode(b"release-compatibility-key-B-32by").decode()
# Recorded with KEY by an earlier release: a database written then must still open and be searchable now.
SEALED_EMAIL = "v1:70560e92:6XVIUyxF1MltQ4J1xbqTE2VtfV8rHywT7eecojOO0ldZpUWka341UHb5yaRBlQ=="
EMAIL_INDEX = "8db3d17174b334de2a67c498cafa73e914c855e841567dc7f988d0dfbf0bf46d"
IP_INDEX = "619d8b664450a8d5cd759e81cb3962830da864ae22d9a36741da5cb6c99cc5a6"
AVATAR = "220497baa10e22a6"


def test_a_value_sealed_by_an_earlier_release_still_opens_and_only_for_its_column():
    keyring = Keyring([KEY])
    assert keyring.decrypt(SEALED_EMAIL, "email") == "reader@example.org"
    with pytest.raises(DataKeyError, match="^a stored ip does not authenticate: it was altered or copied from elsewhere$"):
        keyring.decrypt(SEALED_EMAIL, "ip")


def test_blind_indexes_are_the_same_from_one_release_to_the_next():
    keyring = Keyring([KEY])
    assert keyring.index("reader@example.org", "email") == EMAIL_INDEX
    assert keyring.index("192.0.2.1", "ip") == IP_INDEX


def test_the_app_indexes_emails_and_addresses_as_normalised(make_app):
    with make_app(MODERATION_DATA_KEYS=(KEY,)).app_context():
        assert email_index(" Reader@Example.ORG ") == EMAIL_INDEX
        assert ip_index("::ffff:192.0.2.1") == ip_index("192.0.2.1") == IP_INDEX
        assert (email_index(""), ip_index("not an address")) == (None, None)


def test_a_readers_avatar_survives_an_upgrade(make_app):
    with make_app(MODERATION_DATA_KEYS=(KEY,)).app_context():
        comment = factories.make_comment(factories.make_thread(), "approved", email="reader@example.org")
        assert avatar_token(comment) == AVATAR


def test_during_a_rotation_old_values_open_new_ones_are_sealed_with_the_first_key_and_indexes_follow_it():
    rotating = Keyring([NEXT_KEY, KEY])
    assert rotating.decrypt(SEALED_EMAIL, "email") == "reader@example.org"
    resealed = rotating.encrypt("reader@example.org", "email")
    assert resealed.split(":")[:2] == ["v1", Keyring([NEXT_KEY]).current_id] and resealed != SEALED_EMAIL
    assert Keyring([NEXT_KEY]).decrypt(resealed, "email") == "reader@example.org"
    assert rotating.index("reader@example.org", "email") == Keyring([NEXT_KEY]).index("reader@example.org", "email")
    assert rotating.index("reader@example.org", "email") != EMAIL_INDEX


@pytest.mark.parametrize("token", [SEALED_EMAIL.replace("v1:", "v2:"), SEALED_EMAIL.replace("70560e92", "00000000"),
                                   "garbage"])
def test_a_value_from_an_unknown_key_or_format_names_the_setting_to_fix(token):
    message = "^a stored email was encrypted with a key that MODERATION_DATA_KEY does not hold$"
    with pytest.raises(DataKeyError, match=message):
        Keyring([NEXT_KEY]).decrypt(token, "email")


def test_text_a_form_could_never_send_is_kept_rather_than_lost():
    keyring = Keyring([KEY])
    odd = "half a pair \ud83d and an emoji \U0001f600"
    assert keyring.decrypt(keyring.encrypt(odd, "user agent"), "user agent") == odd
    assert keyring.index(odd, "email") != keyring.index("half a pair  and an emoji \U0001f600", "email")


def test_the_akismet_payload_round_trips_as_json(app, thread):
    payload = {"sent": {"comment_content": "Ünïcode, quotes \" and commas, ok"}, "verdict": "ham", "reported": False}
    comment = factories.make_comment(thread, "held", akismet_payload=payload)
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).akismet_payload == payload


def test_an_encrypted_column_may_be_tested_for_null_and_compared_with_another_column(app, thread):
    factories.make_comment(thread, "held", author_ip=None)
    assert db.session.scalar(sa.select(sa.func.count()).where(Comment.author_ip.is_(None))) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(Comment.author_ip.is_not(None))) == 0
    assert db.session.scalar(sa.select(sa.func.count()).where(Comment.author_email == Comment.__table__.c.author_email)) == 1
    message = "^an encrypted column cannot be compared with a value in SQL: compare its blind index$"
    with pytest.raises(TypeError, match=message):
        sa.select(Comment).where(Comment.author_ip != "192.0.2.1")
