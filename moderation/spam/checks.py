"""The rule checks: each looks at one comment and may return a finding a moderator can read."""
import functools
import ipaddress
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Comment
from ..privacy.addresses import normal_ip
from ..privacy.crypto import normal_email

URL_PATTERN = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
# Enough earlier copies to find the author's own among them; a text copied more often is held either way.
DUPLICATES_LOOKED_AT = 50
# One DNS label in ASCII; a top-level domain is never all digits (that would be an IP address).
LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
DOMAIN_MAX = 253


@dataclass(frozen=True)
class Finding:
    """What one check found: `verdict` is "spam" or "hold"; `reason` is shown to moderators."""

    verdict: str
    score: float
    reason: str
    # A firm finding (honeypot, blocked word, blocked entry) stands even for an author on a trusted list.
    firm: bool = False
    # Who found it, for the metrics' verdicts by checker: the site's rules, the model or Akismet.
    checker: str = "rules"


def count_links(comment):
    return len(URL_PATTERN.findall(comment.body)) + comment.body.lower().count("<a ")


def link_limit(comment, settings):
    links, limit = count_links(comment), settings["link_limit"]
    if links > limit:
        return Finding("hold", 0.5, f"{links} links, the limit is {limit}")
    return None


def _fields(comment):
    return {
        "content": comment.body,
        "name": comment.author_name,
        "email": comment.author_email,
        "website": comment.author_url or "",
        "IP": comment.author_ip or "",
        "user agent": comment.user_agent or "",
    }


def _word_in(words, comment):
    for where, text in _fields(comment).items():
        lowered = text.lower()
        for word in words:
            if word and word.lower() in lowered:
                return word, where
    return None


def blocked_words(comment, settings):
    found = _word_in(settings["blocked_words"], comment)
    return Finding("spam", 1.0, f"blocked word {found[0]!r} in the {found[1]}", firm=True) if found else None


def hold_words(comment, settings):
    found = _word_in(settings["hold_words"], comment)
    return Finding("hold", 0.5, f"moderation word {found[0]!r} in the {found[1]}") if found else None


def honeypot(comment, settings):
    if comment.honeypot:
        return Finding("spam", 1.0, "the hidden field that only robots see was filled in", firm=True)
    return None


def _same_author(row, comment):
    return any(mine is not None and mine == theirs for mine, theirs in (
        (comment.email_hash, row.email_hash), (comment.reader_hash, row.reader_hash), (comment.ip_hash, row.ip_hash)))


def duplicate(comment, settings):
    """Spam when the same author repeats a text on an article; held when someone else's text is copied.

    Either way the comment is not published and its author sees it awaiting moderation, so posting
    a copy of a public comment under a guessed email tells nothing about whose email it is.
    """
    earlier = db.session.execute(
        sa.select(Comment.id, Comment.email_hash, Comment.reader_hash, Comment.ip_hash).where(
            Comment.thread_id == comment.thread_id, Comment.body == comment.body, Comment.id < comment.id,
        ).order_by(Comment.id).limit(DUPLICATES_LOOKED_AT)
    ).all()
    if not earlier:
        return None
    mine = next((row.id for row in earlier if _same_author(row, comment)), None)
    if mine is not None:
        return Finding("spam", 1.0, f"duplicate of comment {mine} by the same author on this article")
    return Finding("hold", 0.5, f"the same text as comment {earlier[0].id} on this article, by someone else")


def email_flood(comment, settings):
    """The form's flood check counts addresses only (counting emails would tell who posted); this one counts emails."""
    interval = current_app.config["MODERATION_FLOOD_INTERVAL"]
    if not (interval and comment.email_hash):
        return None
    recent = db.session.scalar(sa.select(sa.func.count()).where(
        Comment.email_hash == comment.email_hash, Comment.id != comment.id,
        Comment.created_at.between(comment.created_at - timedelta(seconds=interval), comment.created_at)))
    if recent:
        return Finding("hold", 0.5, f"{recent + 1} comments from the same email address within {interval} s")
    return None


