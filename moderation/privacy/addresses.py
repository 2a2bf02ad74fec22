"""IP addresses and emails as moderators and the checks may see them: normalised, truncated, masked."""
import ipaddress
import re

# After a decision an address is kept only to this prefix: enough to spot a network, not a household.
KEPT_PREFIX = {4: 24, 6: 48}
# Flood checks and bans treat one IPv6 /64 (one subscriber, usually) as one address.
SAME_ADDRESS_PREFIX = {4: 32, 6: 64}
MASK = "•••"
WITH_PORT = re.compile(r"\[([0-9A-Fa-f:.%\w]+)\](?::\d{1,5})?|(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")
# Requests whose address cannot be read (a proxy forwarding something else) share one gate and one counter.
UNREADABLE = "unreadable address"


def normal_ip(raw):
    """The canonical text of an IP address, IPv4-mapped IPv6 as IPv4; None for anything that is not one.

    Some proxies forward `192.0.2.1:5555` or `[2001:db8::1]:5555`: the port is not part of the address.
    """
    text = (raw or "").strip()
    bracketed = WITH_PORT.fullmatch(text)
    if bracketed:
        text = bracketed.group(1) or bracketed.group(2)
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def _network(ip, prefixes):
    address = ipaddress.ip_address(ip)
    return ipaddress.ip_network(f"{address}/{prefixes[address.version]}", strict=False)


def same_address_key(ip):
    """What flood checks and rate limits count by: the address, or its /64 for IPv6.

    Anything that is not an address counts as one and the same: sending garbage in place of an
    address must not give a client a fresh allowance each time.
    """
    ip = normal_ip(ip)
    return str(_network(ip, SAME_ADDRESS_PREFIX)) if ip else UNREADABLE


def truncated_ip(ip):
    """The address with its host part zeroed (/24, /48), as it is kept once a comment is decided."""
    ip = normal_ip(ip)
    return str(_network(ip, KEPT_PREFIX).network_address) if ip else None


def masked_email(email):
    """`j•••@example.org`: enough for a moderator to tell addresses apart, not to write to one."""
    if not email:
        return ""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}{MASK}@{domain}" if local else MASK
