"""IP addresses and emails as moderators and the checks may see them: normalised, truncated, masked."""
import ipaddress

# After a decision an address is kept only to this prefix: enough to spot a network, not a household.
KEPT_PREFIX = {4: 24, 6: 48}
# Flood checks and bans treat one IPv6 /64 (one subscriber, usually) as one address.
SAME_ADDRESS_PREFIX = {4: 32, 6: 64}
MASK = "•••"


def normal_ip(raw):
    """The canonical text of an IP address, IPv4-mapped IPv6 as IPv4; None for anything that is not one."""
    try:
        address = ipaddress.ip_address((raw or "").strip().split("%", 1)[0])
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def _network(ip, prefixes):
    address = ipaddress.ip_address(ip)
    return ipaddress.ip_network(f"{address}/{prefixes[address.version]}", strict=False)


def same_address_key(ip):
    """What flood checks and rate limits count by: the address, or its /64 for IPv6."""
    ip = normal_ip(ip)
    return str(_network(ip, SAME_ADDRESS_PREFIX)) if ip else None


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