def too_fast(comment, settings):
    """A person reads the article and types; a script posts the form the moment it has it."""
    least = settings["min_form_seconds"]
    if comment.form_seconds is not None and comment.form_seconds < least:
        return Finding("hold", 0.5, f"form sent {comment.form_seconds:.1f} s after the page was opened (a person takes at least {least:g} s)")
    return None


def normal_domain(text):
    """A domain as the lists and checks compare it: ASCII (IDNA), lower case, no final dot; None if it is not one."""
    text = (text or "").strip().rstrip(".")
    try:
        name = text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = name.split(".")
    if len(name) > DOMAIN_MAX or not all(LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        return None
    return name


def email_key(email):
    """An email as the lists compare it: normalised, its domain in ASCII (IDNA)."""
    local, _, domain = normal_email(email or "").rpartition("@")
    return f"{local}@{normal_domain(domain) or domain}" if local else None


IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def network_key(text):
    """An address or a CIDR network as the lists keep it (`192.0.2.0/24`, `2001:db8::1`); None if it is neither."""
    address = normal_ip(text)
    if address:
        return address
    try:
        network = ipaddress.ip_network((text or "").strip(), strict=False)
    except ValueError:
        return None
    # `::ffff:203.0.113.0/120` is an IPv4 network written as IPv6; comments' addresses are kept as IPv4.
    if network.version == 6 and network.subnet_of(IPV4_MAPPED):
        return str(ipaddress.ip_network((int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96)))
    return str(network)


@functools.lru_cache(maxsize=32)
def _networks(entries):
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _in_networks(ip, entries):
    ip = normal_ip(ip)
    if not (ip and entries):
        return False
    address = ipaddress.ip_address(ip)
    return any(address in network for network in _networks(entries))


def _listed_domain(domain, entries):
    """The entry that is this domain or one of its parents (`example.net` lists `mail.example.net`), or None."""
    if not (domain and entries):
        return None
    labels, wanted = domain.split("."), set(entries)
    return next((parent for i in range(len(labels)) if (parent := ".".join(labels[i:])) in wanted), None)


def _website_domain(comment):
    try:
        return normal_domain(urlsplit(comment.author_url or "").hostname)
    except ValueError:
        return None


def listed(comment, settings, kind, with_website):
    """Why the comment's email, its domain (or the website's), or its IP is on the `kind` lists, or None.

    A blocked domain is named in the reason ("blocked domain example.net"); an email or an address never is:
    reasons are shown and kept in the open.
    """
    email = email_key(comment.author_email)
    if email and email in settings[f"{kind}_emails"]:
        return f"{kind} email"
    domains = [email.rpartition("@")[2] if email else None] + ([_website_domain(comment)] if with_website else [])
    for domain in domains:
        if found := _listed_domain(domain, settings[f"{kind}_domains"]):
            return f"{kind} domain {found}" if kind == "blocked" else f"{kind} domain"
    return f"{kind} IP" if _in_networks(comment.author_ip, settings[f"{kind}_ips"]) else None


def blocked_entries(comment, settings):
    """The administrator's blocked emails, domains (the email's or the website's) and networks."""
    reason = listed(comment, settings, "blocked", with_website=True)
    return Finding("spam", 1.0, reason, firm=True) if reason else None


def trusted_entry(comment, settings):
    """The reason ("trusted email", "trusted domain" or "trusted IP") when the author is on a trusted list, else None.

    Only the email's domain counts for trust: anyone can type a website.
    """
    return listed(comment, settings, "trusted", with_website=False)


CHECKS = (honeypot, blocked_words, blocked_entries, duplicate, email_flood, hold_words, link_limit, too_fast)


def run_checks(comment, settings):
    return [finding for check in CHECKS if (finding := check(comment, settings)) is not None]
