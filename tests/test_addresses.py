"""Addresses as the checks and moderators see them: read from what a proxy forwards, grouped, truncated, masked."""
import pytest

from moderation.privacy.addresses import masked_email, normal_ip, same_address_key, truncated_ip


@pytest.mark.parametrize("raw, address", [
    ("192.0.2.1", "192.0.2.1"),
    (" 192.0.2.1\n", "192.0.2.1"),
    ("192.0.2.1:5555", "192.0.2.1"),
    ("[2001:db8::1]:5555", "2001:db8::1"),
    ("[2001:db8::1]", "2001:db8::1"),
    ("2001:DB8:0::1", "2001:db8::1"),
    ("fe80::1%eth0", "fe80::1"),
    ("[fe80::1%eth0]:80", "fe80::1"),
    ("fe80::1%eth0%2", "fe80::1"),
    ("::ffff:192.0.2.1", "192.0.2.1"),
    ("[::ffff:192.0.2.1]:443", "192.0.2.1"),
    ("unknown", None),
    ("192.0.2.1:port", None),
    ("", None),
    (None, None),
])
def test_an_address_is_read_the_way_proxies_forward_it(raw, address):
    assert normal_ip(raw) == address


@pytest.mark.parametrize("raw, key", [
    ("192.0.2.1", "192.0.2.1/32"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("[2001:db8:1:2:ffff::9]:80", "2001:db8:1:2::/64"),
    ("garbage", "unreadable address"),
    (None, "unreadable address"),
])
def test_flood_checks_count_one_ipv6_subscriber_as_one_address(raw, key):
    assert same_address_key(raw) == key


@pytest.mark.parametrize("raw, kept", [
    ("192.0.2.201", "192.0.2.0"),
    ("::ffff:198.51.100.7", "198.51.100.0"),
    ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
    ("not an address", None),
])
def test_a_decided_comment_keeps_only_the_network(raw, kept):
    assert truncated_ip(raw) == kept


@pytest.mark.parametrize("email, shown", [
    ("jane.doe@example.org", "j•••@example.org"),
    ("a@b@example.org", "a•••@example.org"),
    ("@example.org", "•••"),
    ("no-at-sign", "•••"),
    ("", ""),
    (None, ""),
])
def test_moderators_see_an_email_masked_to_its_first_letter_and_domain(email, shown):
    assert masked_email(email) == shown
